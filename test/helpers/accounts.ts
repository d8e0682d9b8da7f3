// System accounts a test needs (a daemon that switches to one, a file it may not read), created
// with useradd and removed afterwards, account and group, also when the test fails. An account
// that was already there is used as it is and left alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { waitFor } from './netns.ts';

export interface TestAccount {
  name: string;
  uid: number;
  gid: number;
  /** Whether this test made it (and so removes it). */
  created: boolean;
  /** Removes what this test made: waits for the account's processes to end first (userdel refuses otherwise). */
  remove: () => Promise<void>;
}

function lookup(db: 'passwd' | 'group', name: string): string[] | null {
  const r = spawnSync('getent', [db, name], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(':') : null;
}

/** The pids of processes whose real, effective or saved uid is `uid`. */
export function processesOf(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${entry}/status`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const ids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    if (ids && ids.slice(1, 4).map(Number).includes(uid)) pids.push(Number(entry));
  }
  return pids;
}

/** A fresh name for a throw-away account, e.g. pxp-t3f9a1c2. */
export function throwAwayName(): string {
  return `pxp-t${randomBytes(4).toString('hex')}`;
}

/** `name` as a system account with its own group: created now, or the one already there. */
export function systemAccount(name: string): TestAccount {
  const existed = lookup('passwd', name) !== null;
  const groupExisted = lookup('group', name) !== null;
  if (!existed) {
    execFileSync('useradd', ['--system', ...(groupExisted ? ['--gid', name] : ['--user-group']), '--no-create-home', '--shell', '/usr/sbin/nologin', name], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  const entry = lookup('passwd', name);
  if (!entry) throw new Error(`useradd ${name} made no account`);
  const uid = Number(entry[2]);
  const gid = Number(entry[3]);
  const remove = async (): Promise<void> => {
    if (existed) return;
    await waitFor(`the processes of ${name} (uid ${uid}) to end`, () => processesOf(uid).length === 0, 15_000, 100);
    if (lookup('passwd', name)) execFileSync('userdel', [name], { stdio: ['ignore', 'ignore', 'pipe'] });
    // userdel removes a same-named primary group itself where login.defs says USERGROUPS_ENAB yes.
    if (!groupExisted && lookup('group', name)) execFileSync('groupdel', [name], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (lookup('passwd', name) || (!groupExisted && lookup('group', name))) throw new Error(`could not remove the test account ${name}`);
  };
  return { name, uid, gid, created: !existed, remove };
}
