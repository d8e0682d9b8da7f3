// Where a boot loader fetches an image's kernel and initrds from. A folder under [assets] dir:
// our /assets/ (or [assets] url) for iPXE, TFTP assets/… for GRUB. A remote image ([image]): a
// pinned file from our cache (HTTP /remote/<sha256>/<name>, TFTP remote/<sha256>/<name>), an
// unpinned one from its own URL, which only iPXE can fetch (GRUB under Secure Boot has no HTTP).
// Pure.
import { remoteFileName, remoteServedPath, type InstallImage, type RemoteFile } from './catalogue.ts';
import { cmdlineValues, ipxeText, type InstallVars } from './ipxe.ts';
import { fillCmdlineTemplate } from './cmdline.ts';
import { TFTP_ASSETS_FOLDER } from './tftp-folders.ts';

/** Extra images (the Proxmox ISO) that are plain files, not cpio archives: wrapped so they appear as /<name>. */
export const WRAPPED_EXTRA = /\.(iso|img)$/;

export interface ImageFile {
  /** A URL (iPXE) or a GRUB file path. */
  location: string;
  /** The name the initramfs gets it under (iPXE initrd --name). */
  name: string;
  /** A plain file to be wrapped in a cpio archive (GRUB: newc:<name>:…; iPXE: already the /cpio/ URL). */
  wrap: boolean;
}

export type ImageFiles = { ok: true; kernel: ImageFile; initrds: ImageFile[] } | { ok: false; problem: string };

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

const encoded = (rel: string): string => rel.split('/').map(encodeURIComponent).join('/');

/** An unpinned URL for iPXE: our placeholders filled (made inert), iPXE's settings kept for iPXE. */
function remoteUrl(file: RemoteFile, vars: InstallVars): { ok: true; url: string } | { ok: false; problem: string } {
  const filled = fillCmdlineTemplate(file.url, cmdlineValues(vars));
  if (!filled.ok) return { ok: false, problem: filled.problem.replace('the kernel command line', `the URL ${file.url}`) };
  return { ok: true, url: filled.parts.map((p) => (p.ipxe ? p.text : ipxeText(p.text))).join('') };
}

/** Unique initrd names: a second file of the same name gets its position in front. */
function uniqueNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.map((n, i) => {
    const name = seen.has(n) ? `${i}-${n}` : n;
    seen.add(name);
    return name;
  });
}

/**
 * The files of `image` for `loader`: iPXE URLs (`assetBase`: where [assets] dir is served;
 * `vars.server`: our own base), or GRUB paths on the TFTP server `tftpServer`.
 */
export function imageFiles(image: InstallImage, loader: 'ipxe' | 'grub', at: { assetBase: string; tftpServer: string }, vars: InstallVars): ImageFiles {
  const { remote } = image;
  if (!remote) {
    const file = (rel: string, i: number): ImageFile => {
      const wrap = i > 0 && WRAPPED_EXTRA.test(rel);
      if (loader === 'grub') return { location: `(tftp,${at.tftpServer})/${TFTP_ASSETS_FOLDER}/${rel}`, name: baseName(rel), wrap };
      // Extra images (the Proxmox ISO) come wrapped in cpio from /cpio/ so they land at /<name> in
      // the initramfs on BIOS and UEFI alike (see src/boot/cpio.ts); kernel and initrd as they are.
      return { location: wrap ? `${vars.server}/cpio/${encoded(rel)}` : `${at.assetBase}/${encoded(rel)}`, name: baseName(rel), wrap };
    };
    return { ok: true, kernel: file(image.kernel, 0), initrds: image.initrds.map((rel, i) => file(rel, i)) };
  }
  const names = uniqueNames(remote.initrds.map((f) => remoteFileName(f.url)));
  const files: ImageFile[] = [];
  for (const [i, f] of [remote.kernel, ...remote.initrds].entries()) {
    const name = i === 0 ? remoteFileName(f.url) : names[i - 1]!;
    if (f.sha256) {
      const path = remoteServedPath({ url: f.url, sha256: f.sha256 });
      files.push({ location: loader === 'grub' ? `(tftp,${at.tftpServer})/${path}` : `${vars.server}/${path}`, name, wrap: false });
      continue;
    }
    if (loader === 'grub')
      return {
        ok: false,
        problem: `cannot install ${image.profile}: ${f.url} is not pinned, and GRUB (loader = grub) has no HTTP to fetch it; pin it with ${i === 0 ? 'kernel_sha256' : 'initrd_sha256'} in [image ${image.profile}] so pxe-pilot serves it over TFTP, or boot this machine with loader = ipxe`,
      };
    const url = remoteUrl(f, vars);
    if (!url.ok) return { ok: false, problem: `cannot install ${image.profile}: ${url.problem}` };
    files.push({ location: url.url, name, wrap: false });
  }
  return { ok: true, kernel: files[0]!, initrds: files.slice(1) };
}
