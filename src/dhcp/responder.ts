// The authoritative server's decisions: one decoded request in, a reply (or a named silence),
// the lease writes to commit first, and the event out. No sockets; the clock is a parameter.
import type { ClientDescription } from '../boot/client.ts';
import { decideBootFile, type BootFileDecision } from '../boot/policy.ts';
import { profileArmsInstall, type NodeState } from '../boot/lifecycle.ts';
import type { Profile } from '../config/profile.ts';
import type { NodeLookup, SightingFacts } from '../boot/ports.ts';
import type { LeaseAllocator, LeaseClient, LeaseWrite } from './allocator.ts';
import { describeDhcpClient } from './client.ts';
import type { DhcpPacket } from './codec.ts';
import { MessageType, messageTypeName } from './options.ts';
import { inPoolSubnet, type Pool } from './pool.ts';
import type { Scope } from './scopes.ts';
import type { ReasonCode } from '../boot/events.ts';
import { buildReply, replyDestination, type Destination } from './reply.ts';

export interface DhcpEventRecord {
  mac: string | null;
  kind: string;
  decision: string;
  reason: string;
  code?: ReasonCode;
  detail: Record<string, unknown>;
}

export interface Handled {
  reply?: { packet: DhcpPacket; destination: Destination };
  /** Committed, durably, before the reply leaves. */
  writes: LeaseWrite[];
  sighting?: { mac: string; facts: SightingFacts; armed: boolean };
  event: DhcpEventRecord;
  /** Set when the pool is exhausted (the server rate-limits the log line). */
  exhausted?: boolean;
  /** The giaddr of a relayed request no pool covers (the server logs it, rate-limited). */
  unscopedRelay?: string;
}

export interface ResponderConfig {
  profile: Profile;
  /** The local LAN's pool ([dhcp]); the responder's allocator holds its addresses. */
  pool: Pool;
  /** Pools of subnets behind relays ([scope]), each with its allocator; chosen by giaddr. */
  relayed?: readonly Scope[];
  /** Port relays listen on (the server port, 67). */
  serverPort: number;
}

/** RFC 2131 §4.2: option 61 names the client when present, else the hardware address. */
export function leaseClientKey(request: DhcpPacket, mac: string): string {
  const id = request.options.read('clientId');
  return id ? `id:${id.toString('hex')}` : `mac:${mac}`;
}

function xidText(xid: number): string {
  return `0x${xid.toString(16).padStart(8, '0')}`;
}

export class DhcpResponder {
  private config: ResponderConfig;

  constructor(
    config: ResponderConfig,
    private readonly allocator: LeaseAllocator,
    private readonly nodes: NodeLookup<NodeState>,
  ) {
    this.config = config;
  }

  reconfigure(config: ResponderConfig): void {
    this.config = config;
  }

  handle(request: DhcpPacket, now: number): Handled {
    const type = request.options.read('messageType');
    const kind = messageTypeName(type);
    const base = { kind, detail: { xid: xidText(request.xid) } as Record<string, unknown> };
    const silence = (mac: string | null, reason: string, extra: Partial<Handled> = {}): Handled => ({
      writes: [],
      ...extra,
      event: { ...base, mac, decision: 'silence', reason },
    });

    if (request.op !== 1) return silence(null, 'a BOOTREPLY sent to the server port: not a request');
    if (type === undefined) return silence(null, 'BOOTP request without option 53: pxe-pilot answers DHCP clients only');
    const client = describeDhcpClient(request);
    if (!client) return silence(null, `no Ethernet hardware address (htype ${request.htype}, hlen ${request.hlen})`);
    const scope = this.scopeFor(request.giaddr);
    if (!scope) {
      const served = [this.config.pool, ...(this.config.relayed ?? []).map((s) => s.pool)].map((p) => `${p.network}/${p.prefixLength}`).join(', ');
      return {
        writes: [],
        unscopedRelay: request.giaddr,
        event: {
          ...base,
          mac: client.mac,
          decision: 'silence',
          code: 'no-scope',
          reason: `relayed by ${request.giaddr}: no pool for that subnet (served: ${served}); add a [scope] whose subnet holds ${request.giaddr}`,
          detail: { ...base.detail, relay: request.giaddr },
        },
      };
    }

    const host = this.config.profile.hosts.get(client.mac);
    const who: LeaseClient = { key: leaseClientKey(request, client.mac), mac: client.mac, hostname: request.options.read('hostname') ?? null };
    const facts: SightingFacts = {};
    if (client.arch !== undefined) facts.arch = client.arch;
    if (client.firmware !== 'unknown') facts.firmware = client.firmware;
    if (client.uuid) facts.uuid = client.uuid;
    if (who.hostname) facts.hostname = who.hostname;
    const sighting = { mac: client.mac, facts, armed: profileArmsInstall(host) };
    if (request.giaddr !== '0.0.0.0') base.detail = { ...base.detail, relay: request.giaddr, scope: scope.pool.scope };
    const ctx: Context = { request, client, who, sighting, now, base, hostname: host?.hostname || undefined, pool: scope.pool, allocator: scope.allocator };

    switch (type) {
      case MessageType.DISCOVER:
        return this.discover(ctx);
      case MessageType.REQUEST:
        return this.requestMessage(ctx);
      case MessageType.DECLINE:
        return this.decline(ctx);
      case MessageType.RELEASE:
        return this.release(ctx);
      case MessageType.INFORM:
        return this.inform(ctx);
      default:
        return silence(client.mac, `${kind} is not a message a client sends to a server`, { sighting });
    }
  }

