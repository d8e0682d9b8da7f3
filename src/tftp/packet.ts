// TFTP packet codec (RFC 1350, RFC 2347 OACK). Pure: bytes in, a typed packet or a typed error out.

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** Error codes of RFC 1350 and RFC 2347. */
export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

export type TransferMode = 'octet' | 'netascii';

/** One option as the client wrote it: name lower-cased (RFC 2347 says case-insensitive), value raw. */
export interface RequestOption {
  name: string;
  value: string;
}

export interface RequestPacket {
  opcode: typeof Opcode.RRQ | typeof Opcode.WRQ;
  filename: string;
  mode: TransferMode;
  options: RequestOption[];
}

export interface DataPacket {
  opcode: typeof Opcode.DATA;
  /** Block number as on the wire (16 bits; wraps past 65535). */
  block: number;
  data: Buffer;
}

export interface AckPacket {
  opcode: typeof Opcode.ACK;
  block: number;
}

export interface ErrorPacket {
  opcode: typeof Opcode.ERROR;
  code: number;
  message: string;
}

export interface OackPacket {
  opcode: typeof Opcode.OACK;
  options: RequestOption[];
}

export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type PacketErrorKind = 'empty' | 'truncated' | 'too-large' | 'bad-opcode' | 'unterminated' | 'bad-filename' | 'unknown-mode' | 'bad-option';

/** Why a datagram is not a TFTP packet we can use; `message` is for a log line. */
export class TftpPacketError extends Error {
  constructor(
    readonly kind: PacketErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'TftpPacketError';
  }
}

export type ParseResult = { ok: true; packet: TftpPacket } | { ok: false; error: TftpPacketError };

/** Largest DATA payload RFC 2348 allows; also bounds every datagram we accept. */
export const MAX_BLKSIZE = 65464;
const MAX_DATAGRAM = MAX_BLKSIZE + 4;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(kind: PacketErrorKind, message: string): ParseResult {
  return { ok: false, error: new TftpPacketError(kind, message) };
}

/** Splits NUL-terminated strings from `start`; `rest` is what follows the last NUL. */
function splitStrings(buf: Buffer, start: number): { fields: Buffer[]; rest: Buffer } {
  const fields: Buffer[] = [];
  let from = start;
  for (;;) {
    const nul = buf.indexOf(0, from);
    if (nul < 0) return { fields, rest: buf.subarray(from) };
    fields.push(buf.subarray(from, nul));
    from = nul + 1;
  }
}

