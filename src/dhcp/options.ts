// DHCP options (RFC 2132 and friends) as raw bytes keyed by code, with typed views.
// Pure: no I/O. Typed getters never throw: absent or malformed values read as undefined.
import ipaddr from 'ipaddr.js';

export const MessageType = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;
export type MessageTypeName = keyof typeof MessageType;

const MESSAGE_TYPE_NAMES = new Map<number, MessageTypeName>(
  (Object.entries(MessageType) as [MessageTypeName, number][]).map(([name, code]) => [code, name]),
);

/** "DISCOVER" for 1, "TYPE 42" for codes outside RFC 2132. */
export function messageTypeName(code: number | undefined): string {
  if (code === undefined) return 'BOOTP';
  return MESSAGE_TYPE_NAMES.get(code) ?? `TYPE ${code}`;
}

/** Option codes this project reads or writes by name. */
export const Opt = {
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  RELAY_AGENT: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  DOMAIN_SEARCH: 119,
  CLASSLESS_ROUTES: 121,
  IPXE_ENCAP: 175,
  PROXMOX_ANSWER_URL: 250,
  PROXMOX_CERT_FINGERPRINT: 251,
} as const;

/** PXE sub-options inside option 43 (PXE spec 2.1). */
export const PxeSub = { DISCOVERY_CONTROL: 6, BOOT_SERVERS: 8, BOOT_MENU: 9, MENU_PROMPT: 10, BOOT_ITEM: 71 } as const;

export interface ClasslessRoute {
  /** CIDR, e.g. "10.1.0.0/16"; "0.0.0.0/0" is the default route. */
  destination: string;
  router: string;
}

export interface ClientNdi {
  type: number;
  major: number;
  minor: number;
}

// ---- byte helpers ----

function ipBytes(ip: string): Buffer {
  return Buffer.from(ipaddr.IPv4.parse(ip).toByteArray());
}

function ipAt(buf: Buffer, at: number): string {
  return ipaddr.fromByteArray([...buf.subarray(at, at + 4)]).toString();
}

function readIp(buf: Buffer | undefined): string | undefined {
  return buf && buf.length === 4 ? ipAt(buf, 0) : undefined;
}

function readIpList(buf: Buffer | undefined): string[] | undefined {
  if (!buf || buf.length === 0 || buf.length % 4 !== 0) return undefined;
  const out: string[] = [];
  for (let i = 0; i < buf.length; i += 4) out.push(ipAt(buf, i));
  return out;
}

function readU8(buf: Buffer | undefined): number | undefined {
  return buf && buf.length === 1 ? buf[0] : undefined;
}

function readU16(buf: Buffer | undefined): number | undefined {
  return buf && buf.length === 2 ? buf.readUInt16BE(0) : undefined;
}

function readU32(buf: Buffer | undefined): number | undefined {
  return buf && buf.length === 4 ? buf.readUInt32BE(0) : undefined;
}

function readText(buf: Buffer | undefined): string | undefined {
  if (!buf) return undefined;
  // Some clients NUL-terminate text options; the NUL is not part of the value.
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return buf.toString('latin1', 0, end);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Parses code/length/value sub-options (option 43, 82, 175). Pad (0) skipped, 255 ends. Undefined when a length overruns. */
export function parseSubOptions(buf: Buffer): Map<number, Buffer> | undefined {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < buf.length) {
    const code = buf[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) break;
    if (i + 1 >= buf.length) return undefined;
    const len = buf[i + 1]!;
    if (i + 2 + len > buf.length) return undefined;
    const value = Buffer.from(buf.subarray(i + 2, i + 2 + len));
    const previous = out.get(code);
    out.set(code, previous ? Buffer.concat([previous, value]) : value);
    i += 2 + len;
  }
  return out;
}

/** Encodes sub-options; values over 255 bytes are split into repeated instances (joined again on parse). */
export function encodeSubOptions(sub: Map<number, Buffer>, terminate: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of sub) {
    if (code === 0 || code === 255 || !Number.isInteger(code) || code < 0 || code > 255) throw new RangeError(`sub-option code ${code} cannot be encoded`);
    if (value.length === 0) parts.push(Buffer.from([code, 0]));
    for (let at = 0; at < value.length; at += 255) {
      const chunk = value.subarray(at, at + 255);
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  }
  if (terminate) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

/** Option 43 for PXE clients: PXE sub-options, 255-terminated. */
export function encodePxeVendorOptions(sub: Map<number, Buffer>): Buffer {
  return encodeSubOptions(sub, true);
}

// RFC 3004: a list of (length, data) user classes. iPXE sends a bare string instead.
function parseUserClass(buf: Buffer): string[] {
  const classes: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const len = buf[i]!;
    if (len === 0 || i + 1 + len > buf.length) return [readText(buf) ?? ''];
    classes.push(buf.toString('latin1', i + 1, i + 1 + len));
    i += 1 + len;
  }
  return classes;
}

