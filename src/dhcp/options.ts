// DHCP options (RFC 2132 and friends) as raw bytes keyed by code, read and written through one
// table of option codecs: adding an option is one line in DHCP_OPTIONS.
// Pure: no I/O. Reading never throws: an absent or malformed value reads as undefined.
import ipaddr from 'ipaddr.js';
import { joinParts, readOptionArea, writeOptionArea } from './option-area.ts';

export const MessageType = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;
export type MessageTypeName = keyof typeof MessageType;

const MESSAGE_TYPE_NAMES = new Map<number, MessageTypeName>((Object.entries(MessageType) as [MessageTypeName, number][]).map(([name, code]) => [code, name]));

/** "DISCOVER" for 1, "TYPE 42" for codes outside RFC 2132. */
export function messageTypeName(code: number | undefined): string {
  if (code === undefined) return 'BOOTP';
  return MESSAGE_TYPE_NAMES.get(code) ?? `TYPE ${code}`;
}

/** PXE sub-options inside option 43 (PXE spec 2.1). */
export const PxeSub = { DISCOVERY_CONTROL: 6, BOOT_SERVERS: 8, BOOT_MENU: 9, MENU_PROMPT: 10, BOOT_ITEM: 71 } as const;

export interface ClientNdi {
  type: number;
  major: number;
  minor: number;
}

/** How one kind of option value is laid out: bytes to a value (undefined when malformed) and back. */
export interface OptionType<T> {
  /** Names the layout, for tests and messages. */
  readonly name: string;
  decode(bytes: Buffer): T | undefined;
  /** Throws RangeError (or ipaddr's Error for a bad address) when the value cannot be encoded. */
  encode(value: T): Buffer;
}

// ---- the option types ----

function ipBytes(ip: string): Buffer {
  return Buffer.from(ipaddr.IPv4.parse(ip).toByteArray());
}

function ipAt(buf: Buffer, at: number): string {
  return ipaddr.fromByteArray([...buf.subarray(at, at + 4)]).toString();
}

function fixedWidth(name: string, width: 1 | 2 | 4): OptionType<number> {
  return {
    name,
    decode: (b) => (b.length === width ? b.readUIntBE(0, width) : undefined),
    encode: (n) => {
      if (!Number.isInteger(n) || n < 0 || n >= 2 ** (8 * width)) throw new RangeError(`${n} does not fit in ${name}`);
      const b = Buffer.alloc(width);
      b.writeUIntBE(n, 0, width);
      return b;
    },
  };
}

const u8 = fixedWidth('u8', 1);
const u32 = fixedWidth('u32', 4);

const ipv4: OptionType<string> = {
  name: 'ipv4',
  decode: (b) => (b.length === 4 ? ipAt(b, 0) : undefined),
  encode: ipBytes,
};

const ipv4List: OptionType<string[]> = {
  name: 'ipv4 list',
  decode: (b) => {
    if (b.length === 0 || b.length % 4 !== 0) return undefined;
    const out: string[] = [];
    for (let i = 0; i < b.length; i += 4) out.push(ipAt(b, i));
    return out;
  },
  encode: (ips) => Buffer.concat(ips.map(ipBytes)),
};

const u8List: OptionType<number[]> = {
  name: 'u8 list',
  decode: (b) => (b.length > 0 ? [...b] : undefined),
  encode: (codes) => Buffer.concat(codes.map((c) => u8.encode(c))),
};

const u16List: OptionType<number[]> = {
  name: 'u16 list',
  decode: (b) => {
    if (b.length === 0 || b.length % 2 !== 0) return undefined;
    const out: number[] = [];
    for (let i = 0; i < b.length; i += 2) out.push(b.readUInt16BE(i));
    return out;
  },
  encode: (codes) => Buffer.concat(codes.map((c) => fixedWidth('u16', 2).encode(c))),
};

const text: OptionType<string> = {
  name: 'text',
  decode: (b) => {
    // Some clients NUL-terminate text options; the NUL is not part of the value.
    let end = b.length;
    while (end > 0 && b[end - 1] === 0) end--;
    return b.toString('latin1', 0, end);
  },
  encode: (s) => Buffer.from(s, 'latin1'),
};

const bytes: OptionType<Buffer> = {
  name: 'bytes',
  decode: (b) => b,
  encode: (b) => b,
};

/** Option 61: a type byte and at least one byte of identifier (RFC 2132 §9.14). */
const clientId: OptionType<Buffer> = {
  name: 'client id',
  decode: (b) => (b.length >= 2 ? b : undefined),
  encode: (b) => {
    if (b.length < 2) throw new RangeError('a client identifier is a type byte and at least one byte more');
    return b;
  },
};

const ndi: OptionType<ClientNdi> = {
  name: 'client NDI',
  decode: (b) => (b.length === 3 ? { type: b[0]!, major: b[1]!, minor: b[2]! } : undefined),
  encode: (n) => Buffer.concat([n.type, n.major, n.minor].map((v) => u8.encode(v))),
};

