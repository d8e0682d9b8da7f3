// Never a second DHCP server on a LAN by accident: before the server answers anything it asks the
// LAN itself (a DHCPDISCOVER on [server] interface, 3 s of listening), and it asks again every
// few minutes while it runs. Building the probe and reading answers is pure; the socket part is
// a thin shell around it.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { emptyPacket, encodeDhcp, parseDhcp, BROADCAST_FLAG, type DhcpPacket } from './codec.ts';
import { MessageType, messageTypeName } from './options.ts';
import { UdpDeviceSocket, type ReceivedDatagram } from '../net/udp-device.ts';

/** Another DHCP server seen on the interface. */
export interface OtherServer {
  /** Its server identifier (option 54), else the datagram's source. */
  address: string;
  /** Where the answer came from (a relay or the server itself). */
  source: string;
  /** Ethernet address of `source`, from the neighbour table; null when the kernel has none. */
  mac: string | null;
  /** What it offered (yiaddr), for the message. */
  offered: string;
  reply: string;
}

export function describeOtherServers(servers: readonly OtherServer[], iface: string): string {
  const list = servers
    .map((s) => `${s.address}${s.source !== s.address ? ` (via ${s.source})` : ''} MAC ${s.mac ?? 'unknown'}, which offered ${s.offered}`)
    .join('; ');
  return `another DHCP server answers on ${iface}: ${list}`;
}

/** A broadcast DISCOVER from `mac`, asking for an OFFER broadcast back (we have no address to unicast to). */
export function probeDiscover(mac: Buffer, xid: number): DhcpPacket {
  const p = emptyPacket(1);
  p.xid = xid;
  p.flags = BROADCAST_FLAG;
  mac.copy(p.chaddr, 0, 0, 6);
  p.options.write('messageType', MessageType.DISCOVER).write('paramRequestList', [1, 3, 6, 54]);
  return p;
}

/**
 * Whether a datagram is another server's answer to our probe: an OFFER or ACK with our xid that
 * is not from one of our own addresses.
 */
export function readProbeAnswer(data: Uint8Array, source: string, xid: number, ownAddresses: readonly string[]): Omit<OtherServer, 'mac'> | null {
  const parsed = parseDhcp(data);
  if (!parsed.ok) return null;
  const p = parsed.packet;
  if (p.op !== 2 || p.xid !== xid) return null;
  const type = p.options.read('messageType');
  if (type !== MessageType.OFFER && type !== MessageType.ACK) return null;
  const address = p.options.read('serverId') ?? source;
  if (ownAddresses.includes(address) || ownAddresses.includes(source)) return null;
  return { address, source, offered: p.yiaddr, reply: messageTypeName(type) };
}

/** The neighbour table's MAC for `ip` on `iface` (/proc/net/arp is per network namespace). */
export function neighbourMac(ip: string, iface: string, arpTable: string = readArpTable()): string | null {
  for (const line of arpTable.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // IP address, HW type, Flags, HW address, Mask, Device
    if (cols[0] === ip && cols[5] === iface && cols[3] && cols[3] !== '00:00:00:00:00:00') return cols[3].toLowerCase();
  }
  return null;
}

function readArpTable(): string {
  try {
    return readFileSync('/proc/net/arp', 'utf8');
  } catch {
    return '';
  }
}

function interfaceMac(iface: string): Buffer {
  try {
    const text = readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
    if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(text)) return Buffer.from(text.replace(/:/g, ''), 'hex');
  } catch {
    /* fall through */
  }
  // A locally administered address of our own when the interface has none to read.
  return Buffer.from([0x02, 0x50, 0x58, 0x50, randomInt(256), randomInt(256)]);
}

export interface ProbeOptions {
  iface: string;
  /** The DHCP server port (67); answers come back on the client port (68, or port + 1 in tests). */
  serverPort: number;
  ownAddresses: string[];
  listenMs: number;
}

/**
 * The client-side socket the probe sends from and listens on. Opened once, before privileges
 * are dropped (port 68 and SO_BINDTODEVICE need them), and kept for the periodic probes.
 */
export class ProbeChannel {
  private collect: ((d: ReceivedDatagram) => void) | null = null;

  private constructor(
    private readonly socket: UdpDeviceSocket,
    readonly iface: string,
    readonly serverPort: number,
  ) {
    socket.onMessage((d) => this.collect?.(d));
  }

  static async open(iface: string, serverPort: number): Promise<ProbeChannel> {
    const clientPort = serverPort === 67 ? 68 : serverPort + 1;
    // reuseAddr: a DHCP client on this host may hold port 68 already; broadcasts reach us both.
    return new ProbeChannel(await UdpDeviceSocket.open({ port: clientPort, interface: iface, reuseAddr: true, broadcast: true }), iface, serverPort);
  }

  /**
   * Sends one DISCOVER and collects every other server that answers within `listenMs`. Nothing
   * is leased: no REQUEST follows, so the other server's offer just lapses.
   */
  async probe(ownAddresses: readonly string[], listenMs: number): Promise<OtherServer[]> {
    const xid = randomInt(1, 0x7fffffff);
    const found = new Map<string, Omit<OtherServer, 'mac'>>();
    this.collect = (d) => {
      const answer = readProbeAnswer(d.data, d.address, xid, ownAddresses);
      if (answer && !found.has(answer.address)) found.set(answer.address, answer);
    };
    try {
      await this.socket.send(encodeDhcp(probeDiscover(interfaceMac(this.iface), xid)), this.serverPort, '255.255.255.255');
      await new Promise((resolve) => setTimeout(resolve, listenMs));
    } finally {
      this.collect = null;
    }
    const servers: OtherServer[] = [];
    for (const s of found.values()) servers.push({ ...s, mac: await resolveMac(s.source, this.iface) });
    return servers;
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}

/** One probe on a channel of its own. */
export async function probeForOtherServers(options: ProbeOptions): Promise<OtherServer[]> {
  const channel = await ProbeChannel.open(options.iface, options.serverPort);
  try {
    return await channel.probe(options.ownAddresses, options.listenMs);
  } finally {
    await channel.close();
  }
}

/**
 * The other server answered by broadcast, so the kernel may not know its MAC yet: one datagram
 * to its discard port (9) makes the kernel ARP for it.
 */
async function resolveMac(ip: string, iface: string): Promise<string | null> {
  const known = neighbourMac(ip, iface);
  if (known) return known;
  const udp = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => {
      udp.once('error', () => resolve());
      udp.send(Buffer.alloc(0), 9, ip, () => resolve());
    });
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const mac = neighbourMac(ip, iface);
      if (mac) return mac;
    }
    return null;
  } finally {
    udp.close();
  }
}

/** Refusal to start: the message names the other server. */
export class OtherDhcpServerError extends Error {
  constructor(
    readonly servers: OtherServer[],
    iface: string,
  ) {
    super(
      `dhcp: ${describeOtherServers(servers, iface)}; pxe-pilot will not be a second DHCP server on this LAN. Stop that server, use [dhcp] mode = proxy beside it, or set [dhcp] allow_other_servers = true if both are meant to answer`,
    );
    this.name = 'OtherDhcpServerError';
  }
}
