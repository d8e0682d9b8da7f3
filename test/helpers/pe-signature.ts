// Authenticode signatures of PE images (EFI binaries, Linux's EFI stub): whether one is there,
// and a copy without it, for the Secure Boot test of an unsigned kernel. Reads the PE headers only.
import { readFile, writeFile } from 'node:fs/promises';

/** Offset of the certificate table's data directory entry (index 4), or null when not a PE image. */
function securityEntry(image: Buffer): number | null {
  if (image.length < 0x40 || image.readUInt16LE(0) !== 0x5a4d) return null;
  const pe = image.readUInt32LE(0x3c);
  if (pe + 24 > image.length || image.readUInt32LE(pe) !== 0x00004550) return null;
  const optional = pe + 24;
  const magic = image.readUInt16LE(optional);
  // Data directories start at 96 (PE32) or 112 (PE32+) into the optional header; 8 bytes each.
  const directories = optional + (magic === 0x20b ? 112 : 96);
  return directories + 4 * 8;
}

/** Size of the Authenticode signature block, 0 when unsigned; throws when not a PE image. */
export function signatureSize(image: Buffer): number {
  const entry = securityEntry(image);
  if (entry === null) throw new Error('not a PE image');
  return image.readUInt32LE(entry + 4);
}

/** Writes `from` without its signature to `to` (what an unsigned build of the same kernel is to shim). */
export async function writeUnsignedCopy(from: string, to: string): Promise<void> {
  const image = Buffer.from(await readFile(from));
  const entry = securityEntry(image);
  if (entry === null) throw new Error(`${from} is not a PE image`);
  const offset = image.readUInt32LE(entry);
  const size = image.readUInt32LE(entry + 4);
  if (size === 0) throw new Error(`${from} carries no signature`);
  image.writeUInt32LE(0, entry);
  image.writeUInt32LE(0, entry + 4);
  await writeFile(to, image.subarray(0, offset));
}
