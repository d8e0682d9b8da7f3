// check-config as the daemon will run: the files it must read (state folder, install images,
// answer files, TLS pair, BMC credentials), checked as the account it will run as. Root outside systemd with
// [server] user naming an account: that account, checked by a child process with its uid and
// gid (src/net/readable-as.ts says why). Anyone else (systemd's ExecStartPre runs as the unit's
// User=): this process.
import { readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { Profile } from '../config/profile.ts';
import { generatedPaths } from '../http/tls.ts';
import { currentFacts, planDrop, type Account } from '../net/privileges.ts';
import { currentAccountName, denialsAs, denialsFor, describeDenial, type AccessCheck, type Denial } from '../net/readable-as.ts';

/** Enough for any real image and answer tree; a runaway tree is not walked to the end. */
const MAX_CHECKS = 20_000;
/** [answers] dir's deepest layout: nocloud/<key>/user-data. */
const ANSWER_DEPTH = 3;

/** The account the daemon will switch to after binding, or null when it stays who starts it. */
export function daemonAccount(profile: Profile): Account | null {
  const plan = planDrop(profile.server.user, currentFacts());
  return plan.action === 'drop' ? plan.account : null;
}

function isInside(path: string, folder: string): boolean {
  const rel = relative(resolve(folder), resolve(path));
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep);
}

/** Folders and files under `dir`, folders before what they hold; what this process cannot list is left out. */
function walk(dir: string, depth: number, out: AccessCheck[]): void {
  if (out.length >= MAX_CHECKS) return;
  out.push({ path: dir, need: 'folder' });
  if (depth === 0) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (out.length >= MAX_CHECKS) return;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, depth - 1, out);
    else if (entry.isFile()) out.push({ path, need: 'file' });
  }
}

/** What the daemon reads, existing paths only (a missing one has its own warning). */
export function readChecks(profile: Profile): AccessCheck[] {
  const checks: AccessCheck[] = [
    { path: profile.server.stateDir, need: 'state folder' },
    { path: join(profile.server.stateDir, 'pxe-pilot.sqlite'), need: 'state file' },
  ];
  // <product>/<version>/<files>, as the catalogue and GET /assets/ read them.
  walk(profile.assets.dir, 3, checks);
  walk(profile.answers.dir, ANSWER_DEPTH, checks);
  // BMC passwords, one file per BMC, read when a machine's power is switched.
  if ([...profile.hosts.values()].some((h) => h.bmc)) walk(profile.power.credentialsDir, 1, checks);
  if (profile.https.enabled) {
    const pair = profile.https.cert ? { cert: profile.https.cert, key: profile.https.key } : generatedPaths(profile);
    checks.push({ path: pair.cert, need: 'file' }, { path: pair.key, need: 'file' });
  }
  return checks;
}

/**
 * Keeps the denials that will stand once the daemon runs: when it switches account it first
 * gives its state folder to that account, so inside that folder only a folder above it that the
 * account cannot enter still matters.
 */
function lasting(denials: Denial[], profile: Profile, account: Account | null): Denial[] {
  if (!account) return denials;
  const state = profile.server.stateDir;
  return denials.filter((d) => !isInside(d.path, state) || (d.blockedAt !== undefined && !isInside(d.blockedAt, state)));
}

/** Denials by what to fix: a closed folder once, with the paths it hides. */
function groupByCause(denials: Denial[]): { cause: string; first: Denial; more: number }[] {
  const groups = new Map<string, Denial[]>();
  for (const d of denials) {
    const cause = d.blockedAt ?? d.path;
    groups.set(cause, [...(groups.get(cause) ?? []), d]);
  }
  return [...groups.entries()].map(([cause, [first, ...rest]]) => ({ cause, first: first!, more: rest.length }));
}

const sameFor = (more: number, cause: string): string => (more ? `; the same for ${more} more path${more === 1 ? '' : 's'} under ${cause}` : '');

/** An install image the account cannot read: it would fail at the machine, so check-config refuses it. */
function imageError(profile: Profile, group: { cause: string; first: Denial; more: number }, account: string): string {
  const { first, cause, more } = group;
  const [product, version] = relative(resolve(profile.assets.dir), resolve(first.path)).split(sep);
  const image = product && version ? `${product}/${version}` : null;
  const what = image ? `${image} would fail to boot` : `no image under ${first.path} can boot`;
  // The folder to open: the one on the way that is closed, else the image's folder (or the path itself).
  const target = first.blockedAt ?? (image ? join(profile.assets.dir, image) : first.path);
  return `cannot read ${first.path} as ${account} (${first.code}): ${what}; chown -R ${account}: ${target}, or chmod -R a+rX ${target}${sameFor(more, cause)}`;
}

export interface Readability {
  /** Install images the account cannot read (an install would fail): check-config exits 2. */
  errors: string[];
  /** The state folder, answer files, the TLS pair and BMC credentials. */
  warnings: string[];
}

/** What the daemon's account may not read, as check-config reports it. */
export function readability(profile: Profile, account: Account | null = daemonAccount(profile)): Readability {
  const name = account?.name ?? currentAccountName();
  let denials: Denial[];
  try {
    denials = denialsFor(account, readChecks(profile));
  } catch (err) {
    return { errors: [], warnings: [`could not check what ${name} may read: ${(err as Error).message}`] };
  }
  const standing = lasting(denials, profile, account);
  const images = standing.filter((d) => isInside(d.path, profile.assets.dir));
  const others = standing.filter((d) => !isInside(d.path, profile.assets.dir));
  return {
    errors: groupByCause(images).map((group) => imageError(profile, group, name)),
    warnings: groupByCause(others).map((group) => describeDenial(group.first, name) + sameFor(group.more, group.cause)),
  };
}

/**
 * For `assets ls` run by root when the daemon switches account: the first path of each image
 * that account may not read, as the catalogue would say it once the daemon runs as it.
 */
export function imageDenialsFor(profile: Profile, account: Account, images: readonly string[]): Map<string, string> {
  const checks: AccessCheck[] = [];
  for (const image of images) walk(join(profile.assets.dir, image), 1, checks);
  const found = new Map<string, string>();
  for (const denial of lasting(denialsAs(account, checks), profile, account)) {
    const image = images.find((i) => isInside(denial.path, join(profile.assets.dir, i)));
    if (image && !found.has(image)) found.set(image, describeDenial(denial, account.name));
  }
  return found;
}
