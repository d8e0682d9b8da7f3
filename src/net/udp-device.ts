// A UDP socket bound to one network interface, reporting where each datagram came in.
// Backed by native/udp_device.c because Node's dgram has neither SO_BINDTODEVICE nor IP_PKTINFO.
import { udpDeviceAddon } from './addon.ts';

export interface UdpDeviceOptions {
  port: number;
  /** Default '0.0.0.0': it must be the wildcard to receive 255.255.255.255 broadcasts. */
  address?: string;
  /** SO_BINDTODEVICE; '' or undefined = all interfaces (only for tests that say so). */
  interface?: string;
  /** SO_REUSEADDR, so a proxy can share port 67 with another listener on the host. */
  reuseAddr?: boolean;
  /** SO_BROADCAST (default true). */
  broadcast?: boolean;
}

export interface ReceivedDatagram {
  data: Buffer;
  address: string;
  port: number;
  /** IP_PKTINFO ipi_ifindex: the interface it arrived on. */
  ifindex: number;
  /** IP_PKTINFO ipi_spec_dst: our address on that interface (the route's source for a reply). */
  localAddress: string;
  /** IP_PKTINFO ipi_addr: the destination in the IP header (255.255.255.255 for a broadcast). */
  destination: string;
}

type NativeHandle = object & { readonly __udpDevice: unique symbol };

interface NativeUdpDevice {
  open(port: number, address: string, interfaceName: string, reuseAddr: boolean, broadcast: boolean): NativeHandle;
  localPort(handle: NativeHandle): number;
  startReceiving(handle: NativeHandle, callback: (d: ReceivedDatagram) => void): void;
  send(handle: NativeHandle, data: Buffer, port: number, address: string): void;
  close(handle: NativeHandle): void;
  interfaceIndex(name: string): number;
}

function native(): NativeUdpDevice {
  return udpDeviceAddon<NativeUdpDevice>('interfaceIndex', 'the interface-bound socket');
}

/** Index of a network interface, or null when there is none by that name. */
export function interfaceIndex(name: string): number | null {
  if (!name) return null;
  const index = native().interfaceIndex(name);
  return index > 0 ? index : null;
}

export type DatagramHandler = (d: ReceivedDatagram) => void;

export class UdpDeviceSocket {
  readonly port: number;
  readonly interfaceIndex: number | null;
  readonly interfaceName: string;
  private handle: NativeHandle | null;
  private handlers: DatagramHandler[] = [];
  private errorHandler: (err: unknown, d: ReceivedDatagram) => void = () => {};

  private constructor(handle: NativeHandle, port: number, interfaceName: string, ifindex: number | null) {
    this.handle = handle;
    this.port = port;
    this.interfaceName = interfaceName;
    this.interfaceIndex = ifindex;
  }

  /** Rejects with an Error whose .code is the errno name (EACCES, EADDRINUSE, ENODEV...). */
  static async open(options: UdpDeviceOptions): Promise<UdpDeviceSocket> {
    const addon = native();
    const name = options.interface ?? '';
    const handle = addon.open(options.port, options.address ?? '0.0.0.0', name, options.reuseAddr ?? false, options.broadcast ?? true);
    try {
      const socket = new UdpDeviceSocket(handle, addon.localPort(handle), name, name ? interfaceIndex(name) : null);
      addon.startReceiving(handle, (d) => socket.dispatch(d));
      return socket;
    } catch (err) {
      addon.close(handle);
      throw err;
    }
  }

  /** Handlers run in order; one that throws is reported to onError and never reaches the event loop. */
  onMessage(handler: DatagramHandler): void {
    this.handlers.push(handler);
  }

  /** Where a handler's exception goes (default: dropped). */
  onError(handler: (err: unknown, d: ReceivedDatagram) => void): void {
    this.errorHandler = handler;
  }

  private dispatch(d: ReceivedDatagram): void {
    for (const handler of this.handlers) {
      try {
        handler(d);
      } catch (err) {
        try {
          this.errorHandler(err, d);
        } catch {
          /* an error reporter that fails must not take the process down either */
        }
      }
    }
  }

  /** Leaves through the bound interface. Rejects with the errno name as .code. */
  async send(data: Buffer, port: number, address: string): Promise<void> {
    if (!this.handle) throw Object.assign(new Error('socket is closed'), { code: 'EBADF' });
    native().send(this.handle, data, port, address);
  }

  get closed(): boolean {
    return this.handle === null;
  }

  async close(): Promise<void> {
    if (!this.handle) return;
    native().close(this.handle);
    this.handle = null;
    this.handlers = [];
  }
}