// RFC 1035 names with RFC 1035 §4.1.4 compression pointers, as option 119 carries them (RFC 3397).
function parseDomainSearch(buf: Buffer): string[] | undefined {
  const names: string[] = [];
  let i = 0;
  while (i < buf.length) {
    const labels: string[] = [];
    let at = i;
    let next = -1;
    let jumps = 0;
    for (;;) {
      if (at >= buf.length) return undefined;
      const len = buf[at]!;
      if (len === 0) {
        if (next < 0) next = at + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (at + 1 >= buf.length) return undefined;
        const target = ((len & 0x3f) << 8) | buf[at + 1]!;
        // A pointer must point backwards; bounding jumps stops loops.
        if (target >= at || ++jumps > 64) return undefined;
        if (next < 0) next = at + 2;
        at = target;
        continue;
      }
      if ((len & 0xc0) !== 0 || at + 1 + len > buf.length) return undefined;
      labels.push(buf.toString('latin1', at + 1, at + 1 + len));
      at += 1 + len;
    }
    names.push(labels.join('.'));
    i = next;
  }
  return names;
}

function encodeDomainSearch(names: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const name of names) {
    for (const label of name.split('.').filter((l) => l.length > 0)) {
      const bytes = Buffer.from(label, 'latin1');
      if (bytes.length > 63) throw new RangeError(`domain label '${label}' is longer than 63 bytes`);
      parts.push(Buffer.from([bytes.length]), bytes);
    }
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

// RFC 3442: prefix length, the significant octets of the destination, then the router.
function parseClasslessRoutes(buf: Buffer): ClasslessRoute[] | undefined {
  const routes: ClasslessRoute[] = [];
  let i = 0;
  while (i < buf.length) {
    const width = buf[i]!;
    if (width > 32) return undefined;
    const significant = Math.ceil(width / 8);
    if (i + 1 + significant + 4 > buf.length) return undefined;
    const dest = [0, 0, 0, 0];
    for (let k = 0; k < significant; k++) dest[k] = buf[i + 1 + k]!;
    routes.push({ destination: `${dest.join('.')}/${width}`, router: ipAt(buf, i + 1 + significant) });
    i += 1 + significant + 4;
  }
  return routes;
}

function encodeClasslessRoutes(routes: ClasslessRoute[]): Buffer {
  const parts: Buffer[] = [];
  for (const route of routes) {
    const [address, width] = ipaddr.IPv4.parseCIDR(route.destination);
    const significant = Math.ceil(width / 8);
    parts.push(Buffer.from([width, ...address.toByteArray().slice(0, significant)]), ipBytes(route.router));
  }
  return Buffer.concat(parts);
}

function uint8List(buf: Buffer | undefined): number[] | undefined {
  return buf && buf.length > 0 ? [...buf] : undefined;
}

export class DhcpOptions {
  readonly raw: Map<number, Buffer>;

  constructor(raw?: Map<number, Buffer>) {
    this.raw = raw ?? new Map();
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

  // ---- 53, 54, 50, 51, 57, 58, 59 ----

  messageType(): number | undefined {
    return readU8(this.get(Opt.MESSAGE_TYPE));
  }
  setMessageType(type: number): this {
    return this.set(Opt.MESSAGE_TYPE, Buffer.from([type]));
  }

  serverId(): string | undefined {
    return readIp(this.get(Opt.SERVER_ID));
  }
  setServerId(ip: string): this {
    return this.set(Opt.SERVER_ID, ipBytes(ip));
  }

  requestedIp(): string | undefined {
    return readIp(this.get(Opt.REQUESTED_IP));
  }
  setRequestedIp(ip: string): this {
    return this.set(Opt.REQUESTED_IP, ipBytes(ip));
  }

  leaseTime(): number | undefined {
    return readU32(this.get(Opt.LEASE_TIME));
  }
  setLeaseTime(seconds: number): this {
    return this.set(Opt.LEASE_TIME, u32(seconds));
  }

  renewalTime(): number | undefined {
    return readU32(this.get(Opt.RENEWAL_TIME));
  }
  setRenewalTime(seconds: number): this {
    return this.set(Opt.RENEWAL_TIME, u32(seconds));
  }

  rebindingTime(): number | undefined {
    return readU32(this.get(Opt.REBINDING_TIME));
  }
  setRebindingTime(seconds: number): this {
    return this.set(Opt.REBINDING_TIME, u32(seconds));
  }

  maxMessageSize(): number | undefined {
    return readU16(this.get(Opt.MAX_MESSAGE_SIZE));
  }
  setMaxMessageSize(size: number): this {
    return this.set(Opt.MAX_MESSAGE_SIZE, u16(size));
  }

  message(): string | undefined {
    return readText(this.get(Opt.MESSAGE));
  }
  setMessage(text: string): this {
    return this.set(Opt.MESSAGE, Buffer.from(text, 'latin1'));
  }

  paramRequestList(): number[] | undefined {
    return uint8List(this.get(Opt.PARAM_REQUEST_LIST));
  }
  setParamRequestList(codes: number[]): this {
    return this.set(Opt.PARAM_REQUEST_LIST, Buffer.from(codes));
  }

  // ---- addressing: 1, 3, 6, 28, 121 ----

  subnetMask(): string | undefined {
    return readIp(this.get(Opt.SUBNET_MASK));
  }
  setSubnetMask(mask: string): this {
    return this.set(Opt.SUBNET_MASK, ipBytes(mask));
  }

  routers(): string[] | undefined {
    return readIpList(this.get(Opt.ROUTER));
  }
  setRouters(ips: string[]): this {
    return this.set(Opt.ROUTER, Buffer.concat(ips.map(ipBytes)));
  }

  dnsServers(): string[] | undefined {
    return readIpList(this.get(Opt.DNS));
  }
  setDnsServers(ips: string[]): this {
    return this.set(Opt.DNS, Buffer.concat(ips.map(ipBytes)));
  }

  broadcastAddress(): string | undefined {
    return readIp(this.get(Opt.BROADCAST));
  }
  setBroadcastAddress(ip: string): this {
    return this.set(Opt.BROADCAST, ipBytes(ip));
  }

  classlessRoutes(): ClasslessRoute[] | undefined {
    const buf = this.get(Opt.CLASSLESS_ROUTES);
    return buf && buf.length > 0 ? parseClasslessRoutes(buf) : undefined;
  }
  setClasslessRoutes(routes: ClasslessRoute[]): this {
    return this.set(Opt.CLASSLESS_ROUTES, encodeClasslessRoutes(routes));
  }

  // ---- names: 12, 15, 119 ----

  hostname(): string | undefined {
    return readText(this.get(Opt.HOSTNAME));
  }
  setHostname(name: string): this {
    return this.set(Opt.HOSTNAME, Buffer.from(name, 'latin1'));
  }

  domainName(): string | undefined {
    return readText(this.get(Opt.DOMAIN_NAME));
  }
  setDomainName(name: string): this {
    return this.set(Opt.DOMAIN_NAME, Buffer.from(name, 'latin1'));
  }

  domainSearch(): string[] | undefined {
    const buf = this.get(Opt.DOMAIN_SEARCH);
    return buf && buf.length > 0 ? parseDomainSearch(buf) : undefined;
  }
  setDomainSearch(names: string[]): this {
    return this.set(Opt.DOMAIN_SEARCH, encodeDomainSearch(names));
  }

  // ---- client identity: 60, 61, 77, 93, 94, 97 ----

  vendorClass(): string | undefined {
    return readText(this.get(Opt.VENDOR_CLASS));
  }
  setVendorClass(text: string): this {
    return this.set(Opt.VENDOR_CLASS, Buffer.from(text, 'latin1'));
  }

  clientId(): Buffer | undefined {
    const buf = this.get(Opt.CLIENT_ID);
    return buf && buf.length >= 2 ? buf : undefined;
  }
  setClientId(id: Buffer): this {
    return this.set(Opt.CLIENT_ID, id);
  }

  /** RFC 3004 list of classes, or iPXE's plain string as a one-element list. */
  userClass(): string[] | undefined {
    const buf = this.get(Opt.USER_CLASS);
    return buf && buf.length > 0 ? parseUserClass(buf) : undefined;
  }
  /** Writes RFC 3004 format. */
  setUserClass(classes: string[]): this {
    const parts: Buffer[] = [];
    for (const c of classes) {
      const bytes = Buffer.from(c, 'latin1');
      if (bytes.length === 0 || bytes.length > 255) throw new RangeError('a user class is 1 to 255 bytes');
      parts.push(Buffer.from([bytes.length]), bytes);
    }
    return this.set(Opt.USER_CLASS, Buffer.concat(parts));
  }

  clientArch(): number[] | undefined {
    const buf = this.get(Opt.CLIENT_ARCH);
    if (!buf || buf.length === 0 || buf.length % 2 !== 0) return undefined;
    const out: number[] = [];
    for (let i = 0; i < buf.length; i += 2) out.push(buf.readUInt16BE(i));
    return out;
  }
  setClientArch(codes: number[]): this {
    return this.set(Opt.CLIENT_ARCH, Buffer.concat(codes.map(u16)));
  }

  clientNdi(): ClientNdi | undefined {
    const buf = this.get(Opt.CLIENT_NDI);
    if (!buf || buf.length !== 3) return undefined;
    return { type: buf[0]!, major: buf[1]!, minor: buf[2]! };
  }
  setClientNdi(ndi: ClientNdi): this {
    return this.set(Opt.CLIENT_NDI, Buffer.from([ndi.type, ndi.major, ndi.minor]));
  }

  /** Raw bytes; callers check for length 17 and type 0 before trusting it. */
  clientUuid(): Buffer | undefined {
    return this.get(Opt.CLIENT_UUID);
  }
  setClientUuid(raw: Buffer): this {
    return this.set(Opt.CLIENT_UUID, raw);
  }

  // ---- boot: 43, 66, 67, 175, 250, 251 ----

  vendorSpecific(): Buffer | undefined {
    return this.get(Opt.VENDOR_SPECIFIC);
  }
  /** Option 43 read as PXE sub-options. */
  pxeVendorOptions(): Map<number, Buffer> | undefined {
    const buf = this.get(Opt.VENDOR_SPECIFIC);
    return buf ? parseSubOptions(buf) : undefined;
  }
  setPxeVendorOptions(sub: Map<number, Buffer>): this {
    return this.set(Opt.VENDOR_SPECIFIC, encodePxeVendorOptions(sub));
  }

  tftpServer(): string | undefined {
    return readText(this.get(Opt.TFTP_SERVER));
  }
  setTftpServer(name: string): this {
    return this.set(Opt.TFTP_SERVER, Buffer.from(name, 'latin1'));
  }

  bootFile(): string | undefined {
    return readText(this.get(Opt.BOOTFILE));
  }
  setBootFile(name: string): this {
    return this.set(Opt.BOOTFILE, Buffer.from(name, 'latin1'));
  }

  ipxeOptions(): Map<number, Buffer> | undefined {
    const buf = this.get(Opt.IPXE_ENCAP);
    return buf ? parseSubOptions(buf) : undefined;
  }
  setIpxeOptions(sub: Map<number, Buffer>): this {
    return this.set(Opt.IPXE_ENCAP, encodeSubOptions(sub, false));
  }

  proxmoxAnswerUrl(): string | undefined {
    return readText(this.get(Opt.PROXMOX_ANSWER_URL));
  }
  setProxmoxAnswerUrl(url: string): this {
    return this.set(Opt.PROXMOX_ANSWER_URL, Buffer.from(url, 'latin1'));
  }

  proxmoxCertFingerprint(): string | undefined {
    return readText(this.get(Opt.PROXMOX_CERT_FINGERPRINT));
  }
  setProxmoxCertFingerprint(fp: string): this {
    return this.set(Opt.PROXMOX_CERT_FINGERPRINT, Buffer.from(fp, 'latin1'));
  }

  // ---- 82 ----

  /** Relay agent sub-options (1 circuit id, 2 remote id, ...). */
  relayAgentInfo(): Map<number, Buffer> | undefined {
    const buf = this.get(Opt.RELAY_AGENT);
    return buf ? parseSubOptions(buf) : undefined;
  }
  setRelayAgentInfo(sub: Map<number, Buffer>): this {
    return this.set(Opt.RELAY_AGENT, encodeSubOptions(sub, false));
  }
}
