// Started as root outside systemd (a shell, an init script, a container): bind every socket,
// then become an ordinary user. The systemd unit does the same with User= and two ambient
// capabilities; here switching user drops every capability, so what needs privileges later
// is opened before (the DHCP sockets, the other-server probe's port 68).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The account the Debian package's unit runs as; only ever suggested, never assumed. */
export const SUGGESTED_USER = 'pxe-pilot';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/** What to do, decided before anything binds. */
export type DropPlan = { action: 'stay'; why: string } | { action: 'drop'; account: Account } | { action: 'refuse'; message: string };

export interface PrivilegeFacts {
  uid: number;
  /** systemd sets INVOCATION_ID for the processes of a unit. */
  underSystemd: boolean;
  lookup: (name: string) => Account | null;
}

/** The passwd entry for `name` (NSS, via getent), or null. */
export function lookupAccount(name: string): Account | null {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
    const [login, , uid, gid] = line.split(':');
    if (!login || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return null;
    return { name: login, uid: Number(uid), gid: Number(gid) };
  } catch {
    return null;
  }
}

export function currentFacts(): PrivilegeFacts {
  return { uid: process.getuid?.() ?? -1, underSystemd: Boolean(process.env.INVOCATION_ID), lookup: lookupAccount };
}

/**
 * Root outside systemd switches to `[server] user` only when that key names an account: an
 * account that merely exists on the host (a package's leftover, another install) never makes a
 * daemon started from a checkout change who it is or who owns its state. A named user that
 * does not exist is a refusal; `user = root` is the operator's explicit choice. Empty: it stays
 * root with a warning, rather than refusing to start (a test machine, a first try by hand).
 */
export function planDrop(configuredUser: string, facts: PrivilegeFacts): DropPlan {
  if (facts.uid !== 0) return { action: 'stay', why: 'not started as root' };
  if (facts.underSystemd) return { action: 'stay', why: 'started by systemd, whose unit sets the user and capabilities' };
  if (configuredUser === 'root') return { action: 'stay', why: '[server] user = root: staying root as configured' };
  if (!configuredUser)
    return {
      action: 'stay',
      why: `running as root: [server] user is empty, so nothing switches account after binding; to run unprivileged, name one there (e.g. useradd --system ${SUGGESTED_USER}, then user = ${SUGGESTED_USER})`,
    };
  const account = facts.lookup(configuredUser);
  if (account && account.uid === 0)
    return { action: 'refuse', message: `[server] user = ${configuredUser} has uid 0: that is root under another name; name an ordinary account` };
  if (account) return { action: 'drop', account };
  return {
    action: 'refuse',
    message: `[server] user = ${configuredUser}: no such account on this host; create it (useradd --system ${configuredUser}) or fix the name`,
  };
}

/** Gives the state folder to the account, so the database and certificate stay writable after the switch. */
export function handOverStateDir(dir: string, account: Account): void {
  if (!existsSync(dir)) return;
  const walk = (path: string): void => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    chownSync(path, account.uid, account.gid);
    if (st.isDirectory()) for (const entry of readdirSync(path)) walk(join(path, entry));
  };
  walk(dir);
}

/** Switches user for good (groups, then gid, then uid) and checks that root cannot come back. */
export function switchUser(account: Account): void {
  // Only its primary group: no supplementary group of root's survives.
  process.setgroups?.([account.gid]);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  if (process.getuid?.() === 0 || process.geteuid?.() === 0) throw new Error(`still root after switching to ${account.name}`);
  let regained = false;
  try {
    process.setuid?.(0);
    regained = true;
  } catch {
    /* expected: an ordinary user cannot become root again */
  }
  if (regained) throw new Error(`could become root again after switching to ${account.name}; refusing to run`);
}

/** Runs the plan once every socket is bound; throws when the switch fails (the caller stops). */
export function dropAfterBind(plan: DropPlan, stateDir: string, log: { info: (msg: string) => void; warn: (msg: string) => void }): void {
  if (plan.action === 'stay') {
    if (plan.why.startsWith('running as root') || plan.why.includes('user = root')) log.warn(plan.why);
    return;
  }
  if (plan.action !== 'drop') return;
  handOverStateDir(stateDir, plan.account);
  switchUser(plan.account);
  log.info(
    `bound every socket as root, now running as ${plan.account.name} (uid ${plan.account.uid}) with no capabilities; a reload that moves a service to a privileged port needs a restart`,
  );
}
