// UDP datagrams to one port on one interface, whatever their IP destination: a packet socket
// (native/packet_listener.c, in the udp_device addon) with a kernel filter, read here with the
// pure parseIpv4Udp. What DHCP clients do to hear an answer sent by unicast to an address they
// do not have yet. Opening it needs CAP_NET_RAW; changing the port later does not.
import { udpDeviceAddon } from './addon.ts';
import { parseIpv4Udp, type Ipv4UdpDatagram } from './ipv4-udp.ts';

export interface HeardDatagram extends Ipv4UdpDatagram {
  /** The Ethernet source of the frame: the sender itself, or the last router or relay. */
  sourceMac: string;
}

type PacketHandle = object & { readonly __packetListener: unique symbol };

interface NativePacketListener {
  packetOpen(interfaceName: string): PacketHandle;
  packetListen(handle: PacketHandle, port: number): void;
  packetStart(handle: PacketHandle, callback: (frame: { data: Buffer; sourceMac: string }) => void): void;
  packetClose(handle: PacketHandle): void;
}

function native(): NativePacketListener {
  return udpDeviceAddon<NativePacketListener>('packetOpen', 'the packet listener');
}

export class PacketListener {
  private handle: PacketHandle | null;
  private handler: ((d: HeardDatagram) => void) | null = null;

  private constructor(
    private readonly addon: NativePacketListener,
    handle: PacketHandle,
  ) {
    this.handle = handle;
  }

  /** Hears nothing until listen(). Throws with .code: EPERM without CAP_NET_RAW, ENODEV, EAFNOSUPPORT (a sandbox without AF_PACKET). */
  static open(interfaceName: string): PacketListener {
    const addon = native();
    const handle = addon.packetOpen(interfaceName);
    const listener = new PacketListener(addon, handle);
    try {
      addon.packetStart(handle, (frame) => listener.receive(frame));
    } catch (err) {
      addon.packetClose(handle);
      throw err;
    }
    return listener;
  }

  private receive(frame: { data: Buffer; sourceMac: string }): void {
    const datagram = parseIpv4Udp(frame.data);
    if (!datagram || !this.handler) return;
    try {
      this.handler({ ...datagram, sourceMac: frame.sourceMac });
    } catch {
      /* a handler's bug must not reach the event loop from a native callback */
    }
  }

  /** Hands datagrams to `port` to `handler` until mute(). */
  listen(port: number, handler: (d: HeardDatagram) => void): void {
    if (!this.handle) throw Object.assign(new Error('packet listener is closed'), { code: 'EBADF' });
    this.handler = handler;
    this.addon.packetListen(this.handle, port);
  }

  /** The kernel stops queueing anything for it (the socket stays open for the next listen). */
  mute(): void {
    this.handler = null;
    if (this.handle) this.addon.packetListen(this.handle, 0);
  }

  close(): void {
    if (!this.handle) return;
    this.addon.packetClose(this.handle);
    this.handle = null;
    this.handler = null;
  }
}
