// Validation and normal forms of the keys an answer file is chosen by: MAC, DMI serial, DMI UUID, product.
// A key reaches the file system only after passing one of these patterns, and then only to be
// compared with names read from the answers folder, never joined into a path.
import { normaliseMac } from '../net/mac.ts';
import { productRowOfProfile } from '../boot/products.ts';
import { isPlaceholderSerial, isPlaceholderUuid } from '../agent/identity.ts';

export type KeyRule = 'mac' | 'serial' | 'uuid';

const SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRODUCT = /^[a-z][a-z0-9-]{0,31}$/;

/** A DMI serial usable as a key, trimmed; null for empty, odd characters or a vendor placeholder. */
export function normaliseSerial(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const s = input.trim();
  // '..' cannot reach a path here (no separator gets through), but no real serial has one either.
  if (!SERIAL.test(s) || s.includes('..')) return null;
  // A placeholder firmware ships unfilled: matching a file by it would give many machines one answer.
  if (isPlaceholderSerial(s)) return null;
  return s;
}

/** A DMI UUID in lower-case canonical form; null for malformed ones and placeholders (all 0, all F, board defaults). */
export function normaliseUuid(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const u = input.trim().toLowerCase();
  if (!UUID.test(u)) return null;
  if (isPlaceholderUuid(u)) return null;
  return u;
}

/** A product short name (pve, pbs, pmg, or a folder name under [assets] dir). */
export function normaliseProduct(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  const p = input.trim().toLowerCase();
  return PRODUCT.test(p) ? p : null;
}

/** The key a value stands for under a rule; serials compare case-insensitively. */
export function keyOf(rule: KeyRule, value: string): string | null {
  switch (rule) {
    case 'mac':
      return normaliseMac(value);
    case 'serial':
      return normaliseSerial(value)?.toLowerCase() ?? null;
    case 'uuid':
      return normaliseUuid(value);
  }
}

/**
 * The key an entry of the answers folder stands for: `aa-bb-cc-dd-ee-ff.toml` → `aa:bb:cc:dd:ee:ff`.
 * Null when the name does not end in `suffix` or the rest is not a valid key.
 */
export function keyOfEntryName(rule: KeyRule, name: string, suffix: string): string | null {
  if (!name.endsWith(suffix) || name.length === suffix.length) return null;
  return keyOf(rule, name.slice(0, name.length - suffix.length));
}

/** "proxmox-ve/9.1-1" → "pve": the product name the profile's installer sends (src/boot/products.ts); null for installers that send none. */
export function proxmoxProductOfProfile(profile: string | null | undefined): string | null {
  return productRowOfProfile(profile)?.shortName ?? null;
}
