// The code/length/value layout shared by a DHCP packet's option areas (RFC 2132) and by the
// sub-options inside options 43, 82 and 175. Pure: no I/O.

/**
 * Walks one area, appending each value to `into` under its code (RFC 3396: repeated codes
 * concatenate, in the order read). Pad (0) is skipped, 255 ends the area; a missing end is
 * tolerated (some ROMs stop at the last option). Returns an error message, or null.
 */
export function readOptionArea(area: Buffer, where: string, into: Map<number, Buffer[]>): string | null {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) return null;
    if (i + 1 >= area.length) return `option ${code} in ${where} has no length byte`;
    const len = area[i + 1]!;
    if (i + 2 + len > area.length) return `option ${code} in ${where} claims ${len} bytes, ${area.length - i - 2} left`;
    const parts = into.get(code);
    const value = area.subarray(i + 2, i + 2 + len);
    if (parts) parts.push(value);
    else into.set(code, [value]);
    i += 2 + len;
  }
  return null;
}

/** Each code's parts joined, copied out of the area they were read from. */
export function joinParts(parts: Map<number, Buffer[]>): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const [code, values] of parts) out.set(code, Buffer.concat(values));
  return out;
}

/**
 * Lays out code/length/value entries; a value over 255 bytes is split into repeated instances
 * (RFC 3396), an empty one is written with length 0. `terminate` appends the end code 255.
 */
export function writeOptionArea(entries: Iterable<[number, Buffer]>, terminate: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of entries) {
    if (!Number.isInteger(code) || code <= 0 || code >= 255) throw new RangeError(`option code ${code} cannot be encoded`);
    if (value.length === 0) parts.push(Buffer.from([code, 0]));
    for (let at = 0; at < value.length; at += 255) {
      const chunk = value.subarray(at, at + 255);
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  if (terminate) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}
