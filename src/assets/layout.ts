// Atomic image folders: built in a hidden folder beside the target and renamed into place at the
// end, so the catalogue never sees half an image. Hidden folders start with '.', which the
// catalogue's name rule skips. Interrupted or failed builds are removed.
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { badInput } from './errors.ts';
import { formatBytes } from './progress.ts';

/** Paths to remove if the process is interrupted (SIGINT/SIGTERM) before they are renamed into place. */
export const pendingPaths = new Set<string>();

/** Synchronous, for signal handlers: removes every unfinished build. */
export function removePendingSync(): void {
  for (const p of pendingPaths) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      // best effort while exiting
    }
  }
  pendingPaths.clear();
}

export interface Staging {
  /** Where the files are written. */
  dir: string;
  target: string;
  productDir: string;
  /** Whether we created the product folder (removed again on failure when empty). */
  createdProductDir: boolean;
}

export async function beginStaging(assetsDir: string, product: string, version: string, force: boolean): Promise<Staging> {
  const productDir = join(assetsDir, product);
  const target = join(productDir, version);
  if (existsSync(target) && !force)
    throw badInput(`${target} already exists: remove it with \`pxe-pilot assets rm ${product}/${version}\`, or give --force to replace it`);
  if (!existsSync(assetsDir))
    throw badInput(`[assets] dir ${assetsDir} does not exist: create it (owned by the user pxe-pilot runs as) or set [assets] dir in the profile`);
  const createdProductDir = !existsSync(productDir);
  await mkdir(productDir, { recursive: true });
  const dir = join(productDir, `.${version}.partial-${process.pid}`);
  pendingPaths.add(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir);
  return { dir, target, productDir, createdProductDir };
}

/** Renames the finished folder into place (replacing an old one when forced). */
export async function commitStaging(s: Staging, force: boolean): Promise<void> {
  let old: string | null = null;
  if (existsSync(s.target)) {
    if (!force) throw badInput(`${s.target} appeared while building: give --force to replace it`);
    old = join(s.productDir, `.${s.target.slice(s.productDir.length + 1)}.old-${process.pid}`);
    await rename(s.target, old);
  }
  await rename(s.dir, s.target);
  pendingPaths.delete(s.dir);
  if (old) await rm(old, { recursive: true, force: true });
}

export async function abortStaging(s: Staging): Promise<void> {
  await rm(s.dir, { recursive: true, force: true });
  pendingPaths.delete(s.dir);
  if (s.createdProductDir) await rmdir(s.productDir).catch(() => {});
}

/** Refuses early when the file system plainly cannot hold the image. */
export async function requireFreeSpace(dir: string, bytes: number): Promise<void> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes)
    throw badInput(
      `not enough free space in ${dir}: the image needs about ${formatBytes(bytes)}, ${formatBytes(free)} is free; free some space or point [assets] dir elsewhere`,
    );
}

/** Every regular file under `dir`, as '/'-separated relative paths, sorted. */
export async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}
