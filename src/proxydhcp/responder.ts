// The ProxyDHCP decisions: one decoded request in, a reply (or a named silence) and the event out.
// No sockets, no clock. Only network-booting clients get an answer, and never an address.
import { decideBootFile, type BootFileDecision } from '../boot/policy.ts';
import { profileArmsInstall, type NodeState } from '../boot/lifecycle.ts';
import type { Profile } from '../config/profile.ts';
import { wantsDiscoveryControl } from '../dhcp/boot-fields.ts';
import { describeDhcpClient } from '../dhcp/client.ts';
import type { DhcpPacket } from '../dhcp/codec.ts';
import { MessageType, messageTypeName } from '../dhcp/options.ts';
import { replyDestination, type Destination } from '../dhcp/reply.ts';
import type { NodeLookup, SightingFacts } from '../boot/ports.ts';
import { buildProxyReply } from './reply.ts';

/** Which of the two listeners a request came in on. */
export type Listener = 'dhcp' | 'proxy';

export interface ProxyContext {
  profile: Profile;
  /** The appliance as clients reach it: siaddr and option 54. */
  serverAddress: string;
  listener: Listener;
  /** Port of that listener (67 / 4011 unless the profile says otherwise), for the event. */
  port: number;
  /** Port relays listen on: replies to a giaddr go there. */
  relayPort: number;
}

export interface ProxyEvent {
  mac: string | null;
  kind: string;
  decision: 'offer' | 'ack' | 'silence';
  reason: string;
  detail: Record<string, unknown>;
}

export interface ProxyHandled {
  reply?: { packet: DhcpPacket; destination: Destination };
  sighting?: { mac: string; facts: SightingFacts; armed: boolean };
  event: ProxyEvent;
}

const PXE_VENDOR_CLASSES = ['PXEClient', 'HTTPClient'];

function xidText(xid: number): string {
  return `0x${xid.toString(16).padStart(8, '0')}`;
}

/** Why a vendor class is not a network-booting client's, or null when it is. */
export function notPxeReason(vendorClass: string | undefined): string | null {
  if (vendorClass === undefined) return 'no vendor class (option 60): not a PXE client';
  if (PXE_VENDOR_CLASSES.some((c) => vendorClass.startsWith(c))) return null;
  return `vendor class '${vendorClass.slice(0, 64)}': not a PXE client`;
}

/** Option 97 as a person reads it in an event: fine, absent, or off-spec. */
function uuidNote(raw: Buffer | undefined): string {
  if (!raw) return 'no option 97';
  if (raw.length === 17 && raw[0] === 0) return 'option 97 ok';
  return `option 97 of ${raw.length} bytes${raw.length > 0 ? `, type ${raw[0]}` : ''} (expected 17, type 0), echoed as sent`;
}

/**
 * Whether a REQUEST on port 67 is ours. RFC 2131 §4.3.2: option 54 names the server the client
 * chose; option 50 without 54 is INIT-REBOOT with the router. A REQUEST naming us (a ROM that took
 * our offer as the server) or naming nobody (PXE boot-server discovery by broadcast) is answered.
 */
function requestOn67NotOurs(request: DhcpPacket, serverAddress: string): string | null {
  const serverId = request.options.read('serverId');
  if (serverId !== undefined && serverId !== serverAddress)
    return `REQUEST for server ${serverId}: the client's address exchange with that DHCP server, not ours to answer`;
  const requested = request.options.read('requestedIp');
  if (serverId === undefined && requested !== undefined)
    return `REQUEST for address ${requested} without a server identifier (INIT-REBOOT): for the DHCP server that owns the address`;
  return null;
}

