// BMC credentials: one file per BMC in [power] credentials_dir, named after its host (or
// host:port when the URL gives a port), `default` for the rest; lines `username = …`,
// `password = …`. They are read when a call needs them, never kept in the profile, and never
// written anywhere: messages name the file, not what is in it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { credentialsName, type IpmiTarget, type RedfishTarget, type Parsed } from './bmc-url.ts';

export interface Credentials {
  username: string;
  password: string;
}

export const DEFAULT_CREDENTIALS = 'default';

/** Parses a credentials file's text. Errors name the line, never its value. */
export function parseCredentials(text: string): Parsed<Credentials> {
  const found: Partial<Credentials> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(username|password)\s*=\s?(.*)$/.exec(line);
    if (!m) return { ok: false, error: `line ${i + 1}: expected "username = …" or "password = …"` };
    const key = m[1] as keyof Credentials;
    if (found[key] !== undefined) return { ok: false, error: `line ${i + 1}: a second ${key}` };
    // The value is everything after "= ", so a password may hold spaces or "=" (not at its ends).
    found[key] = m[2]!.trim();
  }
  if (!found.username) return { ok: false, error: 'no "username = …" line' };
  if (found.password === undefined || found.password === '') return { ok: false, error: 'no "password = …" line' };
  return { ok: true, value: { username: found.username, password: found.password } };
}

/** Group or other users may read or write the file (any bit of 077). */
export function unsafeMode(mode: number): boolean {
  return (mode & 0o077) !== 0;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The file that holds this BMC's credentials: its own, else `default`; null when neither exists. */
export function credentialsFile(dir: string, target: IpmiTarget | RedfishTarget): string | null {
  for (const name of [credentialsName(target), DEFAULT_CREDENTIALS]) {
    const file = join(dir, name);
    if (isFile(file)) return file;
  }
  return null;
}

export type CredentialsResult = { ok: true; value: Credentials; file: string } | { ok: false; error: string };

/** Reads the credentials for a BMC, refusing a file others may read. */
export function readCredentials(dir: string, target: IpmiTarget | RedfishTarget): CredentialsResult {
  const file = credentialsFile(dir, target);
  if (!file) return { ok: false, error: `no credentials: write ${join(dir, credentialsName(target))} (or ${join(dir, DEFAULT_CREDENTIALS)}), mode 600` };
  try {
    const mode = statSync(file).mode;
    if (unsafeMode(mode)) return { ok: false, error: `${file} is readable by other users (mode ${(mode & 0o777).toString(8)}): chmod 600 ${file}` };
    const parsed = parseCredentials(readFileSync(file, 'utf8'));
    return parsed.ok ? { ok: true, value: parsed.value, file } : { ok: false, error: `${file}: ${parsed.error}` };
  } catch (err) {
    return { ok: false, error: `${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
}

/** Every file in the folder that others may read, with the chmod that fixes it. */
export function unsafeCredentialFiles(dir: string): { file: string; mode: number }[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { file: string; mode: number }[] = [];
  for (const name of names.sort()) {
    const file = join(dir, name);
    try {
      const st = statSync(file);
      if (st.isFile() && unsafeMode(st.mode)) out.push({ file, mode: st.mode & 0o777 });
    } catch {
      /* vanished meanwhile */
    }
  }
  return out;
}
