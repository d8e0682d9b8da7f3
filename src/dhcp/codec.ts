// BOOTP/DHCP packet codec (RFC 951, RFC 2131, RFC 2132 overload, RFC 3396 long options).
// Pure: bytes in, a typed packet or a typed error out. Every length is checked before use.
import ipaddr from 'ipaddr.js';
import { normaliseMac } from '../net/mac.ts';
import { joinParts, readOptionArea, writeOptionArea } from './option-area.ts';
import { DhcpOptions, Opt } from './options.ts';

export interface DhcpPacket {
  op: 1 | 2;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  /** Bit 15 (0x8000) = broadcast. */
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 bytes as on the wire. */
  chaddr: Buffer;
  /** NUL-trimmed; '' when the field was overloaded with options. */
  sname: string;
  file: string;
  options: DhcpOptions;
}

export type DhcpParseError = { code: 'truncated' | 'bad-magic' | 'bad-option' | 'bad-op' | 'bad-hlen'; message: string };

export type DhcpParseResult = { ok: true; packet: DhcpPacket } | { ok: false; error: DhcpParseError };

export const BROADCAST_FLAG = 0x8000;
export const MAGIC_COOKIE = 0x63825363;

// Fixed header layout (RFC 2131 figure 1).
const SNAME_AT = 44;
const SNAME_LEN = 64;
const FILE_AT = 108;
const FILE_LEN = 128;
const MAGIC_AT = 236;
const OPTIONS_AT = 240;
/** RFC 2131 §2 / RFC 1542: BOOTP relays and old clients expect at least 300 bytes. */
export const MIN_PACKET = 300;

function fail(code: DhcpParseError['code'], message: string): DhcpParseResult {
  return { ok: false, error: { code, message } };
}

function ipAt(buf: Uint8Array, at: number): string {
  return ipaddr.fromByteArray([buf[at]!, buf[at + 1]!, buf[at + 2]!, buf[at + 3]!]).toString();
}

function nulTrimmed(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('latin1', 0, end < 0 ? buf.length : end);
}

export function parseDhcp(bytes: Uint8Array): DhcpParseResult {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < OPTIONS_AT) return fail('truncated', `${buf.length} bytes; a DHCP packet has at least ${OPTIONS_AT}`);
  const op = buf[0]!;
  if (op !== 1 && op !== 2) return fail('bad-op', `op ${op} is neither BOOTREQUEST (1) nor BOOTREPLY (2)`);
  const hlen = buf[2]!;
  if (hlen > 16) return fail('bad-hlen', `hardware address length ${hlen} exceeds the 16-byte chaddr field`);
  if (buf.readUInt32BE(MAGIC_AT) !== MAGIC_COOKIE) return fail('bad-magic', `magic cookie 0x${buf.readUInt32BE(MAGIC_AT).toString(16)} is not 0x63825363`);

  const parts = new Map<number, Buffer[]>();
  const error = readOptionArea(buf.subarray(OPTIONS_AT), 'options', parts);
  if (error) return fail('bad-option', error);

  const fileField = buf.subarray(FILE_AT, FILE_AT + FILE_LEN);
  const snameField = buf.subarray(SNAME_AT, SNAME_AT + SNAME_LEN);
  let file = nulTrimmed(fileField);
  let sname = nulTrimmed(snameField);

  const overloadParts = parts.get(Opt.overload);
  if (overloadParts) {
    const overload = Buffer.concat(overloadParts);
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) return fail('bad-option', `option 52 (overload) must be one byte 1-3`);
    // Option 52 inside an overloaded field would be meaningless; only the main area's counts.
    const extra = new Map<number, Buffer[]>();
    if (overload[0]! & 1) {
      const e = readOptionArea(fileField, 'file', extra);
      if (e) return fail('bad-option', e);
      file = '';
    }
    if (overload[0]! & 2) {
      const e = readOptionArea(snameField, 'sname', extra);
      if (e) return fail('bad-option', e);
      sname = '';
    }
    extra.delete(Opt.overload);
    for (const [code, values] of extra) {
      const existing = parts.get(code);
      if (existing) existing.push(...values);
      else parts.set(code, values);
    }
    parts.delete(Opt.overload);
  }

  const raw = joinParts(parts);

  return {
    ok: true,
    packet: {
      op,
      htype: buf[1]!,
      hlen,
      hops: buf[3]!,
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: ipAt(buf, 12),
      yiaddr: ipAt(buf, 16),
      siaddr: ipAt(buf, 20),
      giaddr: ipAt(buf, 24),
      chaddr: Buffer.from(buf.subarray(28, 44)),
      sname,
      file,
      options: new DhcpOptions(raw),
    },
  };
}

