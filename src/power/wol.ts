// Wake-on-LAN: the magic packet (6 × 0xff, then the MAC 16 times) as a UDP broadcast to port 9,
// sent on the boot VLAN's interface ([server] interface) only, through the interface-bound socket.
import { UdpDeviceSocket } from '../net/udp-device.ts';
import { PowerError, type PowerChange, type PowerDriver, type PowerState } from './driver.ts';

export const WOL_PORT = 9;

/** The 102-byte magic packet for a MAC (aa:bb:cc:dd:ee:ff or aa-bb-…); null for anything else. Pure. */
export function magicPacket(mac: string): Buffer | null {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(mac);
  if (!m) return null;
  const address = Buffer.from(m.slice(1, 7).map((h) => parseInt(h, 16)));
  return Buffer.concat([Buffer.alloc(6, 0xff), ...Array.from({ length: 16 }, () => address)]);
}

/** The MAC a magic packet wakes; null when it is not one. Pure (the inverse of magicPacket). */
export function magicPacketTarget(packet: Buffer): string | null {
  if (packet.length < 102 || !packet.subarray(0, 6).equals(Buffer.alloc(6, 0xff))) return null;
  const address = packet.subarray(6, 12);
  for (let i = 1; i < 16; i++) if (!packet.subarray(6 + 6 * i, 12 + 6 * i).equals(address)) return null;
  return [...address].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export class WolDriver implements PowerDriver {
  readonly describe = 'wol';
  constructor(
    private readonly mac: string,
    private readonly interfaceName: () => string,
  ) {}

  status(): Promise<PowerState> {
    // A magic packet has no answer: the state is not known.
    return Promise.resolve('unknown');
  }

  async change(action: PowerChange): Promise<void> {
    if (action !== 'on') throw new PowerError('unsupported', `Wake-on-LAN can only power on; ${action} needs a BMC (bmc = ipmi://… or redfish://…)`);
    const name = this.interfaceName();
    if (!name) throw new PowerError('refused', 'Wake-on-LAN is sent on the boot VLAN only, and [server] interface names none');
    const packet = magicPacket(this.mac);
    if (!packet) throw new PowerError('refused', `${this.mac} is not a MAC address`);
    let socket: UdpDeviceSocket;
    try {
      socket = await UdpDeviceSocket.open({ port: 0, interface: name, broadcast: true });
    } catch (err) {
      throw new PowerError('refused', `cannot open a socket on ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      await socket.send(packet, WOL_PORT, '255.255.255.255');
    } catch (err) {
      throw new PowerError('refused', `cannot send on ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    } finally {
      await socket.close();
    }
  }

  bootFromNetwork(): Promise<string> {
    return Promise.resolve("the machine's own boot order (Wake-on-LAN cannot set a next boot device)");
  }
}
