// Builds DHCP replies and says where they go. Pure: no sockets, no clock.
import type { BootFileDecision } from '../boot/policy.ts';
import type { Profile } from '../config/profile.ts';
import { answerBase } from '../boot/urls.ts';
import { BROADCAST_FLAG, replyFrame, type DhcpPacket } from './codec.ts';
import { writeBootFields } from './boot-fields.ts';
import { MessageType, Opt } from './options.ts';
import type { Pool } from './pool.ts';

export interface ReplySpec {
  type: typeof MessageType.OFFER | typeof MessageType.ACK | typeof MessageType.NAK;
  /** Address given; '0.0.0.0' for NAK and INFORM answers. */
  yiaddr: string;
  /** Seconds; absent for NAK and for the ACK to an INFORM (RFC 2131 §4.3.5: no lease time). */
  leaseSeconds?: number;
  /** Boot fields from the policy; absent or 'ignore' → a plain lease. */
  boot?: BootFileDecision;
  /** From [host] hostname. */
  hostname?: string;
  /** NAK text (option 56). */
  message?: string;
}

export function buildReply(request: DhcpPacket, spec: ReplySpec, profile: Profile, pool: Pool): DhcpPacket {
  const reply = replyFrame(request);
  reply.yiaddr = spec.yiaddr;
  const o = reply.options;
  o.write('messageType', spec.type).write('serverId', pool.serverAddress);
  // RFC 6842: a client identifier is echoed back.
  const clientId = request.options.get(Opt.clientId);
  if (clientId) o.set(Opt.clientId, clientId);
  // RFC 3046 §2.2: relay agent information goes back to the relay unchanged.
  const relayInfo = request.options.get(Opt.relayAgentInfo);
  if (relayInfo) o.set(Opt.relayAgentInfo, relayInfo);

  if (spec.type === MessageType.NAK) {
    // RFC 2131 §4.3.2: a NAK through a relay has the broadcast bit set so the relay broadcasts it.
    if (request.giaddr !== '0.0.0.0') reply.flags |= BROADCAST_FLAG;
    if (spec.message) o.write('message', spec.message);
    return reply;
  }

  // RFC 2131 table 3: ciaddr is echoed in an ACK, zero in an OFFER.
  if (spec.type === MessageType.ACK) reply.ciaddr = request.ciaddr;
  if (spec.leaseSeconds !== undefined) {
    o.write('leaseTime', spec.leaseSeconds)
      .write('renewalTime', Math.floor(spec.leaseSeconds / 2))
      .write('rebindingTime', Math.floor((spec.leaseSeconds * 7) / 8));
  }
  // The pool's own subnet, router and DNS: a relayed client's LAN is not ours (RFC 2131 §4.3.1).
  o.write('subnetMask', pool.netmask).write('broadcastAddress', pool.broadcast);
  if (pool.router) o.write('routers', [pool.router]);
  if (pool.dns.length > 0) o.write('dnsServers', pool.dns);
  if (pool.domain) o.write('domainName', pool.domain);
  if (spec.hostname) o.write('hostname', spec.hostname);
  // The Proxmox installer finds its answer URL here when none is baked into the ISO.
  o.write('proxmoxAnswerUrl', `${answerBase(profile)}/answer`);
  // ... and the certificate to pin for it (option 251), when HTTPS is on.
  if (profile.https.enabled && profile.https.fingerprint) o.write('proxmoxCertFingerprint', profile.https.fingerprint);

  const boot = spec.boot;
  if (boot?.action === 'boot' && boot.bootFile) writeBootFields(reply, request, { ...boot, action: 'boot', bootFile: boot.bootFile }, pool.serverAddress);
  return reply;
}

export interface Destination {
  address: string;
  port: number;
  why: string;
}

/** RFC 2131 §4.1 reply addressing. `serverPort` is where relays listen (67). */
export function replyDestination(request: DhcpPacket, reply: DhcpPacket, serverPort: number, clientPort = 68): Destination {
  if (request.giaddr !== '0.0.0.0') return { address: request.giaddr, port: serverPort, why: `unicast to relay ${request.giaddr}` };
  if (reply.options.read('messageType') === MessageType.NAK) return { address: '255.255.255.255', port: clientPort, why: 'broadcast (NAK)' };
  if (request.ciaddr !== '0.0.0.0') return { address: request.ciaddr, port: clientPort, why: `unicast to ciaddr ${request.ciaddr}` };
  // Unicasting to yiaddr would need an ARP entry the client cannot answer for yet; broadcast always arrives.
  return {
    address: '255.255.255.255',
    port: clientPort,
    why: request.flags & BROADCAST_FLAG ? 'broadcast (flag set)' : 'broadcast (client has no address yet)',
  };
}