function writeIp(buf: Buffer, at: number, ip: string): void {
  const bytes = ipaddr.IPv4.parse(ip).toByteArray();
  for (let k = 0; k < 4; k++) buf[at + k] = bytes[k]!;
}

function writeField(buf: Buffer, at: number, size: number, text: string, name: string): void {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > size) throw new RangeError(`${name} is ${bytes.length} bytes; the field holds ${size}`);
  bytes.copy(buf, at);
}

// Message type first: some ROMs look for it at the start of the option area.
function optionOrder(codes: number[]): number[] {
  return [...codes.filter((c) => c === Opt.messageType), ...codes.filter((c) => c !== Opt.messageType)];
}

/** Encodes a packet; options over 255 bytes are split (RFC 3396); padded to at least 300 bytes. */
export function encodeDhcp(packet: DhcpPacket): Buffer {
  const header = Buffer.alloc(OPTIONS_AT);
  header[0] = packet.op;
  header[1] = packet.htype;
  header[2] = packet.hlen;
  header[3] = packet.hops;
  header.writeUInt32BE(packet.xid >>> 0, 4);
  header.writeUInt16BE(packet.secs & 0xffff, 8);
  header.writeUInt16BE(packet.flags & 0xffff, 10);
  writeIp(header, 12, packet.ciaddr);
  writeIp(header, 16, packet.yiaddr);
  writeIp(header, 20, packet.siaddr);
  writeIp(header, 24, packet.giaddr);
  packet.chaddr.copy(header, 28, 0, Math.min(16, packet.chaddr.length));
  writeField(header, SNAME_AT, SNAME_LEN, packet.sname, 'sname');
  writeField(header, FILE_AT, FILE_LEN, packet.file, 'file');
  header.writeUInt32BE(MAGIC_COOKIE, MAGIC_AT);

  const raw = packet.options.raw;
  // Overload is a property of one encoding, not of the option set; we never overload.
  const codes = optionOrder([...raw.keys()]).filter((code) => code !== Opt.overload);
  const options = writeOptionArea(
    codes.map((code) => [code, raw.get(code)!]),
    true,
  );
  const body = Buffer.concat([header, options]);
  if (body.length >= MIN_PACKET) return body;
  return Buffer.concat([body, Buffer.alloc(MIN_PACKET - body.length)]);
}

/** The client's MAC in lower-case colon form, when the hardware is Ethernet (htype 1, hlen 6). */
export function clientMac(packet: DhcpPacket): string | null {
  if (packet.htype !== 1 || packet.hlen !== 6 || packet.chaddr.length < 6) return null;
  return normaliseMac(packet.chaddr.subarray(0, 6).toString('hex'));
}

/** A fresh packet with every field zeroed, for building replies and test requests. */
export function emptyPacket(op: 1 | 2): DhcpPacket {
  return {
    op,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: Buffer.alloc(16),
    sname: '',
    file: '',
    options: new DhcpOptions(),
  };
}

/** A BOOTREPLY carrying the request's identity (htype, hlen, xid, flags, giaddr, chaddr), all else zeroed. */
export function replyFrame(request: DhcpPacket): DhcpPacket {
  return {
    ...emptyPacket(2),
    htype: request.htype,
    hlen: request.hlen,
    xid: request.xid,
    flags: request.flags,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr),
  };
}
