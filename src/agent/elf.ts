// The shared libraries an ELF file asks for (its DT_NEEDED entries), read from the bytes: the agent
// image carries a dynamically linked tool with exactly the libraries it loads, found by following
// these names, without running the file or needing binutils. Pure; 64-bit little-endian only
// (amd64 and arm64, the agent's architectures).

export type NeededResult = { ok: true; needed: string[] } | { ok: false; reason: string };

const SHT_DYNAMIC = 6;
const DT_NULL = 0n;
const DT_NEEDED = 1n;

/** The DT_NEEDED names of a 64-bit little-endian ELF file, in order; never throws. */
export function elfNeeded(bytes: Uint8Array): NeededResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (reason: string): NeededResult => ({ ok: false, reason });
  if (bytes.length < 64 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) return fail('not an ELF file');
  if (bytes[4] !== 2 || bytes[5] !== 1) return fail('not a 64-bit little-endian ELF file');
  const shoff = view.getBigUint64(0x28, true);
  const shentsize = view.getUint16(0x3a, true);
  const shnum = view.getUint16(0x3c, true);
  if (shnum === 0) return { ok: true, needed: [] };
  if (shentsize < 64) return fail(`section header size ${shentsize} is too small`);
  const inFile = (offset: bigint, size: bigint): boolean => offset >= 0n && size >= 0n && offset + size <= BigInt(bytes.length);
  if (!inFile(shoff, BigInt(shentsize) * BigInt(shnum))) return fail('the section headers lie outside the file');
  const section = (i: number) => {
    const at = Number(shoff) + i * shentsize;
    return {
      type: view.getUint32(at + 4, true),
      offset: view.getBigUint64(at + 0x18, true),
      size: view.getBigUint64(at + 0x20, true),
      link: view.getUint32(at + 0x28, true),
    };
  };
  const needed: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const dyn = section(i);
    if (dyn.type !== SHT_DYNAMIC) continue;
    if (!inFile(dyn.offset, dyn.size)) return fail(`the dynamic section lies outside the file`);
    if (dyn.link >= shnum) return fail(`the dynamic section's string table ${dyn.link} does not exist`);
    const strtab = section(dyn.link);
    if (!inFile(strtab.offset, strtab.size)) return fail(`the dynamic string table lies outside the file`);
    const count = Number(dyn.size / 16n);
    for (let e = 0; e < count; e++) {
      const at = Number(dyn.offset) + e * 16;
      const tag = view.getBigInt64(at, true);
      if (tag === DT_NULL) break;
      if (tag !== DT_NEEDED) continue;
      const name = view.getBigUint64(at + 8, true);
      if (name >= strtab.size) return fail(`a needed name's offset ${name} is outside the string table`);
      const start = Number(strtab.offset + name);
      const end = bytes.indexOf(0, start);
      if (end < 0 || end >= Number(strtab.offset + strtab.size)) return fail('a needed name is not terminated');
      const text = new TextDecoder().decode(bytes.subarray(start, end));
      if (!/^[A-Za-z0-9._+-]+$/.test(text)) return fail(`a needed name is not a library file name: ${JSON.stringify(text.slice(0, 64))}`);
      needed.push(text);
    }
  }
  return { ok: true, needed };
}
