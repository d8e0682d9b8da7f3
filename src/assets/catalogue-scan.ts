// Finds <product>/<version>/ folders holding vmlinuz and initrd under [assets] dir, and checks
// each against its manifest (image.json: size and mtime per file; cheap, no hashing).
// Cached briefly: /boot is a hot path and the folder changes rarely.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sortImages, type ImageIntegrity, type InstallImage } from '../boot/catalogue.ts';
import type { ImageCatalogue } from '../boot/ports.ts';
import { parseImageManifest } from './manifest.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** Extra images loaded after `initrd`, e.g. the prepared Proxmox ISO. */
const EXTRA_INITRD = /\.(iso|img|cpio|cpio\.gz|cpio\.zst)$/;
const CACHE_MS = 2000;

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function listDirs(path: string): string[] {
  try {
    return readdirSync(path, { withFileTypes: true })
      .filter((d) => d.isDirectory() && NAME.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Compares the folder with its image.json; no manifest = unverified (hand-made images keep working). */
export function checkManifest(folder: string): { integrity: ImageIntegrity; problem?: string } {
  let text: string;
  try {
    text = readFileSync(join(folder, 'image.json'), 'utf8');
  } catch {
    return { integrity: 'unverified' };
  }
  const manifest = parseImageManifest(text);
  if (typeof manifest === 'string') return { integrity: 'changed', problem: `image.json is not a valid manifest (${manifest})` };
  for (const f of manifest.files) {
    let st;
    try {
      st = statSync(join(folder, f.path));
    } catch {
      return { integrity: 'changed', problem: `${f.path} is missing` };
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

export function scanAssets(dir: string): InstallImage[] {
  const images: InstallImage[] = [];
  for (const product of listDirs(dir)) {
    for (const version of listDirs(join(dir, product))) {
      const folder = join(dir, product, version);
      // A version without both files is incomplete (still copying?): skip it rather than offer a broken install.
      if (!isFile(join(folder, 'vmlinuz')) || !isFile(join(folder, 'initrd'))) continue;
      const extras = readdirSync(folder)
        .filter((f) => EXTRA_INITRD.test(f) && NAME.test(f) && isFile(join(folder, f)))
        .sort();
      let cmdline: string | null = null;
      if (isFile(join(folder, 'cmdline'))) cmdline = readFileSync(join(folder, 'cmdline'), 'utf8').replace(/\s+/g, ' ').trim();
      const check = checkManifest(folder);
      images.push({
        profile: `${product}/${version}`,
        product,
        version,
        kernel: `${product}/${version}/vmlinuz`,
        initrds: [`${product}/${version}/initrd`, ...extras.map((f) => `${product}/${version}/${f}`)],
        cmdline,
        integrity: check.integrity,
        ...(check.problem ? { integrityProblem: check.problem } : {}),
      });
    }
  }
  return sortImages(images);
}

export class AssetCatalogue implements ImageCatalogue {
  private cached: { dir: string; at: number; images: InstallImage[] } | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** Every image found, including those whose files no longer match their manifest. */
  all(dir: string): InstallImage[] {
    const t = this.now();
    if (!this.cached || this.cached.dir !== dir || t - this.cached.at > CACHE_MS) {
      this.cached = { dir, at: t, images: scanAssets(dir) };
    }
    return this.cached.images;
  }

  /** The images the menu offers: a changed image is left out (find() still returns it, to explain why). */
  images(dir: string): InstallImage[] {
    return this.all(dir).filter((i) => i.integrity !== 'changed');
  }

  find(dir: string, profile: string): InstallImage | undefined {
    return this.all(dir).find((i) => i.profile === profile);
  }

  invalidate(): void {
    this.cached = null;
  }
}
