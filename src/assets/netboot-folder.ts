// A netboot tree already unpacked on disk: what Debian's debian-installer-<N>-netboot-amd64
// package installs (/usr/lib/debian-installer/images/12/amd64/text), or netboot.tar.gz unpacked
// by hand. Same image as the tarball gives: vmlinuz, initrd and the preseed cmdline.
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { badInput } from './errors.ts';
import { parseNetbootVersion } from './iso-info.ts';
import { hashFile } from './manifest.ts';
import { PRODUCT_ROWS } from '../boot/products.ts';

/** The distributions whose netboot installer `assets add` knows: the product table's netboot rows (debian, ubuntu). */
export const NETBOOT_DISTROS: readonly string[] = PRODUCT_ROWS.filter((r) => r.kind === 'netboot').map((r) => r.product);

/** The kernel line of a netboot installer: unattended, its preseed fetched from this server. */
export const NETBOOT_PRESEED_CMDLINE = 'auto=true priority=critical interface=auto url=${server}/preseed/${mac}.cfg';

export interface NetbootFolder {
  /** The product table's row: debian or ubuntu. */
  distro: string;
  /** The installer's kernel and initrd (debian-installer/amd64/linux, initrd.gz). */
  linux: string;
  initrd: string;
  /** version.info's release ("12"), or null when the tree has none. */
  version: string | null;
}

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();

/**
 * The netboot installer in `dir`: the tree's root (`<distro>-installer/amd64/…` and
 * version.info), the package's architecture folder holding `text/` and `gtk/` (text is taken:
 * it speaks on a serial console), or the `<distro>-installer/amd64` folder itself. Null when
 * none of them holds linux and initrd.gz.
 */
export async function findNetbootFolder(dir: string): Promise<NetbootFolder | null> {
  const root = resolve(dir);
  for (const distro of NETBOOT_DISTROS) {
    const candidates: { arch: string; tree: string }[] = [
      { arch: join(root, `${distro}-installer`, 'amd64'), tree: root },
      { arch: join(root, 'text', `${distro}-installer`, 'amd64'), tree: join(root, 'text') },
    ];
    // The amd64 folder itself: version.info sits two levels up, at the tree's root.
    if (basename(root) === 'amd64' && basename(dirname(root)) === `${distro}-installer`) candidates.push({ arch: root, tree: dirname(dirname(root)) });
    for (const { arch, tree } of candidates) {
      const linux = join(arch, 'linux');
      const initrd = join(arch, 'initrd.gz');
      if (!isFile(linux) || !isFile(initrd)) continue;
      const info = join(tree, 'version.info');
      const version = isFile(info) ? parseNetbootVersion(await readFile(info, 'utf8')) : null;
      return { distro, linux, initrd, version };
    }
  }
  return null;
}

/**
 * What image.json records as the source of a folder: its path, and a SHA-256 over the
 * `sha256sum` lines of the two files taken from it, so the same tree always gives the same digest.
 */
export async function netbootFolderDigest(found: NetbootFolder, onFile?: (name: string) => void): Promise<{ sha256: string; size: number }> {
  const lines: string[] = [];
  let size = 0;
  for (const [file, name] of [
    [found.linux, 'linux'],
    [found.initrd, 'initrd.gz'],
  ] as const) {
    onFile?.(name);
    lines.push(`${await hashFile(file)}  ${name}\n`);
    size += statSync(file).size;
  }
  return { sha256: createHash('sha256').update(lines.join('')).digest('hex'), size };
}

/** The refusal for a folder that holds no netboot installer, saying what would work. */
export function notANetbootFolder(dir: string): Error {
  return badInput(
    `${dir} is a folder without a netboot installer (debian-installer/amd64/linux and initrd.gz): give the folder Debian's package debian-installer-12-netboot-amd64 installs (/usr/lib/debian-installer/images/12/amd64/text), an unpacked netboot.tar.gz, or an ISO or tarball file`,
  );
}
