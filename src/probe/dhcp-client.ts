// The DHCP side of a simulated PXE machine: DISCOVER/OFFER/REQUEST/ACK, the ProxyDHCP offer
// beside a router's, and the REQUEST to port 4011. Many machines in one process share one
// socket on port 68 (there is only one port 68 per address); replies are handed to the
// exchange waiting for their xid and chaddr.
import { randomBytes } from 'node:crypto';
import { emptyPacket, encodeDhcp, parseDhcp, type DhcpPacket } from '../dhcp/codec.ts';
import { UdpDeviceSocket } from '../net/udp-device.ts';

// Option codes by number, so this module depends on src/dhcp/options.ts not at all.
const O = {
  NETMASK: 1,
  ROUTER: 3,
  VENDOR: 43,
  REQUESTED_IP: 50,
  LEASE: 51,
  TYPE: 53,
  SERVER_ID: 54,
  PARAMS: 55,
  MAX_SIZE: 57,
  VENDOR_CLASS: 60,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,
  ARCH: 93,
  NDI: 94,
  UUID: 97,
} as const;
const T = { DISCOVER: 1, OFFER: 2, REQUEST: 3, ACK: 5, NAK: 6 } as const;
const BROADCAST = 0x8000;

/** What the simulated machine says about itself in every request. */
export interface DhcpIdentity {
  mac: string;
  /** Option 93. */
  arch: number;
  /** Option 60. */
  vendorClass: string;
  /** Option 97: 16 bytes. */
  uuid: Buffer;
  /** Option 77 ("iPXE" once iPXE runs). */
  userClass?: string;
}

export interface DhcpReply {
  packet: DhcpPacket;
  type: number | undefined;
  from: string;
  fromPort: number;
}

function u8(packet: DhcpPacket, code: number): number | undefined {
  return packet.options.raw.get(code)?.[0];
}

function ipOption(packet: DhcpPacket, code: number): string | undefined {
  const raw = packet.options.raw.get(code);
  return raw && raw.length >= 4 ? [...raw.subarray(0, 4)].join('.') : undefined;
}

function textOption(packet: DhcpPacket, code: number): string | undefined {
  const raw = packet.options.raw.get(code);
  return raw ? raw.toString('latin1').replace(/\0+$/, '') : undefined;
}

/** One socket on port 68 of an interface, shared by every exchange of this process. */
export class DhcpClientPort {
  private readonly waiters = new Map<string, (reply: DhcpReply) => void>();

  private constructor(private readonly socket: UdpDeviceSocket) {
    socket.onMessage((d) => {
      const parsed = parseDhcp(d.data);
      if (!parsed.ok || parsed.packet.op !== 2) return;
      const key = waiterKey(parsed.packet.xid, parsed.packet.chaddr.subarray(0, 6).toString('hex'));
      this.waiters.get(key)?.({ packet: parsed.packet, type: u8(parsed.packet, O.TYPE), from: d.address, fromPort: d.port });
    });
  }

  /** SO_REUSEADDR so a second probe on the same interface can share port 68 (broadcasts reach both). */
  static async open(interfaceName: string): Promise<DhcpClientPort> {
    return new DhcpClientPort(await UdpDeviceSocket.open({ port: 68, interface: interfaceName, reuseAddr: true, broadcast: true }));
  }

  listen(xid: number, mac: string, handler: (reply: DhcpReply) => void): () => void {
    const key = waiterKey(xid, mac.replace(/:/g, ''));
    this.waiters.set(key, handler);
    return () => this.waiters.delete(key);
  }