  /** The local pool without a relay (or for a relay on this LAN); else the [scope] holding giaddr. */
  private scopeFor(giaddr: string): Scope | undefined {
    const local = { pool: this.config.pool, allocator: this.allocator };
    if (giaddr === '0.0.0.0' || inPoolSubnet(local.pool, giaddr)) return local;
    return this.config.relayed?.find((s) => inPoolSubnet(s.pool, giaddr));
  }

  private boot(client: ClientDescription): BootFileDecision {
    return decideBootFile(client, this.config.profile, this.nodes.getNode(client.mac));
  }

  private bootNote(boot: BootFileDecision): string {
    return boot.action === 'boot' ? `boot ${boot.bootFile}: ${boot.reason}` : `no boot fields: ${boot.reason}`;
  }

  private detail(ctx: Context, ip: string | null, boot?: BootFileDecision): Record<string, unknown> {
    return { ...ctx.base.detail, ip, arch: ctx.client.arch ?? null, bootFile: boot?.action === 'boot' ? boot.bootFile : null };
  }

  /** A message that gets no reply by design (DECLINE, RELEASE), with what it changed. */
  private note(ctx: Context, decision: string, reason: string, ip: string, writes: LeaseWrite[]): Handled {
    return { writes, sighting: ctx.sighting, event: { mac: ctx.client.mac, kind: ctx.base.kind, decision, reason, detail: this.detail(ctx, ip) } };
  }

  private silence(ctx: Context, reason: string, extra: Partial<Handled> = {}): Handled {
    return {
      writes: [],
      sighting: ctx.sighting,
      ...extra,
      event: { mac: ctx.client.mac, kind: ctx.base.kind, decision: 'silence', reason, detail: this.detail(ctx, null) },
    };
  }

  private discover(ctx: Context): Handled {
    const requested = ctx.request.options.read('requestedIp');
    const choice = ctx.allocator.chooseOffer(ctx.who, requested, ctx.now);
    if (choice.ip === null) return this.silence(ctx, `no offer: ${choice.reason}`, { exhausted: true });
    ctx.allocator.hold(choice.ip, ctx.who, ctx.now);
    const boot = this.boot(ctx.client);
    const packet = buildReply(
      ctx.request,
      { type: MessageType.OFFER, yiaddr: choice.ip, leaseSeconds: this.config.profile.dhcp.leaseTime, boot, hostname: ctx.hostname },
      this.config.profile,
      ctx.pool,
    );
    return this.answer(ctx, packet, [], 'offer', `offered ${choice.ip} (${choice.why}); ${this.bootNote(boot)}`, choice.ip, boot);
  }

  private answer(
    ctx: Context,
    packet: DhcpPacket,
    writes: LeaseWrite[],
    decision: string,
    reason: string,
    ip: string | null,
    boot?: BootFileDecision,
  ): Handled {
    const destination = replyDestination(ctx.request, packet, this.config.serverPort);
    return {
      reply: { packet, destination },
      writes,
      sighting: ctx.sighting,
      event: { mac: ctx.client.mac, kind: ctx.base.kind, decision, reason: `${reason}; ${destination.why}`, detail: this.detail(ctx, ip, boot) },
    };
  }

  private ack(ctx: Context, ip: string, state: string): Handled {
    const leaseSeconds = this.config.profile.dhcp.leaseTime;
    const { writes } = ctx.allocator.bind(ip, ctx.who, ctx.now, leaseSeconds * 1000);
    const boot = this.boot(ctx.client);
    const packet = buildReply(ctx.request, { type: MessageType.ACK, yiaddr: ip, leaseSeconds, boot, hostname: ctx.hostname }, this.config.profile, ctx.pool);
    ctx.sighting.facts.ip = ip;
    return this.answer(ctx, packet, writes, 'ack', `${state}: leased ${ip} for ${leaseSeconds} s; ${this.bootNote(boot)}`, ip, boot);
  }

  private nak(ctx: Context, state: string, why: string): Handled {
    const packet = buildReply(ctx.request, { type: MessageType.NAK, yiaddr: '0.0.0.0', message: why }, this.config.profile, ctx.pool);
    return this.answer(ctx, packet, [], 'nak', `${state}: ${why}`, null);
  }