export function handleProxyRequest(
  request: DhcpPacket,
  source: { address: string; port: number },
  ctx: ProxyContext,
  nodes: NodeLookup<NodeState>,
): ProxyHandled {
  const type = request.options.read('messageType');
  const kind = `${messageTypeName(type)} on ${ctx.port}`;
  const detail: Record<string, unknown> = { xid: xidText(request.xid), port: ctx.port, from: source.address };
  if (request.giaddr !== '0.0.0.0') detail.relay = request.giaddr;
  const silence = (mac: string | null, reason: string, extra: Partial<ProxyHandled> = {}): ProxyHandled => ({
    ...extra,
    event: { mac, kind, decision: 'silence', reason, detail },
  });

  if (request.op !== 1) return silence(null, 'a BOOTREPLY, not a request');
  const client = describeDhcpClient(request);
  const mac = client?.mac ?? null;
  if (type === undefined) return silence(mac, 'BOOTP request without option 53: not a PXE client');

  const vendorClass = request.options.read('vendorClass');
  if (vendorClass !== undefined) detail.vendorClass = vendorClass.slice(0, 64);
  const notPxe = notPxeReason(vendorClass);
  if (notPxe) return silence(mac, notPxe);
  if (!client) return silence(null, `no Ethernet hardware address (htype ${request.htype}, hlen ${request.hlen}): nothing to answer to`);
  if (client.arch === undefined) return silence(mac, `vendor class '${vendorClass}' but no option 93 (client architecture): not a PXE client`);
  detail.arch = client.arch;
  if (request.ciaddr !== '0.0.0.0') detail.ip = request.ciaddr;
  detail.uuid = uuidNote(request.options.read('clientUuid'));

  if (type !== MessageType.DISCOVER && type !== MessageType.REQUEST) {
    return silence(mac, `${messageTypeName(type)}: a proxy answers DISCOVER and REQUEST only`);
  }
  if (ctx.listener === 'dhcp' && type === MessageType.REQUEST) {
    const notOurs = requestOn67NotOurs(request, ctx.serverAddress);
    if (notOurs) return silence(mac, notOurs);
  }
  if (ctx.listener === 'proxy' && type !== MessageType.REQUEST) {
    return silence(mac, `${messageTypeName(type)} on the proxy port: firmware asks there with a REQUEST`);
  }

  const node = nodes.getNode(client.mac);
  const boot = decideBootFile(client, ctx.profile, node);
  detail.ipxe = client.isIpxe;
  if (boot.action !== 'boot' || !boot.bootFile) return silence(mac, boot.reason);

  const facts: SightingFacts = { arch: client.arch };
  if (client.firmware !== 'unknown') facts.firmware = client.firmware;
  if (client.uuid) facts.uuid = client.uuid;
  if (request.ciaddr !== '0.0.0.0') facts.ip = request.ciaddr;
  const sighting = { mac: client.mac, facts, armed: profileArmsInstall(ctx.profile.hosts.get(client.mac)) };

  const replyType = type === MessageType.DISCOVER ? MessageType.OFFER : MessageType.ACK;
  const packet = buildProxyReply(request, { type: replyType, serverAddress: ctx.serverAddress, boot: { ...boot, action: 'boot', bootFile: boot.bootFile } });
  const destination = ctx.listener === 'proxy' ? proxyPortDestination(request, source) : replyDestination(request, packet, ctx.relayPort);
  const decision = replyType === MessageType.OFFER ? 'offer' : 'ack';
  detail.bootFile = boot.bootFile;
  detail.to = `${destination.address}:${destination.port}`;
  return {
    reply: { packet, destination },
    sighting,
    event: { mac, kind, decision, reason: `${describeBoot(boot, replyType)}; ${destination.why}`, detail },
  };
}

/** A 4011 request is a unicast from a configured client: the answer goes back where it came from. */
function proxyPortDestination(request: DhcpPacket, source: { address: string; port: number }): Destination {
  if (request.giaddr !== '0.0.0.0') return { address: request.giaddr, port: source.port, why: `to relay ${request.giaddr}` };
  if (source.address !== '0.0.0.0') return { address: source.address, port: source.port, why: `unicast to ${source.address}:${source.port}` };
  return { address: '255.255.255.255', port: source.port, why: 'broadcast (client has no address yet)' };
}

function describeBoot(boot: BootFileDecision, type: number): string {
  const what = type === MessageType.OFFER ? 'offered' : 'acknowledged';
  const control = wantsDiscoveryControl(boot, '0.0.0.0') ? ', discovery control 8' : '';
  return `${what} ${boot.bootFile} (${boot.vendorClass ?? 'PXEClient'}${control}): ${boot.reason}`;
}
