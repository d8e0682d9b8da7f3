// Whether the daemon's account may read a path, and how to say so when it may not. A file that
// exists but is closed to the account is reported as that, naming the path, the account and the
// errno, never as a missing file: "cannot read …/vmlinuz as pxe-pilot (EACCES): give that
// account read access".
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Account } from './privileges.ts';

/** What the daemon does with a path: read a file, list and enter a folder, or keep its state there. */
export type AccessNeed = 'file' | 'folder' | 'state folder' | 'state file';

export interface AccessCheck {
  path: string;
  need: AccessNeed;
}

/** A path that exists but that the account may not use. */
export interface Denial {
  path: string;
  need: AccessNeed;
  /** EACCES (mode bits, ACLs) or EPERM (a security module, an immutable file). */
  code: string;
  /** The first folder on the way that the account cannot enter, when that is the cause. */
  blockedAt?: string;
}

/** Errors that mean "it is there, but not for this account". */
export function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}

let cachedName: { uid: number; name: string } | null = null;

/** The account this process runs as now (it changes once, after binding, when [server] user names one). */
export function currentAccountName(): string {
  const uid = process.getuid?.() ?? -1;
  if (cachedName?.uid !== uid) {
    let name: string;
    try {
      name = userInfo().username;
    } catch {
      name = `uid ${uid}`;
    }
    cachedName = { uid, name };
  }
  return cachedName.name;
}

const VERB: Record<AccessNeed, string> = { file: 'read', folder: 'read', 'state folder': 'read and write', 'state file': 'read and write' };

/** "cannot read /x/vmlinuz as pxe-pilot (EACCES): give that account read access (it cannot enter /x)". */
export function describeDenial(denial: Denial, account: string = currentAccountName()): string {
  const verb = VERB[denial.need];
  const where = denial.blockedAt ? ` (it cannot enter ${denial.blockedAt})` : '';
  return `cannot ${verb} ${denial.path} as ${account} (${denial.code}): give that account ${verb} access${where}`;
}

/** The message for an error this process got using `path`, or null when the error is not about permissions. */
export function cannotRead(path: string, err: unknown, need: AccessNeed = 'file'): string | null {
  if (!isPermissionError(err)) return null;
  return describeDenial({ path, need, code: (err as NodeJS.ErrnoException).code!, ...blockedAtHere(path) });
}

const MODE: Record<AccessNeed, number> = {
  file: constants.R_OK,
  folder: constants.R_OK | constants.X_OK,
  'state folder': constants.R_OK | constants.W_OK | constants.X_OK,
  'state file': constants.R_OK | constants.W_OK,
};

function blockedAtHere(path: string): { blockedAt?: string } {
  const full = resolve(path);
  const folders: string[] = [];
  for (let d = dirname(full); ; d = dirname(d)) {
    folders.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const folder of folders) {
    try {
      accessSync(folder, constants.X_OK);
    } catch (err) {
      if (isPermissionError(err)) return { blockedAt: folder };
      return {};
    }
  }
  return {};
}

/** Why this process may not use `check.path`; null when it may, or when the path does not exist. */
export function denialHere(check: AccessCheck): Denial | null {
  try {
    accessSync(check.path, MODE[check.need]);
    return null;
  } catch (err) {
    if (!isPermissionError(err)) return null;
    return { ...check, code: (err as NodeJS.ErrnoException).code!, ...blockedAtHere(check.path) };
  }
}

/**
 * The same checks as `denialHere`, run by a child process with the account's uid and gid (libuv
 * drops every supplementary group first, as the daemon's own switch does): the kernel answers,
 * ACLs and security modules included, exactly as it will for the daemon. Plain JavaScript on the
 * command line, so the account needs no access to pxe-pilot's own files.
 */
const CHILD_SCRIPT = `
const fs = require('node:fs'), path = require('node:path');
const { R_OK, W_OK, X_OK } = fs.constants;
const MODE = { file: R_OK, folder: R_OK | X_OK, 'state folder': R_OK | W_OK | X_OK, 'state file': R_OK | W_OK };
const denied = (err) => err && (err.code === 'EACCES' || err.code === 'EPERM');
const blockedAt = (p) => {
  const folders = [];
  for (let d = path.dirname(path.resolve(p)); ; d = path.dirname(d)) { folders.unshift(d); if (path.dirname(d) === d) break; }
  for (const f of folders) { try { fs.accessSync(f, fs.constants.X_OK); } catch (err) { return denied(err) ? { blockedAt: f } : {}; } }
  return {};
};
const out = [];
for (const check of JSON.parse(fs.readFileSync(0, 'utf8'))) {
  try { fs.accessSync(check.path, MODE[check.need]); } catch (err) { if (denied(err)) out.push({ ...check, code: err.code, ...blockedAt(check.path) }); }
}
process.stdout.write(JSON.stringify(out));
`;

/** Denials for `account`, checked by a child process running as it; throws when that child cannot run. */
export function denialsAs(account: Account, checks: readonly AccessCheck[]): Denial[] {
  if (checks.length === 0) return [];
  const run = spawnSync(process.execPath, ['-e', CHILD_SCRIPT], {
    uid: account.uid,
    gid: account.gid,
    cwd: '/',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    input: JSON.stringify(checks),
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.error) throw new Error(`cannot check access as ${account.name}: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`cannot check access as ${account.name}: ${run.stderr.trim().split('\n').pop() ?? `exit ${run.status}`}`);
  return JSON.parse(run.stdout) as Denial[];
}

/** Denials for whoever the daemon will run as: `account` when it will switch to one, else this process. */
export function denialsFor(account: Account | null, checks: readonly AccessCheck[]): Denial[] {
  if (!account || account.uid === (process.getuid?.() ?? -1)) return checks.map(denialHere).filter((d): d is Denial => d !== null);
  return denialsAs(account, checks);
}