  // RFC 2131 §4.3.2: the client's state is told by which of server id, requested address and ciaddr it fills in.
  private requestMessage(ctx: Context): Handled {
    const { request, who, now } = ctx;
    const serverId = request.options.read('serverId');
    const requested = request.options.read('requestedIp');
    const ciaddr = request.ciaddr !== '0.0.0.0' ? request.ciaddr : undefined;
    const { pool } = ctx;

    if (serverId !== undefined) {
      const state = 'SELECTING';
      if (serverId !== pool.serverAddress) {
        const released = ctx.allocator.releaseOffer(who.key);
        return this.silence(ctx, `REQUEST for server ${serverId}: not us${released ? `; our offer of ${released} goes back to the pool` : ''}`);
      }
      const ip = requested ?? ciaddr;
      if (!ip) return this.nak(ctx, state, 'no requested address (option 50)');
      const free = ctx.allocator.availableFor(ip, who, now);
      if (!free.ok) return this.nak(ctx, state, free.reason);
      return this.ack(ctx, ip, state);
    }

    if (!ciaddr) {
      const state = 'INIT-REBOOT';
      if (!requested) return this.silence(ctx, 'REQUEST with no server id, no requested address and no ciaddr: not a valid RFC 2131 state');
      if (!inPoolSubnet(pool, requested)) return this.nak(ctx, state, `${requested} is not in this network (${pool.network}/${pool.prefixLength})`);
      const free = ctx.allocator.availableFor(requested, who, now);
      if (!free.ok) return this.nak(ctx, state, free.reason);
      const lease = ctx.allocator.leaseOf(who.key);
      if (lease && lease.ip !== requested) return this.nak(ctx, state, `${requested} is not this client's address: our record gives it ${lease.ip}`);
      if (lease || pool.reservations.get(who.mac) === requested) return this.ack(ctx, requested, state);
      return this.silence(ctx, `INIT-REBOOT for ${requested}: no record of this client, so RFC 2131 §4.3.2 says stay silent`);
    }

    const state = request.flags & 0x8000 || request.giaddr !== '0.0.0.0' ? 'REBINDING' : 'RENEWING';
    const free = ctx.allocator.availableFor(ciaddr, who, now);
    if (!free.ok) return this.nak(ctx, state, free.reason);
    return this.ack(ctx, ciaddr, state);
  }

  private decline(ctx: Context): Handled {
    const serverId = ctx.request.options.read('serverId');
    if (serverId !== undefined && serverId !== ctx.pool.serverAddress) return this.silence(ctx, `DECLINE for server ${serverId}: not us`);
    const ip = ctx.request.options.read('requestedIp');
    if (!ip) return this.silence(ctx, 'DECLINE without the declined address (option 50)');
    const writes = ctx.allocator.decline(ip, ctx.who, ctx.now);
    if (!writes) return this.note(ctx, 'ignored', `DECLINE of ${ip}, which we never gave this client`, ip, []);
    return this.note(ctx, 'declined', `${ip} is in use by another host: out of the pool for ${this.config.profile.dhcp.declineQuarantine} s`, ip, writes);
  }

  private release(ctx: Context): Handled {
    const serverId = ctx.request.options.read('serverId');
    if (serverId !== undefined && serverId !== ctx.pool.serverAddress) return this.silence(ctx, `RELEASE for server ${serverId}: not us`);
    const ip = ctx.request.ciaddr;
    const writes = ctx.allocator.release(ip, ctx.who, ctx.now);
    if (!writes) return this.note(ctx, 'ignored', `RELEASE of ${ip}, which this client does not hold`, ip, []);
    return this.note(ctx, 'released', `${ip} released by its client: free for others, kept for this client if it comes back`, ip, writes);
  }

  // RFC 2131 §4.3.5: configuration only; no address, no lease time.
  private inform(ctx: Context): Handled {
    const boot = this.boot(ctx.client);
    const packet = buildReply(ctx.request, { type: MessageType.ACK, yiaddr: '0.0.0.0', boot, hostname: ctx.hostname }, this.config.profile, ctx.pool);
    return this.answer(ctx, packet, [], 'ack', `configuration for ${ctx.request.ciaddr} (INFORM, no lease); ${this.bootNote(boot)}`, ctx.request.ciaddr, boot);
  }
}

interface Context {
  request: DhcpPacket;
  client: ClientDescription;
  who: LeaseClient;
  sighting: { mac: string; facts: SightingFacts; armed: boolean };
  now: number;
  base: { kind: string; detail: Record<string, unknown> };
  hostname: string | undefined;
  /** The pool this request is served from, and its allocator. */
  pool: Pool;
  allocator: LeaseAllocator;
}
