// BMC users the inspection agent creates in-band (`[power] create_bmc_user`, an enrolment with
// createBmcUser): what the agent posts to /agent/<mac>/bmc-user, and the credentials file the
// daemon writes from it. The password goes to that file only: never to a message, event or log.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { credentialsName, formatBmc, parseBmc } from './bmc-url.ts';

/** What the agent reports: the user it created, or why it could not. */
export type CreatedBmcUser =
  | { ok: true; username: string; password: string; ip: string; port: number | null; channel: number | null; userId: number | null }
  | { ok: false; error: string };

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** An IPMI user name: at most 16 bytes; no spaces, so the credentials file reads it back whole. */
const USERNAME = /^[A-Za-z0-9._-]{1,16}$/;
/** Printable ASCII without spaces, 8 to 20 bytes (IPMI 2.0's limit); the file's `password = …` keeps it as is. */
const PASSWORD = /^[\x21-\x7e]{8,20}$/;
const KEYS = ['username', 'password', 'ip', 'port', 'channel', 'userId', 'error'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalWhole(v: unknown, min: number, max: number): number | null | undefined {
  if (v === undefined || v === null) return null;
  return Number.isInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : undefined;
}

/**
 * The body of POST /agent/<mac>/bmc-user, or why not. Pure and total; a refusal names the field,
 * never the password's value.
 */
export function parseCreatedBmcUser(body: unknown): { ok: true; value: CreatedBmcUser } | { ok: false; error: string } {
  const no = (error: string) => ({ ok: false as const, error: `bmc-user: ${error}` });
  if (!isObject(body)) return no('expected a JSON object {"username", "password", "ip"} or {"error"}');
  const unknown = Object.keys(body).filter((k) => !KEYS.includes(k));
  if (unknown.length) return no(`unknown key ${unknown.map((k) => JSON.stringify(k).slice(0, 40)).join(', ')}; expected ${KEYS.join(', ')}`);
  if (body.error !== undefined) {
    if (Object.keys(body).length !== 1) return no('"error" comes alone');
    if (typeof body.error !== 'string' || body.error.trim() === '') return no('error must be a non-empty string');
    // The agent's words go into an event: printable, bounded.
    return {
      ok: true,
      value: {
        ok: false,
        error: body.error
          .replace(/[\x00-\x1f\x7f]/g, ' ')
          .trim()
          .slice(0, 300),
      },
    };
  }
  const { username, password, ip } = body;
  if (typeof username !== 'string' || !USERNAME.test(username)) return no('username must be 1 to 16 of A-Z a-z 0-9 . _ -');
  if (typeof password !== 'string' || !PASSWORD.test(password)) return no('password must be 8 to 20 printable ASCII characters without spaces');
  if (typeof ip !== 'string' || !IPV4.test(ip) || ip === '0.0.0.0' || ip === '255.255.255.255') return no("ip must be the BMC's IPv4 address");
  const port = optionalWhole(body.port, 1, 65535);
  if (port === undefined) return no('port must be a whole number from 1 to 65535');
  const channel = optionalWhole(body.channel, 1, 15);
  if (channel === undefined) return no('channel must be a whole number from 1 to 15');
  const userId = optionalWhole(body.userId, 1, 63);
  if (userId === undefined) return no('userId must be a whole number from 1 to 63');
  return { ok: true, value: { ok: true, username, password, ip, port, channel, userId } };
}

/** The BMC URL an enrolment gets for the created user: ipmi://IP, with :PORT when not 623. */
export function createdBmcUrl(ip: string, port: number | null): string {
  const parsed = parseBmc(port === null || port === 623 ? `ipmi://${ip}` : `ipmi://${ip}:${port}`);
  if (!parsed.ok) throw new Error(`created BMC URL: ${parsed.error}`);
  return formatBmc(parsed.value);
}

/** The credentials file's name for that URL (the host, or host:port), as src/power/credentials.ts looks it up. */
export function createdCredentialsName(bmcUrl: string): string {
  const parsed = parseBmc(bmcUrl);
  if (!parsed.ok || parsed.value.kind !== 'ipmi') throw new Error(`not an IPMI URL: ${bmcUrl}`);
  return credentialsName(parsed.value);
}

/** The credentials file's text. */
export function credentialsText(username: string, password: string, note: string): string {
  return `# ${note.replace(/[\r\n]/g, ' ')}\nusername = ${username}\npassword = ${password}\n`;
}

/**
 * Writes `name` in `dir` atomically and readable by this process's user only: a temporary file
 * made with mode 600 (never wider, whatever the umask), synced, then renamed over the old one, so
 * a reader sees the old file or the whole new one. The folder is made (mode 700) when missing.
 */
export function writeCredentialsFile(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(temp, 'wx', 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(temp, file);
  } catch (err) {
    if (fd !== null) closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  // The rename is durable once the folder is synced.
  try {
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch {
    /* some file systems cannot sync a folder; the file itself is synced */
  }
  return file;
}
