// Builds ProxyDHCP OFFERs and ACKs. Pure: no sockets, no clock.
// A proxy reply carries boot instructions only: yiaddr stays 0.0.0.0 and no lease options go out.
import { writeBootFields, type BootingDecision } from '../dhcp/boot-fields.ts';
import { BROADCAST_FLAG, replyFrame, type DhcpPacket } from '../dhcp/codec.ts';
import { MessageType, Opt } from '../dhcp/options.ts';

export interface ProxyReplySpec {
  type: typeof MessageType.OFFER | typeof MessageType.ACK;
  /** The appliance: siaddr and option 54. */
  serverAddress: string;
  /** A 'boot' decision from the policy (silences never get this far). */
  boot: BootingDecision;
}

export function buildProxyReply(request: DhcpPacket, spec: ProxyReplySpec): DhcpPacket {
  const reply = replyFrame(request);
  // RFC 2131 table 3: ciaddr echoed in an ACK; a proxy never assigns an address, so yiaddr stays 0.
  if (spec.type === MessageType.ACK) reply.ciaddr = request.ciaddr;
  const o = reply.options;
  o.write('messageType', spec.type).write('serverId', spec.serverAddress);
  // RFC 3046: relay agent information goes back to the relay unchanged.
  const relayInfo = request.options.get(Opt.relayAgentInfo);
  if (relayInfo) o.set(Opt.relayAgentInfo, relayInfo);
  // Through a relay, an answer to a client without an address (yiaddr and ciaddr 0) can only be
  // broadcast on its LAN: the broadcast bit tells the relay so (RFC 2131 §4.1), where a relay
  // would otherwise unicast to yiaddr 0.0.0.0.
  if (request.giaddr !== '0.0.0.0' && request.ciaddr === '0.0.0.0') reply.flags |= BROADCAST_FLAG;
  writeBootFields(reply, request, spec.boot, spec.serverAddress);
  return reply;
}
