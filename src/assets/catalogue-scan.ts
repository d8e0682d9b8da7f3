// Finds <product>/<version>/ folders holding vmlinuz and initrd under [assets] dir, and checks
// each against its manifest (image.json: size and mtime per file; cheap, no hashing).
// Cached briefly: /boot is a hot path and the folder changes rarely. A file or folder this
// process may not read is reported as that (the path, the account, the errno), never as missing.
import { accessSync, constants, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isOffered, PROFILE_NAME, sortImages, type DiskImage, type ImageIntegrity, type InstallImage } from '../boot/catalogue.ts';
import type { ImageCatalogue } from '../boot/ports.ts';
import { cannotRead } from '../net/readable-as.ts';
import { parseImageManifest, type DiskImageFacts } from './manifest.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** Extra images loaded after `initrd`, e.g. the prepared Proxmox ISO. */
const EXTRA_INITRD = /\.(iso|img|cpio|cpio\.gz|cpio\.zst)$/;
const CACHE_MS = 2000;

/** A file as this process sees it: not there, there and readable, or there but closed to it. */
type Presence = { kind: 'absent' } | { kind: 'readable' } | { kind: 'denied'; problem: string };

function presence(path: string): Presence {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    const problem = cannotRead(path, err);
    return problem ? { kind: 'denied', problem } : { kind: 'absent' };
  }
  if (!isFile) return { kind: 'absent' };
  try {
    accessSync(path, constants.R_OK);
    return { kind: 'readable' };
  } catch (err) {
    const problem = cannotRead(path, err);
    return problem ? { kind: 'denied', problem } : { kind: 'absent' };
  }
}

/** Sub-folder names; a folder this process may not list adds its problem and lists nothing. */
function listDirs(path: string, problems: string[]): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory() && NAME.test(d.name))
      .map((d) => d.name);
  } catch (err) {
    const problem = cannotRead(path, err, 'folder');
    if (problem) problems.push(problem);
    return [];
  }
}

/** Compares the folder with its image.json; no manifest = unverified (hand-made images keep working). */
export function checkManifest(folder: string): { integrity: ImageIntegrity; problem?: string } {
  const path = join(folder, 'image.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const problem = cannotRead(path, err);
    return problem ? { integrity: 'unreadable', problem } : { integrity: 'unverified' };
  }
  const manifest = parseImageManifest(text);
  if (typeof manifest === 'string') return { integrity: 'changed', problem: `image.json is not a valid manifest (${manifest})` };
  for (const f of manifest.files) {
    let st;
    try {
      st = statSync(join(folder, f.path));
    } catch (err) {
      const problem = cannotRead(join(folder, f.path), err);
      return problem ? { integrity: 'unreadable', problem } : { integrity: 'changed', problem: `${f.path} is missing` };
    }
    if (st.size !== f.size) return { integrity: 'changed', problem: `${f.path} changed since it was added (size ${st.size}, manifest says ${f.size})` };
    if (st.mtimeMs !== f.mtimeMs)
      return {
        integrity: 'changed',
        problem: `${f.path} changed since it was added (modified ${st.mtime.toISOString()}, manifest says ${new Date(f.mtimeMs).toISOString()})`,
      };
  }
  return { integrity: 'verified' };
}

function unreadableImage(product: string, version: string, problem: string): InstallImage {
  return {
    profile: `${product}/${version}`,
    product,
    version,
    kernel: `${product}/${version}/vmlinuz`,
    initrds: [`${product}/${version}/initrd`],
    cmdline: null,
    integrity: 'unreadable',
    integrityProblem: problem,
  };
}

/** One version folder as an image; null when it has no vmlinuz and initrd (incomplete: still copying?). */
function scanImage(dir: string, product: string, version: string): InstallImage | null {
  const folder = join(dir, product, version);
  const kernel = presence(join(folder, 'vmlinuz'));
  const initrd = presence(join(folder, 'initrd'));
  for (const p of [kernel, initrd]) if (p.kind === 'denied') return unreadableImage(product, version, p.problem);
  // Without both files, skip it rather than offer a broken install.
  if (kernel.kind === 'absent' || initrd.kind === 'absent') return null;
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (err) {
    return unreadableImage(product, version, cannotRead(folder, err, 'folder') ?? `cannot list ${folder}: ${(err as Error).message}`);
  }
  const extras: string[] = [];
  for (const f of names.filter((n) => EXTRA_INITRD.test(n) && NAME.test(n)).sort()) {
    const p = presence(join(folder, f));
    if (p.kind === 'denied') return unreadableImage(product, version, p.problem);
    if (p.kind === 'readable') extras.push(f);
  }
  let cmdline: string | null = null;
  const cmdlinePath = join(folder, 'cmdline');
  const cmdlineFile = presence(cmdlinePath);
  if (cmdlineFile.kind === 'denied') return unreadableImage(product, version, cmdlineFile.problem);
  if (cmdlineFile.kind === 'readable') {
    try {
      cmdline = readFileSync(cmdlinePath, 'utf8').replace(/\s+/g, ' ').trim();
    } catch (err) {
      const problem = cannotRead(cmdlinePath, err);
      if (problem) return unreadableImage(product, version, problem);
    }
  }
  const check = checkManifest(folder);
  return {
    profile: `${product}/${version}`,
    product,
    version,
    kernel: `${product}/${version}/vmlinuz`,
    initrds: [`${product}/${version}/initrd`, ...extras.map((f) => `${product}/${version}/${f}`)],
    cmdline,
    integrity: check.integrity,
    ...(check.problem ? { integrityProblem: check.problem } : {}),
  };
}

