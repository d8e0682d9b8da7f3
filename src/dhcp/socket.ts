// The receive, bind and send path that the DHCP server and the proxy share: an interface-bound
// socket on a DHCP port that hands on only requests that came in on its interface and decode,
// names every datagram it drops, and turns a failed send into an 'error' event.
import { errnoOf } from '../net/errno.ts';
import { UdpDeviceSocket, type ReceivedDatagram } from '../net/udp-device.ts';
import type { ReasonCode } from '../boot/events.ts';
import { BindError } from '../service.ts';
import { encodeDhcp, parseDhcp, type DhcpPacket } from './codec.ts';
import type { Destination } from './reply.ts';

export interface DhcpSocketOptions {
  /** Service name for bind errors and logs: 'dhcp' or 'proxydhcp'. */
  service: string;
  port: number;
  /** [server] interface: the one LAN to hear and answer. */
  interface: string;
  /** SO_REUSEADDR: port 67 beside the router's DHCP server or a local dnsmasq. */
  reuseAddr: boolean;
  /** The profile key that sets `port`, for the bind error's advice. */
  portKey: string;
}

/** A datagram dropped before any decision: what the caller records as a silence. */
export interface DroppedDatagram {
  kind: 'datagram' | 'malformed';
  reason: string;
  code?: ReasonCode;
  detail: Record<string, unknown>;
}

export interface DhcpSocketHandlers {
  request(packet: DhcpPacket, d: ReceivedDatagram): void;
  dropped(drop: DroppedDatagram): void;
  /** A handler threw: logged, never to the event loop. */
  failed(err: unknown, d: ReceivedDatagram): void;
}

export class DhcpSocket {
  private constructor(
    private readonly socket: UdpDeviceSocket,
    private readonly interfaceName: string,
  ) {}

  /** Rejects with a BindError that names the key to change (ENODEV: the interface; else the port). */
  static async open(options: DhcpSocketOptions, handlers: DhcpSocketHandlers): Promise<DhcpSocket> {
    let socket: UdpDeviceSocket;
    try {
      socket = await UdpDeviceSocket.open({ port: options.port, interface: options.interface, reuseAddr: options.reuseAddr, broadcast: true });
    } catch (err) {
      const code = errnoOf(err);
      throw new BindError(options.service, 'udp', '0.0.0.0', options.port, code, code === 'ENODEV' ? '[server] interface' : options.portKey);
    }
    const open = new DhcpSocket(socket, options.interface);
    socket.onError((err, d) => handlers.failed(err, d));
    socket.onMessage((d) => open.receive(d, handlers));
    return open;
  }

  get port(): number {
    return this.socket.port;
  }

  private receive(d: ReceivedDatagram, handlers: DhcpSocketHandlers): void {
    // Belt and braces with SO_BINDTODEVICE: a machine on another LAN never gets an answer.
    if (this.socket.interfaceIndex !== null && d.ifindex !== this.socket.interfaceIndex) {
      handlers.dropped({
        kind: 'datagram',
        reason: `arrived on ifindex ${d.ifindex}, not ${this.interfaceName}`,
        code: 'wrong-interface',
        detail: { from: d.address },
      });
      return;
    }
    const parsed = parseDhcp(d.data);
    if (!parsed.ok) {
      const reason = `malformed packet from ${d.address}:${d.port} (${parsed.error.code}): ${parsed.error.message}`;
      handlers.dropped({ kind: 'malformed', reason, detail: { bytes: d.data.length, port: this.socket.port } });
      return;
    }
    handlers.request(parsed.packet, d);
  }

  /**
   * Encodes and sends a reply. A send that fails (a vanished interface, a full buffer) is told to
   * `failed` with the reason: the caller records it as an 'error', not a silence, because a reply
   * was decided and did not leave.
   */
  send(reply: { packet: DhcpPacket; destination: Destination }, failed: (reason: string) => void): void {
    const { address, port } = reply.destination;
    const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));
    let bytes: Buffer;
    try {
      bytes = encodeDhcp(reply.packet);
    } catch (err) {
      failed(`reply to ${address}:${port} could not be encoded (${why(err)})`);
      return;
    }
    this.socket.send(bytes, port, address).catch((err: unknown) => failed(`send to ${address}:${port} failed (${why(err)})`));
  }

  close(): Promise<void> {
    return this.socket.close();
  }
}
