// MAC addresses as every layer spells them: lower-case colon form.

const COLON_FORM = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const HYPHEN_FORM = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/;

/** Parse a MAC in colon, hyphen, dot (aabb.ccdd.eeff) or bare form, any case. Returns lower-case colon form or null. */
export function normaliseMac(input: string): string | null {
  if (typeof input !== 'string' || input.length > 17) return null;
  const hex = input.toLowerCase();
  // The spellings iPXE and the stores send, without rebuilding the string.
  if (COLON_FORM.test(hex)) return hex;
  if (HYPHEN_FORM.test(hex)) return hex.replaceAll('-', ':');
  let bare: string;
  if (/^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/.test(hex)) bare = hex.replace(/[:-]/g, '');
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(hex)) bare = hex.replace(/\./g, '');
  else if (/^[0-9a-f]{12}$/.test(hex)) bare = hex;
  else return null;
  return bare.match(/../g)!.join(':');
}

/** File-name form of a normalised MAC: aa-bb-cc-dd-ee-ff */
export function macFileName(mac: string): string {
  return mac.replace(/:/g, '-');
}
