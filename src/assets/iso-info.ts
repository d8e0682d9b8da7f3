// Pure parsers of the small text and header files that say what an installer image is.
// Each returns a typed value or null/an error string; none reads a file itself.
import { PRODUCT_ROWS, productRowByShortName } from '../boot/products.ts';

/** `/.cd-info` of Proxmox ISOs: lines KEY='value' (also KEY="value" or KEY=value). */
export function parseCdInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!.trim();
    if (value.length >= 2 && (value[0] === "'" || value[0] === '"') && value.endsWith(value[0])) value = value.slice(1, -1);
    out[m[1]!] = value;
  }
  return out;
}

export interface ProxmoxIdentity {
  /** Asset folder name: proxmox-ve, proxmox-bs, proxmox-mg. */
  product: string;
  displayName: string;
  /** RELEASE-ISORELEASE, e.g. 9.1-1. */
  version: string;
}

/** The folder and version a Proxmox ISO's .cd-info describes (PRODUCT is a short name of the product table), or a reason it cannot be used. */
export function proxmoxIdentity(info: Record<string, string>): ProxmoxIdentity | string {
  const short = info.PRODUCT ?? '';
  const row = productRowByShortName(short);
  if (row?.kind !== 'proxmox') {
    const known = PRODUCT_ROWS.filter((r) => r.kind === 'proxmox').map((r) => r.shortName);
    return `.cd-info names PRODUCT=${JSON.stringify(short)}; pxe-pilot installs ${known.slice(0, -1).join(', ')} and ${known.at(-1)}`;
  }
  if (!info.RELEASE) return '.cd-info has no RELEASE';
  const version = info.ISORELEASE ? `${info.RELEASE}-${info.ISORELEASE}` : info.RELEASE;
  return { product: row.product, displayName: info.PRODUCTLONG || row.displayName, version };
}

export interface DiskInfo {
  /** First word, e.g. "Ubuntu-Server", "Debian". */
  distro: string;
  /** e.g. "24.04.1", "12.8.0". */
  version: string;
}

/** `/.disk/info` of Ubuntu and Debian ISOs: `Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827.1)`. */
export function parseDiskInfo(text: string): DiskInfo | null {
  const line = text.split(/\r?\n/)[0]?.trim() ?? '';
  const m = /^(\S+)(?:\s+GNU\/Linux)?\s+([0-9][0-9A-Za-z.~+-]*)/.exec(line);
  if (!m) return null;
  return { distro: m[1]!, version: m[2]! };
}

/** `version.info` of a Debian netboot tarball: `Debian version:  12 (bookworm)` → "12". */
export function parseNetbootVersion(text: string): string | null {
  const m = /^(?:Debian|Ubuntu) version:\s*([0-9][0-9A-Za-z.~+-]*)/im.exec(text);
  return m ? m[1]! : null;
}

export const ISO_PVD_OFFSET = 32768;

/**
 * Bytes an ISO 9660 image claims to span, from its primary volume descriptor (the 2048 bytes at
 * 32768): volume space size (both-endian, bytes 80..87) × logical block size (128..131).
 * A string when the bytes are not a primary volume descriptor.
 */
export function isoVolumeBytes(pvd: Uint8Array): number | string {
  if (pvd.length < 136) return 'too short for an ISO 9660 volume descriptor';
  const id = String.fromCharCode(...pvd.subarray(1, 6));
  if (pvd[0] !== 1 || id !== 'CD001') return 'no ISO 9660 primary volume descriptor at byte 32768';
  const view = new DataView(pvd.buffer, pvd.byteOffset, pvd.byteLength);
  const blocks = view.getUint32(80, true);
  const blockSize = view.getUint16(128, true);
  if (blocks !== view.getUint32(84, false) || blockSize !== view.getUint16(130, false))
    return 'the volume descriptor is damaged (its two byte orders disagree)';
  if (blockSize !== 2048 && blockSize !== 512 && blockSize !== 1024) return `unusual logical block size ${blockSize}`;
  return blocks * blockSize;
}

/** A name that is safe as one path component (product or version folder). */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