/** A disk image folder (kind disk-image): deployed by the agent, never booted itself. */
export interface DiskImageEntry {
  profile: string;
  product: string;
  version: string;
  disk: DiskImageFacts;
  /** Size of the file as kept (compressed), from the manifest. */
  compressedBytes: number;
  integrity: ImageIntegrity;
  integrityProblem?: string;
}

/** One version folder as a disk image; null when its image.json says it is none. */
function scanDiskImage(dir: string, product: string, version: string): DiskImageEntry | null {
  const folder = join(dir, product, version);
  let manifest;
  try {
    manifest = parseImageManifest(readFileSync(join(folder, 'image.json'), 'utf8'));
  } catch {
    return null;
  }
  if (typeof manifest === 'string' || !manifest.disk) return null;
  const check = checkManifest(folder);
  return {
    profile: `${product}/${version}`,
    product,
    version,
    disk: manifest.disk,
    compressedBytes: manifest.files.find((f) => f.path === manifest.disk!.file)?.size ?? 0,
    integrity: check.integrity,
    ...(check.problem ? { integrityProblem: check.problem } : {}),
  };
}

export interface AssetScan {
  images: InstallImage[];
  /** The disk images (`assets add --kind disk-image`), apart: no menu boots one. */
  diskImages: DiskImageEntry[];
  /** Folders this process may not list, each as "cannot read <folder> as <account> (EACCES): …". */
  problems: string[];
}

/** Every image under `dir`, and the folders that could not be looked into. */
export function scanAssetFolders(dir: string): AssetScan {
  const images: InstallImage[] = [];
  const diskImages: DiskImageEntry[] = [];
  const problems: string[] = [];
  for (const product of listDirs(dir, problems)) {
    for (const version of listDirs(join(dir, product), problems)) {
      const image = scanImage(dir, product, version);
      const disk = image ? null : scanDiskImage(dir, product, version);
      if (image) images.push(image);
      if (disk) diskImages.push(disk);
    }
  }
  return { images: sortImages(images), diskImages, problems };
}

export function scanAssets(dir: string): InstallImage[] {
  return scanAssetFolders(dir).images;
}

/**
 * An image named in the profile but not found by the scan: unreadable when the way to its
 * vmlinuz or initrd is closed to this process (a folder above it the scan could not list).
 */
function unreadableNamed(dir: string, profile: string): InstallImage | undefined {
  if (!PROFILE_NAME.test(profile)) return undefined;
  const [product, version] = profile.split('/') as [string, string];
  for (const file of ['vmlinuz', 'initrd']) {
    const p = presence(join(dir, product, version, file));
    if (p.kind === 'denied') return unreadableImage(product, version, p.problem);
  }
  return undefined;
}

/** A scanned disk image folder as the boot side reads it. */
export function diskImageOf(entry: DiskImageEntry): DiskImage {
  return {
    profile: entry.profile,
    path: `${entry.product}/${entry.version}/${entry.disk.file}`,
    compression: entry.disk.compression,
    sha256: entry.disk.sha256,
    compressedBytes: entry.compressedBytes,
    sizeBytes: entry.disk.sizeBytes,
    integrity: entry.integrity,
    ...(entry.integrityProblem ? { integrityProblem: entry.integrityProblem } : {}),
  };
}

export class AssetCatalogue implements ImageCatalogue {
  private cached: { dir: string; at: number; images: InstallImage[]; disks: DiskImageEntry[] } | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** Every image found, including those whose files no longer match their manifest. */
  all(dir: string): InstallImage[] {
    const t = this.now();
    if (!this.cached || this.cached.dir !== dir || t - this.cached.at > CACHE_MS) {
      const scan = scanAssetFolders(dir);
      this.cached = { dir, at: t, images: scan.images, disks: scan.diskImages };
    }
    return this.cached.images;
  }

  findDiskImage(dir: string, profile: string): DiskImage | undefined {
    this.all(dir);
    const entry = this.cached?.disks.find((d) => d.profile === profile);
    return entry ? diskImageOf(entry) : undefined;
  }

  diskImages(dir: string): DiskImage[] {
    this.all(dir);
    return (this.cached?.disks ?? []).map(diskImageOf);
  }

  /** The images the menu offers: a changed or unreadable image is left out (find() still returns it, to explain why). */
  images(dir: string): InstallImage[] {
    return this.all(dir).filter(isOffered);
  }

  /** The image named `profile`; also one the scan could not see into, as 'unreadable' with its reason. */
  find(dir: string, profile: string): InstallImage | undefined {
    return this.all(dir).find((i) => i.profile === profile) ?? unreadableNamed(dir, profile);
  }

  invalidate(): void {
    this.cached = null;
  }
}
