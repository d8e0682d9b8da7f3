// The installable products found under [assets] dir, as plain data (the scan itself is in
// src/assets/catalogue-scan.ts; what each product is, in src/boot/products.ts).
import { productDisplayName } from './products.ts';

export interface InstallImage {
  /** "<product>/<version>", the profile name used by [host] profile and the admin API. */
  profile: string;
  product: string;
  version: string;
  /** Path relative to [assets] dir, e.g. "proxmox-ve/9.1-1/vmlinuz". */
  kernel: string;
  /** Relative paths; the first is `initrd`, then extra images (e.g. the installer ISO) in name order. */
  initrds: string[];
  /** Kernel arguments from the folder's `cmdline` file, or null for the product default. */
  cmdline: string | null;
  /**
   * 'verified': files match image.json (size, mtime); 'unverified': no manifest (made by hand);
   * 'changed' and 'unreadable' (a file the daemon's account may not read): not offered.
   */
  integrity?: ImageIntegrity;
  /**
   * For 'changed': which file and how, e.g. "proxmox.iso changed since it was added (size …)";
   * for 'unreadable': which file, as whom and what to do ("cannot read …/vmlinuz as pxe-pilot (EACCES): …").
   */
  integrityProblem?: string;
  /**
   * A remote image ([image NAME] in the profile): its files are URLs on another host. Then
   * `kernel` and `initrds` hold those URLs (for display), and the renderers read this instead.
   */
  remote?: RemoteSource;
}

/** A disk image (`assets add --kind disk-image`) as a deploy needs it: never booted, written by the agent. */
export interface DiskImage {
  profile: string;
  /** The file under [assets] dir the agent streams, e.g. "debian-cloud/12/disk.raw.zst". */
  path: string;
  compression: 'none' | 'gzip' | 'xz' | 'zstd';
  /** SHA-256 of the file as kept (compressed), and its size: what the agent receives. */
  sha256: string;
  compressedBytes: number;
  /** Bytes once decompressed: the least a target disk must hold. */
  sizeBytes: number;
  integrity: ImageIntegrity;
  integrityProblem?: string;
}

/** One file of a remote image: the URL, and its SHA-256 when pinned (fetched, checked and served by us). */
export interface RemoteFile {
  url: string;
  sha256: string | null;
}

export interface RemoteSource {
  kernel: RemoteFile;
  initrds: RemoteFile[];
  /** When its install is consumed ([image] consumed_at): the product table does not know remote images. */
  consumedAt: 'script' | 'answer';
}

/**
 * 'verified': files match image.json (size, mtime), or every file of a remote image is pinned and
 * in the cache, checked; 'unverified': no manifest (made by hand), or a remote image with an
 * unpinned URL (handed to iPXE as it is); 'changed', 'unreadable' (a file the daemon's account
 * may not read) and 'unfetched' (a pinned file not in the cache yet, or whose fetch failed): not offered.
 */
export type ImageIntegrity = 'verified' | 'unverified' | 'changed' | 'unreadable' | 'unfetched';

/** Whether the menu and /boot may offer the image. */
export function isOffered(image: InstallImage): boolean {
  return image.integrity !== 'changed' && image.integrity !== 'unreadable' && image.integrity !== 'unfetched';
}

/** Why an image is not offered, with what to do: "<profile> is not offered: <problem>; <remedy>". */
export function notOfferedReason(image: InstallImage): string {
  // An unreadable file's problem already says what to do (give the account read access).
  if (image.integrity === 'unreadable' || image.integrity === 'unfetched') return `${image.profile} is not offered: ${image.integrityProblem}`;
  return `${image.profile} is not offered: ${image.integrityProblem}; run pxe-pilot assets verify ${image.profile}, or add the image again`;
}

/** "<product>/<version>": how [host] profile, [boot] menu_default and the admin API name an install image. */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*\/[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Newest first by numeric parts ("9.1-1" > "9.0-2" > "8.4-1"), then by text. */
export function compareVersionsDesc(a: string, b: string): number {
  const pa = a
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  const pb = b
    .split(/[^0-9]+/)
    .filter(Boolean)
    .map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? -1) - (pa[i] ?? -1);
    if (d !== 0) return d;
  }
  return b.localeCompare(a);
}

export function sortImages(images: InstallImage[]): InstallImage[] {
  return [...images].sort((x, y) => productDisplayName(x.product).localeCompare(productDisplayName(y.product)) || compareVersionsDesc(x.version, y.version));
}

/** The folder (HTTP /remote/…, TFTP remote/…) pinned remote files are served from, by SHA-256. */
export const REMOTE_FOLDER = 'remote';

/** The file name a URL is kept and served under: its last path segment, made safe ("file" when it has none). */
export function remoteFileName(url: string): string {
  const path = url.replace(/[?#].*$/, '').replace(/^[a-z]+:\/\/[^/]*/i, '');
  let last = path.split('/').filter(Boolean).pop() ?? '';
  try {
    last = decodeURIComponent(last);
  } catch {
    // kept as written
  }
  const safe = last.replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^[._]+/, '');
  return safe === '' ? 'file' : safe;
}

/** Where a pinned file is served below our base: remote/<sha256>/<name>. */
export function remoteServedPath(file: RemoteFile & { sha256: string }): string {
  return `${REMOTE_FOLDER}/${file.sha256}/${remoteFileName(file.url)}`;
}