  send(packet: DhcpPacket, address: string, port: number): Promise<void> {
    return this.socket.send(encodeDhcp(packet), port, address);
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

function waiterKey(xid: number, macHex: string): string {
  return `${xid >>> 0}/${macHex.toLowerCase()}`;
}

export function newXid(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** A request as a PXE ROM (or iPXE) writes it. */
export function pxeRequest(
  type: number,
  id: DhcpIdentity,
  xid: number,
  extra: { serverId?: string; requestedIp?: string; ciaddr?: string; broadcast?: boolean } = {},
): DhcpPacket {
  const packet = emptyPacket(1);
  packet.xid = xid;
  packet.flags = extra.broadcast === false ? 0 : BROADCAST;
  if (extra.ciaddr) packet.ciaddr = extra.ciaddr;
  Buffer.from(id.mac.replace(/:/g, ''), 'hex').copy(packet.chaddr);
  const raw = packet.options.raw;
  raw.set(O.TYPE, Buffer.from([type]));
  raw.set(
    O.PARAMS,
    Buffer.from([
      O.NETMASK,
      O.ROUTER,
      6,
      12,
      15,
      O.VENDOR,
      O.SERVER_ID,
      O.VENDOR_CLASS,
      O.TFTP_SERVER,
      O.BOOTFILE,
      128,
      129,
      130,
      131,
      132,
      133,
      134,
      135,
      175,
    ]),
  );
  raw.set(O.MAX_SIZE, Buffer.from([0x05, 0xc0])); // 1472
  raw.set(O.ARCH, Buffer.from([id.arch >> 8, id.arch & 0xff]));
  raw.set(O.NDI, Buffer.from([1, 3, 0])); // UNDI 3.0
  raw.set(O.UUID, Buffer.concat([Buffer.from([0]), id.uuid]));
  raw.set(O.VENDOR_CLASS, Buffer.from(id.vendorClass, 'latin1'));
  if (id.userClass) raw.set(O.USER_CLASS, Buffer.from(id.userClass, 'latin1'));
  if (extra.serverId) raw.set(O.SERVER_ID, Buffer.from(extra.serverId.split('.').map(Number)));
  if (extra.requestedIp) raw.set(O.REQUESTED_IP, Buffer.from(extra.requestedIp.split('.').map(Number)));
  return packet;
}

/** The boot file an offer or ACK names (option 67 before the file field) and where to get it. */
export interface BootTarget {
  file: string;
  /** Option 66, else siaddr, else the server identifier. */
  server: string;
  /** Option 43 has PXE discovery control with bit 3: "boot the file in this offer". */
  useOfferedFile: boolean;
}

export function bootTarget(reply: DhcpReply): BootTarget | null {
  const p = reply.packet;
  const file = textOption(p, O.BOOTFILE) || p.file;
  if (!file) return null;
  const siaddr = p.siaddr !== '0.0.0.0' ? p.siaddr : undefined;
  const server = textOption(p, O.TFTP_SERVER) || siaddr || ipOption(p, O.SERVER_ID) || reply.from;
  const vendor = p.options.raw.get(O.VENDOR);
  let useOfferedFile = false;
  for (let i = 0; vendor && i + 1 < vendor.length && vendor[i] !== 255; i += 2 + vendor[i + 1]!) {
    if (vendor[i] === 6 && vendor[i + 1]! >= 1) useOfferedFile = (vendor[i + 2]! & 8) !== 0;
  }
  return { file, server, useOfferedFile };
}

export interface Lease {
  ip: string;
  serverId: string;
  prefixLength: number;
  router?: string;
}

function prefixOf(netmask: string | undefined): number {
  if (!netmask) return 24;
  return netmask.split('.').reduce((n, octet) => n + (Number(octet).toString(2).match(/1/g)?.length ?? 0), 0);
}

export function leaseOf(reply: DhcpReply): Lease {
  const router = ipOption(reply.packet, O.ROUTER);
  return {
    ip: reply.packet.yiaddr,
    serverId: ipOption(reply.packet, O.SERVER_ID) ?? reply.from,
    prefixLength: prefixOf(ipOption(reply.packet, O.NETMASK)),
    ...(router ? { router } : {}),
  };
}

/** A PXE offer without an address: a ProxyDHCP server's. */
export function isProxyOffer(reply: DhcpReply): boolean {
  return reply.type === T.OFFER && reply.packet.yiaddr === '0.0.0.0' && reply.packet.options.raw.has(O.VENDOR_CLASS);
}

export function isAddressOffer(reply: DhcpReply): boolean {
  return reply.type === T.OFFER && reply.packet.yiaddr !== '0.0.0.0';
}

export const DhcpType = T;

/**
 * Sends `packet` and resends it on each of `retryMs`, until `done` says the replies so far are
 * enough (returns a value) or the last wait runs out (null). `done` sees the replies after each
 * one arrives and after each wait; `final` is true after the last wait, to settle for less.
 */
export async function exchange<R>(
  port: DhcpClientPort,
  packet: DhcpPacket,
  mac: string,
  to: { address: string; port: number },
  retryMs: readonly number[],
  done: (replies: DhcpReply[], final: boolean) => R | null,
): Promise<R | null> {
  const replies: DhcpReply[] = [];
  let settle: (value: R | null) => void = () => {};
  const result = new Promise<R | null>((resolve) => (settle = resolve));
  const stop = port.listen(packet.xid, mac, (reply) => {
    replies.push(reply);
    const value = done(replies, false);
    if (value !== null) settle(value);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    for (const [i, wait] of retryMs.entries()) {
      await port.send(packet, to.address, to.port);
      const waited = await Promise.race([result, new Promise<'again'>((resolve) => (timer = setTimeout(() => resolve('again'), wait)))]);
      clearTimeout(timer);
      if (waited !== 'again') return waited;
      const late = done(replies, i === retryMs.length - 1);
      if (late !== null) return late;
    }
    return null;
  } finally {
    clearTimeout(timer);
    stop();
  }
}
