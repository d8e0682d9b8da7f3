// Never a second DHCP server on a LAN by accident: before the server answers anything it asks the
// LAN itself (DHCPDISCOVERs on [server] interface, 5 s of listening; see DEFAULT_TIMING in
// rogue-watch.ts for why 5), and it asks again every few minutes while it runs. Building the
// probe and reading answers is pure; the socket part is a thin shell around it.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { emptyPacket, encodeDhcp, parseDhcp, BROADCAST_FLAG, type DhcpPacket } from './codec.ts';
import { MessageType, messageTypeName } from './options.ts';
import { PacketListener } from '../net/packet-listener.ts';
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

export interface ProbeTiming {
  /** How long one probe listens, from its first DISCOVER. */
  listenMs: number;
  /** Time between the DISCOVERs of one probe. */
  retransmitMs: number;
}

/** Answers come back on the client port: 68, or the server port + 1 in tests. */
function clientPortFor(serverPort: number): number {
  return serverPort === 67 ? 68 : serverPort + 1;
}

/** Most DISCOVERs one probe sends: one lost DISCOVER or OFFER must not hide a server. */
const MAX_DISCOVERS = 3;

/**
 * When the DISCOVERs of one probe leave, in ms after the first. Clients resend theirs until an
 * OFFER comes; a resend that leaves after the window has no time left to be answered in it.
 */
export function discoverSchedule(timing: ProbeTiming): number[] {
  const at: number[] = [0];
  while (at.length < MAX_DISCOVERS && timing.retransmitMs > 0) {
    const next = at.length * timing.retransmitMs;
    if (next >= timing.listenMs) break;
    at.push(next);
  }
  return at;
}

/**
 * The client side the probe sends from and listens on, opened once, before privileges are
 * dropped (port 68, SO_BINDTODEVICE and the packet socket need them), and kept for the periodic
 * probes. Two ears: the UDP socket on the client port hears broadcast answers; the packet
 * listener also hears a server that ignores the broadcast flag and answers by unicast to the
 * address it offers (an IP address we do not have, so no UDP socket ever sees it), and gives the
 * Ethernet source of every answer.
 */
export class ProbeChannel {
  private collect: ((d: ReceivedDatagram) => void) | null = null;

  private constructor(
    private readonly socket: UdpDeviceSocket,
    private readonly listener: PacketListener | null,
    /** Why unicast answers cannot be heard (no packet socket), or null when they can. */
    readonly unicastDeaf: string | null,
    readonly iface: string,
    readonly serverPort: number,
  ) {
    socket.onMessage((d) => this.collect?.(d));
  }

  static async open(iface: string, serverPort: number): Promise<ProbeChannel> {
    const clientPort = clientPortFor(serverPort);
    // reuseAddr: a DHCP client on this host may hold port 68 already; broadcasts reach us both.
    const socket = await UdpDeviceSocket.open({ port: clientPort, interface: iface, reuseAddr: true, broadcast: true });
    let listener: PacketListener | null = null;
    let unicastDeaf: string | null = null;
    try {
      listener = PacketListener.open(iface);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      unicastDeaf = `no packet socket on ${iface} (${code}); it needs CAP_NET_RAW and AF_PACKET`;
    }
    return new ProbeChannel(socket, listener, unicastDeaf, iface, serverPort);
  }

  /**
   * Sends DISCOVERs (discoverSchedule, one xid) and collects every other server that answers
   * within `timing.listenMs` of the first. Nothing is leased: no REQUEST follows, so the other
   * server's offer just lapses.
   */
  async probe(ownAddresses: readonly string[], timing: ProbeTiming): Promise<OtherServer[]> {
    const xid = randomInt(1, 0x7fffffff);
    const mac = interfaceMac(this.iface);
    const found = new Map<string, OtherServer>();
    const take = (data: Uint8Array, source: string, sourceMac: string | null): void => {
      const answer = readProbeAnswer(data, source, xid, ownAddresses);
      if (!answer) return;
      const known = found.get(answer.address);
      if (!known) found.set(answer.address, { ...answer, mac: sourceMac });
      else if (!known.mac && known.source === answer.source) known.mac = sourceMac;
    };
    this.collect = (d) => take(d.data, d.address, null);
    this.listener?.listen(clientPortFor(this.serverPort), (d) => take(d.payload, d.source, d.sourceMac || null));
    try {
      let started = 0;
      for (const at of discoverSchedule(timing)) {
        if (at > 0) await delay(started + at - Date.now());
        const discover = probeDiscover(mac, xid);
        // Seconds since the first, as clients count them: some servers wait for a minimum.
        discover.secs = Math.floor(at / 1000);
        await this.socket.send(encodeDhcp(discover), this.serverPort, '255.255.255.255');
        // The window is counted from the first DISCOVER on the wire, not from a busy start-up.
        if (at === 0) started = Date.now();
      }
      await delay(started + timing.listenMs - Date.now());
    } finally {
      this.collect = null;
      this.listener?.mute();
    }
    const servers: OtherServer[] = [];
    for (const s of found.values()) servers.push({ ...s, mac: s.mac ?? (await resolveMac(s.source, this.iface)) });
    return servers;
  }

  async close(): Promise<void> {
    this.listener?.close();
    await this.socket.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/**
 * Only the UDP socket heard it (no packet socket), and the kernel may not know its MAC yet: one
 * datagram to its discard port (9) makes the kernel ARP for it.
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