function decodeText(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

function parseRequest(opcode: typeof Opcode.RRQ | typeof Opcode.WRQ, buf: Buffer): ParseResult {
  const { fields, rest } = splitStrings(buf, 2);
  const [rawName, rawMode, ...optionFields] = fields;
  if (rawName === undefined) return fail('unterminated', 'filename is not NUL-terminated');
  if (rawMode === undefined) return fail('unterminated', 'mode is not NUL-terminated');
  const filename = decodeText(rawName);
  if (filename === null) return fail('bad-filename', 'filename is not valid UTF-8');
  if (filename.length === 0) return fail('bad-filename', 'filename is empty');
  const modeText = rawMode.toString('latin1').toLowerCase();
  if (modeText !== 'octet' && modeText !== 'netascii') {
    return fail('unknown-mode', `mode ${JSON.stringify(modeText.slice(0, 32))} is not octet or netascii`);
  }
  // Some PXE ROMs pad requests with NULs: empty fields and an all-NUL tail end the option list.
  if (rest.length > 0) return fail('unterminated', 'request ends inside an unterminated string');
  const options: RequestOption[] = [];
  for (let i = 0; i < optionFields.length; i += 2) {
    const rawOptName = optionFields[i];
    if (rawOptName === undefined || rawOptName.length === 0) break;
    const rawValue = optionFields[i + 1];
    if (rawValue === undefined) return fail('bad-option', `option ${rawOptName.toString('latin1').slice(0, 32)} has no value`);
    const name = decodeText(rawOptName);
    const value = decodeText(rawValue);
    if (name === null || value === null) return fail('bad-option', 'option is not valid UTF-8');
    options.push({ name: name.toLowerCase(), value });
  }
  return { ok: true, packet: { opcode, filename, mode: modeText, options } };
}

function parseOack(buf: Buffer): ParseResult {
  const { fields, rest } = splitStrings(buf, 2);
  if (rest.length > 0) return fail('unterminated', 'OACK ends inside an unterminated string');
  if (fields.length % 2 !== 0) return fail('bad-option', 'OACK has an option without a value');
  const options: RequestOption[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = decodeText(fields[i]!);
    const value = decodeText(fields[i + 1]!);
    if (name === null || value === null || name.length === 0) return fail('bad-option', 'OACK option is empty or not UTF-8');
    options.push({ name: name.toLowerCase(), value });
  }
  return { ok: true, packet: { opcode: Opcode.OACK, options } };
}

/** Decodes one datagram. Never throws. */
export function parsePacket(buf: Buffer): ParseResult {
  if (buf.length === 0) return fail('empty', 'empty datagram');
  if (buf.length < 2) return fail('truncated', 'datagram shorter than an opcode');
  if (buf.length > MAX_DATAGRAM) return fail('too-large', `datagram of ${buf.length} bytes exceeds ${MAX_DATAGRAM}`);
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return parseRequest(opcode, buf);
    case Opcode.DATA:
      if (buf.length < 4) return fail('truncated', 'DATA shorter than its header');
      return { ok: true, packet: { opcode, block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case Opcode.ACK:
      if (buf.length < 4) return fail('truncated', 'ACK shorter than 4 bytes');
      return { ok: true, packet: { opcode, block: buf.readUInt16BE(2) } };
    case Opcode.ERROR: {
      if (buf.length < 4) return fail('truncated', 'ERROR shorter than its header');
      // Clients often omit the message's NUL; take what is there.
      const end = buf.indexOf(0, 4);
      const message = buf.subarray(4, end < 0 ? buf.length : end).toString('utf8');
      return { ok: true, packet: { opcode, code: buf.readUInt16BE(2), message } };
    }
    case Opcode.OACK:
      return parseOack(buf);
    default:
      return fail('bad-opcode', `opcode ${opcode} is not a TFTP opcode`);
  }
}

function encodeStrings(opcode: number, strings: string[]): Buffer {
  const parts = strings.map((s) => Buffer.from(s, 'utf8'));
  const length = 2 + parts.reduce((sum, p) => sum + p.length + 1, 0);
  const out = Buffer.alloc(length);
  out.writeUInt16BE(opcode, 0);
  let at = 2;
  for (const part of parts) {
    part.copy(out, at);
    at += part.length + 1; // the NUL is already there: Buffer.alloc zero-fills
  }
  return out;
}

export function encodeRequest(packet: Omit<RequestPacket, 'opcode'> & { opcode?: RequestPacket['opcode'] }): Buffer {
  const strings = [packet.filename, packet.mode];
  for (const option of packet.options) strings.push(option.name, option.value);
  return encodeStrings(packet.opcode ?? Opcode.RRQ, strings);
}

/** Opcode and a 16-bit block number: an ACK, or the header of a DATA. */
function opcodeAndBlock(opcode: number, block: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt16BE(opcode, 0);
  out.writeUInt16BE(block & 0xffff, 2);
  return out;
}

/** The 4-byte DATA header; sent together with the payload so the payload is never copied. */
export function encodeDataHeader(block: number): Buffer {
  return opcodeAndBlock(Opcode.DATA, block);
}

export function encodeData(block: number, data: Buffer): Buffer {
  return Buffer.concat([encodeDataHeader(block), data]);
}

export function encodeAck(block: number): Buffer {
  return opcodeAndBlock(Opcode.ACK, block);
}

export function encodeError(code: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const out = Buffer.alloc(5 + text.length);
  out.writeUInt16BE(Opcode.ERROR, 0);
  out.writeUInt16BE(code & 0xffff, 2);
  text.copy(out, 4);
  return out;
}

export function encodeOack(options: RequestOption[]): Buffer {
  const strings: string[] = [];
  for (const option of options) strings.push(option.name, option.value);
  return encodeStrings(Opcode.OACK, strings);
}

export function encodePacket(packet: TftpPacket): Buffer {
  switch (packet.opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return encodeRequest(packet);
    case Opcode.DATA:
      return encodeData(packet.block, packet.data);
    case Opcode.ACK:
      return encodeAck(packet.block);
    case Opcode.ERROR:
      return encodeError(packet.code, packet.message);
    case Opcode.OACK:
      return encodeOack(packet.options);
  }
}
