// A machine's identity from its firmware: the UUID in one normal form, and the placeholder values
// boards ship with that must never select a machine. Pure.
//
// UUID byte order. SMBIOS 2.6 and later store the first three fields of the system UUID
// little-endian; the Linux kernel (/sys/class/dmi/id/product_uuid) and dmidecode print them
// swapped back, so "12345678-9abc-def0-…" given to QEMU's -smbios reads back the same. DHCP
// option 97 (and iPXE's ${uuid} on firmware that sends the stored bytes) carry the 16 bytes as
// stored: the same machine then shows up as "78563412-bc9a-f0de-…". The normal form is the one
// the kernel prints: lower-case, hyphenated, first three fields as SMBIOS ≥ 2.6 means them.
// A value from raw bytes is brought to it with uuidFromBytes(bytes, 'smbios-le').

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Lower-case hyphenated form of a UUID given with or without hyphens or braces, any case; null when not a UUID. */
export function uuidNormalForm(text: string): string | null {
  const hex = text
    .trim()
    .replace(/^\{(.*)\}$/, '$1')
    .toLowerCase();
  const bare = hex.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(bare)) return null;
  if (hex.includes('-') && !CANONICAL.test(hex)) return null;
  return `${bare.slice(0, 8)}-${bare.slice(8, 12)}-${bare.slice(12, 16)}-${bare.slice(16, 20)}-${bare.slice(20)}`;
}

function reverseHex(hex: string): string {
  return (hex.match(/../g) ?? []).reverse().join('');
}

/** The same 16 bytes with the first three fields' byte order reversed (its own inverse). */
export function swapUuidFields(uuid: string): string {
  const u = uuidNormalForm(uuid);
  if (u === null) throw new Error(`not a UUID: ${uuid}`);
  const [a, b, c, ...rest] = u.split('-');
  return [reverseHex(a!), reverseHex(b!), reverseHex(c!), ...rest].join('-');
}

/**
 * A UUID from its 16 stored bytes: 'raw' prints them in order (RFC 4122 network order);
 * 'smbios-le' reads the first three fields little-endian, as SMBIOS ≥ 2.6 stores them (the normal form).
 */
export function uuidFromBytes(bytes: Uint8Array, order: 'raw' | 'smbios-le'): string {
  if (bytes.length !== 16) throw new Error(`a UUID has 16 bytes, not ${bytes.length}`);
  const hex = Buffer.from(bytes).toString('hex');
  const raw = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return order === 'raw' ? raw : swapUuidFields(raw);
}

/** Board defaults, in both byte orders (a value seen through option 97 arrives swapped). */
const PLACEHOLDER_UUIDS = new Set(
  ['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '03000200-0400-0500-0006-000700080009'].flatMap((u) => [
    u,
    swapUuidFields(u),
  ]),
);

/** True for a UUID that many machines share (all 0, all F, the common board default) or that is not a UUID at all. */
export function isPlaceholderUuid(uuid: string): boolean {
  const u = uuidNormalForm(uuid);
  return u === null || PLACEHOLDER_UUIDS.has(u);
}

/** Serials vendors leave in the firmware (compared case-insensitively, trimmed, "." and spaces ignored at the ends). */
const PLACEHOLDER_SERIALS = new Set([
  'to be filled by o.e.m.',
  'to be filled by oem',
  'default string',
  'system serial number',
  'chassis serial number',
  'base board serial number',
  'serial number',
  'not specified',
  'not applicable',
  'not available',
  'none',
  'n/a',
  'na',
  'oem',
  'o.e.m.',
  'unknown',
  'default',
  'n-a',
  'serial',
  'empty',
  'invalid',
  '0123456789',
  '123456789',
  '1234567890',
]);

/** True for a serial that does not tell machines apart: empty, a vendor default, or one character repeated (0000, FFFF, XXXX, ....). */
export function isPlaceholderSerial(serial: string): boolean {
  const s = serial.trim().toLowerCase();
  if (s === '') return true;
  if (PLACEHOLDER_SERIALS.has(s)) return true;
  return /^(.)\1*$/.test(s.replace(/\s+/g, ''));
}
