// The boot fields of a DHCP reply, for the DHCP server's and the proxy's alike: siaddr, the file
// field and options 60, 66, 67, 97 and 43. Pure: no sockets, no clock.
import type { BootFileDecision } from '../boot/policy.ts';
import type { DhcpPacket } from './codec.ts';
import { MessageType, Opt, PxeSub } from './options.ts';

/** A policy decision that names a file. */
export type BootingDecision = BootFileDecision & { action: 'boot'; bootFile: string };

const FILE_FIELD = 128;

/**
 * Whether option 43 with PXE discovery control 8 (boot the file in this reply, skip boot-server
 * discovery) goes out. EDK2 (OVMF and most vendor UEFI) sorts a PXEClient reply by its yiaddr and
 * option 43: with an address and 43 it is "DhcpPxe10" and boots the file at once; with an address
 * and no 43, "DhcpBinl", it first asks port 4011, where the DHCP server does not listen. Without an
 * address and with 43 it is "ProxyPxe10", which some EDK2 releases drop (an inverted count check
 * meant to keep only the first); without both, "ProxyBinl", always kept, after which the firmware
 * asks the proxy on 4011, which answers. So: every PXEClient reply that gives an address gets it, a
 * proxy reply only for BIOS ROMs. HTTP boot (HTTPClient) has no discovery; iPXE reads 8 as "no menu".
 */
export function wantsDiscoveryControl(boot: BootFileDecision, yiaddr: string): boolean {
  return boot.vendorClass === 'PXEClient' && (yiaddr !== '0.0.0.0' || boot.arch?.firmware === 'bios');
}

/** Writes the boot fields into `reply` (whose yiaddr is already set) for a client to fetch boot.bootFile from `serverAddress`. */
export function writeBootFields(reply: DhcpPacket, request: DhcpPacket, boot: BootingDecision, serverAddress: string): void {
  const o = reply.options;
  reply.siaddr = serverAddress;
  o.write('vendorClass', boot.vendorClass ?? 'PXEClient').write('bootFile', boot.bootFile);
  // Long URLs live only in option 67; the 128-byte field cannot hold them.
  if (Buffer.byteLength(boot.bootFile, 'latin1') < FILE_FIELD) reply.file = boot.bootFile;
  // Option 66 names a TFTP server; a URL is fetched over HTTP from the host it names.
  if (!boot.bootFile.startsWith('http')) o.write('tftpServer', serverAddress);
  // PXE 2.1: a client that sent its UUID expects it back; echoed byte for byte, even when its length is off.
  const uuid = request.options.get(Opt.clientUuid);
  if (uuid) o.set(Opt.clientUuid, uuid);

  const pxe = new Map<number, Buffer>();
  if (wantsDiscoveryControl(boot, reply.yiaddr)) pxe.set(PxeSub.DISCOVERY_CONTROL, Buffer.from([8]));
  // A boot-server request names a boot item (43.71); the answer names the same one (PXE 2.1 §2.2.5).
  const item = request.options.read('pxeVendorOptions')?.get(PxeSub.BOOT_ITEM);
  if (o.read('messageType') === MessageType.ACK && item && item.length === 4) pxe.set(PxeSub.BOOT_ITEM, Buffer.from(item));
  if (pxe.size > 0) o.write('pxeVendorOptions', pxe);
}