// RFC 3004: a list of (length, data) user classes. iPXE sends a bare string instead.
const userClass: OptionType<string[]> = {
  name: 'user class',
  decode: (b) => {
    if (b.length === 0) return undefined;
    const classes: string[] = [];
    let i = 0;
    while (i < b.length) {
      const len = b[i]!;
      if (len === 0 || i + 1 + len > b.length) return [text.decode(b) ?? ''];
      classes.push(b.toString('latin1', i + 1, i + 1 + len));
      i += 1 + len;
    }
    return classes;
  },
  encode: (classes) =>
    Buffer.concat(
      classes.map((c) => {
        const value = Buffer.from(c, 'latin1');
        if (value.length === 0 || value.length > 255) throw new RangeError('a user class is 1 to 255 bytes');
        return Buffer.concat([Buffer.from([value.length]), value]);
      }),
    ),
};

/** Code/length/value sub-options (43, 82, 175); a value over 255 bytes is split and joined again. */
function subOptions(name: string, terminate: boolean): OptionType<Map<number, Buffer>> {
  return { name, decode: parseSubOptions, encode: (sub) => writeOptionArea(sub, terminate) };
}

/** Sub-options read with the packet's own option-area reader; undefined when a length overruns. */
export function parseSubOptions(buf: Buffer): Map<number, Buffer> | undefined {
  const parts = new Map<number, Buffer[]>();
  return readOptionArea(buf, 'sub-options', parts) === null ? joinParts(parts) : undefined;
}

/** Every option type, by name: the property tests round-trip each one. */
export const OPTION_TYPES = {
  u8,
  u32,
  ipv4,
  ipv4List,
  u8List,
  u16List,
  text,
  bytes,
  clientId,
  ndi,
  userClass,
  subOptions: subOptions('sub-options', false),
  // PXE clients expect option 43 to end with 255.
  pxeSubOptions: subOptions('PXE sub-options', true),
} as const;

const T = OPTION_TYPES;

/** The options this project reads or writes, by name: code and value type. */
export const DHCP_OPTIONS = {
  subnetMask: { code: 1, type: T.ipv4 },
  routers: { code: 3, type: T.ipv4List },
  dnsServers: { code: 6, type: T.ipv4List },
  hostname: { code: 12, type: T.text },
  domainName: { code: 15, type: T.text },
  broadcastAddress: { code: 28, type: T.ipv4 },
  pxeVendorOptions: { code: 43, type: T.pxeSubOptions },
  requestedIp: { code: 50, type: T.ipv4 },
  leaseTime: { code: 51, type: T.u32 },
  overload: { code: 52, type: T.u8 },
  messageType: { code: 53, type: T.u8 },
  serverId: { code: 54, type: T.ipv4 },
  paramRequestList: { code: 55, type: T.u8List },
  message: { code: 56, type: T.text },
  renewalTime: { code: 58, type: T.u32 },
  rebindingTime: { code: 59, type: T.u32 },
  vendorClass: { code: 60, type: T.text },
  clientId: { code: 61, type: T.clientId },
  tftpServer: { code: 66, type: T.text },
  bootFile: { code: 67, type: T.text },
  userClass: { code: 77, type: T.userClass },
  relayAgentInfo: { code: 82, type: T.subOptions },
  clientArch: { code: 93, type: T.u16List },
  clientNdi: { code: 94, type: T.ndi },
  /** Raw: callers check for length 17 and type 0 before trusting it. */
  clientUuid: { code: 97, type: T.bytes },
  ipxeOptions: { code: 175, type: T.subOptions },
  /** Proxmox automated installer: where to fetch the answer file. */
  proxmoxAnswerUrl: { code: 250, type: T.text },
  /** Proxmox automated installer: SHA-256 fingerprint of the certificate to pin for that URL. */
  proxmoxCertFingerprint: { code: 251, type: T.text },
} as const satisfies Record<string, { code: number; type: { decode(bytes: Buffer): unknown; encode(value: never): Buffer } }>;

export type OptionName = keyof typeof DHCP_OPTIONS;
export type OptionValue<N extends OptionName> = (typeof DHCP_OPTIONS)[N]['type'] extends OptionType<infer V> ? V : never;

/** Option codes by name, from the table: Opt.bootFile === 67. */
export const Opt = Object.fromEntries(Object.entries(DHCP_OPTIONS).map(([name, o]) => [name, o.code])) as {
  readonly [N in OptionName]: (typeof DHCP_OPTIONS)[N]['code'];
};

export class DhcpOptions {
  readonly raw: Map<number, Buffer>;

  constructor(raw?: Map<number, Buffer>) {
    this.raw = raw ?? new Map<number, Buffer>();
  }

  get(code: number): Buffer | undefined {
    return this.raw.get(code);
  }

  set(code: number, value: Buffer): this {
    if (!Number.isInteger(code) || code <= 0 || code >= 255) throw new RangeError(`option code ${code} cannot be set`);
    this.raw.set(code, value);
    return this;
  }

  delete(code: number): this {
    this.raw.delete(code);
    return this;
  }

  has(code: number): boolean {
    return this.raw.has(code);
  }

  /** The option's value, or undefined when it is absent or malformed. */
  read<N extends OptionName>(name: N): OptionValue<N> | undefined {
    const spec = DHCP_OPTIONS[name];
    const value = this.raw.get(spec.code);
    return value === undefined ? undefined : ((spec.type as OptionType<OptionValue<N>>).decode(value) ?? undefined);
  }

  write<N extends OptionName>(name: N, value: OptionValue<N>): this {
    const spec = DHCP_OPTIONS[name];
    return this.set(spec.code, (spec.type as OptionType<OptionValue<N>>).encode(value));
  }
}
