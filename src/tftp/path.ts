// Turns a requested TFTP filename into path segments below the root, or says why it may not be served.
// Pure: the filesystem checks (symlinks leaving the root) come after, in files.ts. A leading '/'
// means the root, as dnsmasq and tftpd-hpa read it: GRUB and shim always send one.

export type PathCheck = { ok: true; segments: string[] } | { ok: false; reason: string };

// C0 controls and DEL: no boot file has them, and they make log lines lie.
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkRequestPath(filename: string): PathCheck {
  if (filename.length === 0) return { ok: false, reason: 'empty filename' };
  if (CONTROL.test(filename)) return { ok: false, reason: 'control character in filename' };
  if (filename.includes('\\')) return { ok: false, reason: 'backslash in filename (outside root)' };
  const segments: string[] = [];
  for (const segment of filename.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return { ok: false, reason: "'..' in path (outside root)" };
    segments.push(segment);
  }
  if (segments.length === 0) return { ok: false, reason: 'filename names the root itself' };
  return { ok: true, segments };
}
