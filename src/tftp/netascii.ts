// RFC 1350 netascii from local (Unix) text: LF becomes CR LF, a bare CR becomes CR NUL. Pure.

const CR = 0x0d;
const LF = 0x0a;

export function toNetascii(text: Buffer): Buffer {
  let extra = 0;
  for (const byte of text) if (byte === CR || byte === LF) extra += 1;
  if (extra === 0) return text;
  const out = Buffer.alloc(text.length + extra);
  let at = 0;
  for (const byte of text) {
    if (byte === LF) {
      out[at++] = CR;
      out[at++] = LF;
    } else if (byte === CR) {
      out[at++] = CR;
      at++; // NUL: Buffer.alloc zero-fills
    } else {
      out[at++] = byte;
    }
  }
  return out;
}

/** The inverse, as a receiving client does it; for tests and tools. */
export function fromNetascii(wire: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < wire.length; i++) {
    const byte = wire[i]!;
    if (byte === CR && wire[i + 1] === LF) {
      out.push(LF);
      i++;
    } else if (byte === CR && wire[i + 1] === 0) {
      out.push(CR);
      i++;
    } else {
      out.push(byte);
    }
  }
  return Buffer.from(out);
}
