// What is under [assets] dir, as `assets ls`, `assets verify`, `assets rm`, check-config and
// GET /assets.json see it. Reads files; never changes one except in removeImage.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Profile } from '../config/profile.ts';
import type { ImageIntegrity } from '../boot/catalogue.ts';
import { productDisplayName } from '../boot/products.ts';
import { scanAssetFolders, scanAssets } from './catalogue-scan.ts';
import { badInput } from './errors.ts';
import { filesUnder } from './layout.ts';
import { hashFile, parseImageManifest, parseSha256Sums } from './manifest.ts';
import type { Progress } from './progress.ts';

export interface ImageRow {
  profile: string;
  /** install: a kernel and initrd a machine boots; disk-image: written onto a disk by the agent. */
  kind: 'install' | 'disk-image';
  product: string;
  displayName: string;
  version: string;
  /** Bytes of every file in the folder. */
  size: number;
  integrity: ImageIntegrity;
  problem: string | null;
  /** MACs of the [host] sections that name this profile. */
  hosts: string[];
  builtAt: string | null;
  source: string | null;
}

function folderBytes(folder: string, rels: string[]): number {
  return rels.reduce((n, r) => {
    try {
      return n + statSync(join(folder, r)).size;
    } catch {
      return n;
    }
  }, 0);
}

/** The manifest's facts for the listing; none when it is missing, invalid or unreadable (the row's problem says which). */
function manifestFacts(folder: string): { builtAt: string; source: string; displayName: string } | null {
  try {
    const m = parseImageManifest(readFileSync(join(folder, 'image.json'), 'utf8'));
    return typeof m === 'string' ? null : { builtAt: m.builtAt, source: m.source.name, displayName: m.displayName };
  } catch {
    return null;
  }
}

export interface ImageListing {
  images: ImageRow[];
  /** Folders under [assets] dir that could not be looked into, naming the account and the errno. */
  problems: string[];
}

export async function listImagesWithProblems(profile: Profile): Promise<ImageListing> {
  const rows: ImageRow[] = [];
  const scan = scanAssetFolders(profile.assets.dir);
  for (const img of scan.images) {
    const folder = join(profile.assets.dir, img.product, img.version);
    const facts = img.integrity === 'unreadable' ? null : manifestFacts(folder);
    rows.push({
      profile: img.profile,
      kind: 'install',
      product: img.product,
      displayName: facts?.displayName ?? productDisplayName(img.product),
      version: img.version,
      size: folderBytes(folder, await filesUnder(folder).catch(() => [])),
      integrity: img.integrity ?? 'unverified',
      problem: img.integrityProblem ?? null,
      hosts: [...profile.hosts.values()].filter((h) => h.profile === img.profile).map((h) => h.mac),
      builtAt: facts?.builtAt ?? null,
      source: facts?.source ?? null,
    });
  }
  for (const img of scan.diskImages) {
    const folder = join(profile.assets.dir, img.product, img.version);
    const facts = manifestFacts(folder);
    rows.push({
      profile: img.profile,
      kind: 'disk-image',
      product: img.product,
      displayName: facts?.displayName ?? img.product,
      version: img.version,
      size: folderBytes(folder, await filesUnder(folder).catch(() => [])),
      integrity: img.integrity,
      problem: img.integrityProblem ?? null,
      hosts: [...profile.hosts.values()].filter((h) => h.profile === img.profile).map((h) => h.mac),
      builtAt: facts?.builtAt ?? null,
      source: facts?.source ?? null,
    });
  }
  return { images: rows, problems: scan.problems };
}

export async function listImages(profile: Profile): Promise<ImageRow[]> {
  return (await listImagesWithProblems(profile)).images;
}

/** check-config warnings: images that are no longer offered, and hosts naming an image that is not there. */
export function assetWarnings(profile: Profile): string[] {
  if (!existsSync(profile.assets.dir)) return [];
  const images = scanAssets(profile.assets.dir);
  const w: string[] = [];
  for (const img of images) {
    if (img.integrity === 'changed')
      w.push(`install image ${img.profile} is not offered: ${img.integrityProblem}; check it with pxe-pilot assets verify ${img.profile}, or add it again`);
  }
  const names = new Set(images.map((i) => i.profile));
  for (const h of profile.hosts.values()) {
    if (h.profile && !names.has(h.profile))
      w.push(`[host ${h.mac}] profile = ${h.profile}: no such image under ${profile.assets.dir} (pxe-pilot assets ls lists them)`);
  }
  return w;
}

export interface VerifyResult {
  profile: string;
  ok: boolean;
  /** One line per problem, each naming the file. */
  problems: string[];
  files: number;
}

/** Re-hashes every file SHA256SUMS lists (the full check; the catalogue only compares size and mtime). */
export async function verifyImage(assetsDir: string, profile: string, progress?: Progress): Promise<VerifyResult> {
  const folder = join(assetsDir, ...profile.split('/'));
  const sums = join(folder, 'SHA256SUMS');
  if (!existsSync(sums)) return { profile, ok: true, problems: ['no SHA256SUMS: unverified (made by hand); nothing to check'], files: 0 };
  const { entries, bad } = parseSha256Sums(readFileSync(sums, 'utf8'));
  const problems: string[] = [];
  if (bad > 0) problems.push(`SHA256SUMS has ${bad} line(s) that are not "<sha256>  <file>"`);
  for (const e of entries) {
    const path = join(folder, e.path);
    if (e.path.split('/').includes('..') || !existsSync(path)) {
      problems.push(`${e.path}: missing`);
      continue;
    }
    const size = statSync(path).size;
    progress?.begin(`verifying ${profile}/${e.path}`, size);
    const actual = await hashFile(path, (n) => progress?.update(n));
    progress?.end();
    if (actual !== e.sha256) problems.push(`${e.path}: checksum mismatch (SHA256SUMS says ${e.sha256.slice(0, 16)}…, the file has ${actual.slice(0, 16)}…)`);
  }
  const check = scanAssets(assetsDir).find((i) => i.profile === profile);
  if (problems.length === 0 && check?.integrity === 'changed')
    problems.push(`${check.integrityProblem} (the contents still match SHA256SUMS: add the image again to refresh its manifest)`);
  return { profile, ok: problems.length === 0, problems, files: entries.length };
}

/** Removes an image folder (renamed aside first, so the menu never sees it half-deleted). */
export async function removeImage(profile: Profile, name: string, force: boolean): Promise<void> {
  const parts = name.split('/');
  const ok = parts.length === 2 && parts.every((p) => /^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(p));
  if (!ok) throw badInput(`${JSON.stringify(name)} is not an image name: expected <product>/<version>, as pxe-pilot assets ls shows`);
  const folder = join(profile.assets.dir, parts[0]!, parts[1]!);
  if (!existsSync(folder)) throw badInput(`no image ${name} under ${profile.assets.dir}`);
  const users = [...profile.hosts.values()].filter((h) => h.profile === name).map((h) => h.mac);
  if (users.length > 0 && !force)
    throw badInput(`${name} is named by [host] ${users.join(', ')} in ${profile.file}: change their profile first, or give --force`);
  const aside = join(profile.assets.dir, parts[0]!, `.${parts[1]}.removing-${process.pid}`);
  await rename(folder, aside);
  await rm(aside, { recursive: true, force: true });
}
