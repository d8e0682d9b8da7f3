// The power keys checked against each other and against the credentials folder, before anything
// binds: a bmc_* key that does not fit its bmc, a BMC without credentials, a credentials file
// others may read (with the chmod that fixes it).
import type { Profile } from '../config/profile.ts';
import { parseBmc, type BmcKind } from './bmc-url.ts';
import { readCredentials, unsafeCredentialFiles } from './credentials.ts';

export interface PowerProblem {
  section: string;
  key: string;
  value: string;
  message: string;
}

/** Which bmc kind each optional key belongs to. */
const KEY_KIND: Record<string, BmcKind> = {
  bmc_cipher_suite: 'ipmi',
  bmc_privilege: 'ipmi',
  bmc_system: 'redfish',
  bmc_tls_fingerprint: 'redfish',
};

/** `offline`: the profile is read for its files only (explain), so the credentials folder is not consulted. */
export function powerProblems(p: Profile, offline: boolean): PowerProblem[] {
  const problems: PowerProblem[] = [];
  let needsCredentials = false;
  for (const host of p.hosts.values()) {
    const section = `host ${host.mac}`;
    const parsed = host.bmc ? parseBmc(host.bmc) : null;
    const kind = parsed?.ok ? parsed.value.kind : null;
    for (const [key, wants] of Object.entries(KEY_KIND)) {
      if (!(key in host.vars)) continue;
      if (!host.bmc) problems.push({ section, key, value: host.vars[key]!, message: `needs a bmc = ${wants}://… in this section` });
      else if (kind !== null && kind !== wants)
        problems.push({ section, key, value: host.vars[key]!, message: `applies to bmc = ${wants}://…, not to bmc = ${host.bmc}` });
    }
    if (offline || !parsed?.ok || parsed.value.kind === 'wol') continue;
    needsCredentials = true;
    const creds = readCredentials(p.power.credentialsDir, parsed.value);
    // A file others may read is reported once below, for the whole folder.
    if (!creds.ok && !creds.error.includes('chmod 600')) problems.push({ section, key: 'bmc', value: host.bmc!, message: creds.error });
  }
  if (needsCredentials) {
    for (const { file, mode } of unsafeCredentialFiles(p.power.credentialsDir)) {
      problems.push({
        section: 'power',
        key: 'credentials_dir',
        value: p.power.credentialsDir,
        message: `${file} is readable by other users (mode ${mode.toString(8)}); it holds a BMC password: chmod 600 ${file}`,
      });
    }
  }
  return problems;
}
