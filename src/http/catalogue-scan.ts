// Finds <product>/<version>/ folders holding vmlinuz and initrd under [assets] dir.
// Cached briefly: /boot is a hot path and the folder changes rarely.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sortImages, type InstallImage } from '../boot/catalogue.ts';

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
      images.push({
        profile: `${product}/${version}`,
        product,
        version,
        kernel: `${product}/${version}/vmlinuz`,
        initrds: [`${product}/${version}/initrd`, ...extras.map((f) => `${product}/${version}/${f}`)],
        cmdline,
      });
    }
  }
  return sortImages(images);
}

export class AssetCatalogue {
  private cached: { dir: string; at: number; images: InstallImage[] } | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  images(dir: string): InstallImage[] {
    const t = this.now();
    if (!this.cached || this.cached.dir !== dir || t - this.cached.at > CACHE_MS) {
      this.cached = { dir, at: t, images: scanAssets(dir) };
    }
    return this.cached.images;
  }

  find(dir: string, profile: string): InstallImage | undefined {
    return this.images(dir).find((i) => i.profile === profile);
  }

  invalidate(): void {
    this.cached = null;
  }
}
