// Builds ProxyDHCP OFFERs and ACKs. Pure: no sockets, no clock.
// A proxy reply carries boot instructions only: yiaddr stays 0.0.0.0 and no lease options go out.
import type { BootFileDecision } from '../boot/policy.ts';
import { replyFrame, type DhcpPacket } from '../dhcp/codec.ts';
import { MessageType, Opt, PxeSub } from '../dhcp/options.ts';

export interface ProxyReplySpec {
  type: typeof MessageType.OFFER | typeof MessageType.ACK;
  /** The appliance: siaddr and option 54. */
  serverAddress: string;
  /** A 'boot' decision from the policy (silences never get this far). */
  boot: BootFileDecision & { action: 'boot'; bootFile: string };
}

const FILE_FIELD = 128;

/**
 * Whether option 43 with PXE_DISCOVERY_CONTROL = 8 goes out. Only BIOS PXE ROMs get it: EDK2-derived
 * UEFI firmware files a proxy offer carrying discovery options as "ProxyPxe10", and some releases
 * drop the first such offer; without option 43 the offer is "ProxyBinl" and the firmware asks for the
 * boot file on port 4011 instead, which we answer. iPXE and HTTP boot clients take the file as is.
 */
export function wantsDiscoveryControl(boot: BootFileDecision): boolean {
  return boot.vendorClass === 'PXEClient' && boot.arch?.firmware === 'bios' && !boot.bootFile?.startsWith('http');
}

export function buildProxyReply(request: DhcpPacket, spec: ProxyReplySpec): DhcpPacket {
  const reply = replyFrame(request);
  // RFC 2131 table 3: ciaddr echoed in an ACK; a proxy never assigns an address, so yiaddr stays 0.
  if (spec.type === MessageType.ACK) reply.ciaddr = request.ciaddr;
  reply.siaddr = spec.serverAddress;

  const { boot } = spec;
  const o = reply.options;
  o.setMessageType(spec.type).setServerId(spec.serverAddress).setVendorClass(boot.vendorClass ?? 'PXEClient');
  // PXE 2.1: a client that sent its UUID expects it back; echoed byte for byte, even when its length is off.
  const uuid = request.options.get(Opt.CLIENT_UUID);
  if (uuid) o.set(Opt.CLIENT_UUID, uuid);
  // RFC 3046: relay agent information goes back to the relay unchanged.
  const relayInfo = request.options.get(Opt.RELAY_AGENT);
  if (relayInfo) o.set(Opt.RELAY_AGENT, relayInfo);

  o.setBootFile(boot.bootFile);
  // Long URLs live only in option 67; the 128-byte field cannot hold them.
  if (Buffer.byteLength(boot.bootFile, 'latin1') < FILE_FIELD) reply.file = boot.bootFile;
  if (!boot.bootFile.startsWith('http')) o.setTftpServer(spec.serverAddress);

  const pxe = new Map<number, Buffer>();
  if (wantsDiscoveryControl(boot)) pxe.set(PxeSub.DISCOVERY_CONTROL, Buffer.from([8]));
  // A boot-server request names a boot item (43.71); the answer names the same one (PXE 2.1 §2.2.5).
  const item = request.options.pxeVendorOptions()?.get(PxeSub.BOOT_ITEM);
  if (spec.type === MessageType.ACK && item && item.length === 4) pxe.set(PxeSub.BOOT_ITEM, Buffer.from(item));
  if (pxe.size > 0) o.setPxeVendorOptions(pxe);
  return reply;
}
