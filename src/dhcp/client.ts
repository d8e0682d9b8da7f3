// What the boot policy needs to know about a machine, read from its DHCP request.
import { archInfo, type ClientDescription } from '../boot/client.ts';
import { clientMac, type DhcpPacket } from './codec.ts';
import { Opt } from './options.ts';

/**
 * Formats option 97 (type 0 + 16 bytes) as a UUID string in wire byte order, or undefined when
 * the ROM sent none, another type or a wrong length (which some ROMs do).
 */
export function clientUuidText(raw: Buffer | undefined): string | undefined {
  if (!raw || raw.length !== 17 || raw[0] !== 0) return undefined;
  const hex = raw.subarray(1).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** True when the request comes from iPXE: user class "iPXE" or iPXE's encapsulated options (175). */
export function isIpxeRequest(packet: DhcpPacket): boolean {
  return packet.options.has(Opt.ipxeOptions) || (packet.options.read('userClass')?.includes('iPXE') ?? false);
}

export function describeDhcpClient(packet: DhcpPacket): ClientDescription | null {
  const mac = clientMac(packet);
  if (!mac) return null;
  const opts = packet.options;
  const arch = opts.read('clientArch')?.[0];
  const description: ClientDescription = {
    mac,
    firmware: archInfo(arch)?.firmware ?? 'unknown',
    isIpxe: isIpxeRequest(packet),
  };
  if (arch !== undefined) description.arch = arch;
  const vendorClass = opts.read('vendorClass');
  if (vendorClass !== undefined) description.vendorClass = vendorClass;
  const uuid = clientUuidText(opts.read('clientUuid'));
  if (uuid) description.uuid = uuid;
  if (packet.ciaddr !== '0.0.0.0') description.ip = packet.ciaddr;
  return description;
}
