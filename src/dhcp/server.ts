// The authoritative DHCP server: a thin transport around DhcpResponder.
// receive → check interface → decode → decide → commit (group commit) → send → record event.
import type { Logger } from '../log.ts';
import type { Profile } from '../config/profile.ts';
import type { Binding, Service } from '../service.ts';
import type { EventSink } from '../boot/events.ts';
import type { LeaseLog, NodeLookup, NodeWrites } from '../boot/ports.ts';
import type { LeaseAllocator, AllocatorTimes } from './allocator.ts';
import type { DhcpPacket } from './codec.ts';
import { poolsFromProfile, ScopeTable } from './scopes.ts';
import { DhcpResponder, type Handled } from './responder.ts';
import { commitBatch } from './commit.ts';
import { DhcpSocket } from './socket.ts';
import { RogueWatch, type RogueWatchTiming } from './rogue-watch.ts';

export interface DhcpServerDeps {
  profile: Profile;
  logger: Logger;
  /** Node lookup for the policy, sightings, and the event log. */
  store: DhcpState;
  /** Where leases are committed; sightings share their transaction. */
  leases: LeaseLog;
  /** How long the other-server probe listens and how often it repeats (tests shorten both). */
  probe?: Partial<RogueWatchTiming>;
}

export type DhcpState = NodeLookup & Pick<NodeWrites, 'sawNode'> & EventSink;

const SWEEP_MS = 10_000;
const EXHAUSTION_WARNING_MS = 60_000;

function times(profile: Profile): AllocatorTimes {
  return { offerHoldMs: profile.dhcp.offerHold * 1000, leaseMs: profile.dhcp.leaseTime * 1000, quarantineMs: profile.dhcp.declineQuarantine * 1000 };
}

function checkedPools(profile: Profile): Extract<ReturnType<typeof poolsFromProfile>, { ok: true }> {
  const result = poolsFromProfile(profile);
  if (!result.ok) throw new Error(`dhcp: ${result.reason}`);
  return result;
}

function responderConfig(profile: Profile, scopes: ScopeTable) {
  return { profile, pool: scopes.local.pool, relayed: scopes.relayed, serverPort: profile.dhcp.port };
}

function describeRelayed(scopes: ScopeTable | null): string {
  const relayed = scopes?.relayed ?? [];
  if (relayed.length === 0) return '';
  return `; behind relays: ${relayed.map((s) => `${s.pool.scope} ${s.pool.network}/${s.pool.prefixLength}`).join(', ')}`;
}

export class DhcpServerService implements Service {
  readonly name = 'dhcp';
  private profile: Profile;
  private readonly logger: Logger;
  private readonly store: DhcpState;
  private readonly leases: LeaseLog;
  private socket: DhcpSocket | null = null;
  private allocator: LeaseAllocator | null = null;
  /** Every pool's allocator: the local LAN's (also `allocator`) and each [scope]'s. */
  private scopes: ScopeTable | null = null;
  /** When each unscoped relay was last logged, so a chatty relay gives one line a minute. */
  private readonly unscopedLogged = new Map<string, number>();
  private responder: DhcpResponder | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Handled requests waiting for the next group commit. */
  private batch: Handled[] = [];
  private flushScheduled = false;
  private lastExhaustionWarning = 0;
  private readonly rogueWatch: RogueWatch;

  constructor(deps: DhcpServerDeps) {
    this.profile = deps.profile;
    this.logger = deps.logger; // the daemon's child logger already says service: dhcp
    this.store = deps.store;
    this.leases = deps.leases;
    this.rogueWatch = new RogueWatch({ logger: this.logger, store: this.store, timing: deps.probe });
  }

  async start(): Promise<void> {
    const profile = this.profile;
    if (profile.dhcp.mode !== 'server') {
      this.logger.info(`[dhcp] mode = ${profile.dhcp.mode}: the DHCP server stays off`);
      return;
    }
    const iface = profile.server.interface;
    // A DHCP server answering on every interface can hand out addresses on the wrong LAN.
    if (!iface) throw new Error('dhcp: [dhcp] mode = server needs [server] interface, the one LAN to serve; pxe-pilot will not answer DHCP on every interface');
    const pools = checkedPools(profile);
    // Before answering anything: is another DHCP server already on this LAN? (throws to refuse)
    await this.rogueWatch.beforeStart(profile);
    this.scopes = new ScopeTable(pools, times(profile), this.leases.all());
    this.allocator = this.scopes.local.allocator;
    this.responder = new DhcpResponder(responderConfig(profile, this.scopes), this.allocator, this.store);
    this.socket = await DhcpSocket.open(
      { service: 'dhcp', port: profile.dhcp.port, interface: iface, reuseAddr: false, portKey: '[dhcp] port' },
      {
        request: (packet, d) => {
          // Our own periodic probe for other servers, looped back: not a client.
          if (!this.rogueWatch.isOwnProbe(d.address)) this.receive(packet);
        },
        dropped: (drop) => this.store.record({ mac: null, protocol: 'dhcp', decision: 'silence', ...drop }),
        failed: (err, d) => this.logger.error({ err, from: d.address }, 'dhcp: packet handler failed'),
      },
    );
    this.sweepTimer = setInterval(() => this.scopes?.sweep(Date.now()), SWEEP_MS);
    this.sweepTimer.unref();
    this.rogueWatch.watch(() => this.profile);
    this.logger.info(
      `DHCP server on ${iface} port ${this.socket.port}, pool ${profile.dhcp.rangeStart}-${profile.dhcp.rangeEnd}${describeRelayed(this.scopes)}`,
    );
  }

  private receive(request: DhcpPacket): void {
    if (!this.responder) return;
    if (this.profile.dhcp.mode !== 'server') return;
    this.batch.push(this.responder.handle(request, Date.now()));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Every request read in this turn of the event loop shares one commit (one fsync).
      setImmediate(() => this.flush());
    }
  }

  /**
   * Commits the batch's leases and sightings in one transaction, then sends the replies once the
   * leases are on disk (the next batches are read and committed while the disk works).
   */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    let onDisk: Promise<void>;
    try {
      onDisk = commitBatch(batch, this.leases, this.store);
    } catch (err) {
      // Nothing was promised yet: no ACK leaves for a lease that is not on disk.
      this.logger.error({ err }, 'dhcp: lease commit failed; replies of this batch are dropped');
      if (this.allocator) this.allocator = this.reloadAllocator();
      for (const h of batch)
        this.store.record({ ...h.event, protocol: 'dhcp', decision: 'error', reason: `lease commit failed (${(err as Error).message}); no reply sent` });
      return;
    }
    onDisk.then(
      () => this.deliverAll(batch),
      (err: Error) => {
        // Committed, but the disk did not confirm it: no ACK may promise what a power cut could undo.
        this.logger.error({ err }, 'dhcp: the disk did not confirm the lease commit; replies of this batch are dropped');
        for (const h of batch)
          this.store.record({ ...h.event, protocol: 'dhcp', decision: 'error', reason: `lease sync failed (${err.message}); no reply sent` });
      },
    );
  }

  private deliverAll(batch: readonly Handled[]): void {
    for (const h of batch) {
      try {
        this.deliver(h);
      } catch (err) {
        // Runs from a promise callback: nothing may escape to the event loop.
        this.logger.error({ err }, 'dhcp: sending a reply failed');
      }
    }
  }

  private reloadAllocator(): LeaseAllocator {
    this.scopes = new ScopeTable(checkedPools(this.profile), times(this.profile), this.leases.all());
    this.responder = new DhcpResponder(responderConfig(this.profile, this.scopes), this.scopes.local.allocator, this.store);
    return this.scopes.local.allocator;
  }

  private deliver(h: Handled): void {
    const socket = this.socket;
    if (h.exhausted && Date.now() - this.lastExhaustionWarning > EXHAUSTION_WARNING_MS) {
      this.lastExhaustionWarning = Date.now();
      this.logger.warn(`dhcp: ${h.event.reason}; clients get no offer until leases expire or the range grows`);
    }
    if (h.unscopedRelay) this.logUnscoped(h.unscopedRelay, h.event.reason);
    if (h.reply && socket) {
      socket.send(h.reply, (reason) => this.store.record({ ...h.event, protocol: 'dhcp', decision: 'error', reason: `${reason}; was: ${h.event.reason}` }));
    }
    this.store.record({ ...h.event, protocol: 'dhcp' });
  }

  private logUnscoped(giaddr: string, reason: string): void {
    const now = Date.now();
    if (now - (this.unscopedLogged.get(giaddr) ?? 0) < EXHAUSTION_WARNING_MS) return;
    if (this.unscopedLogged.size > 1000) this.unscopedLogged.clear();
    this.unscopedLogged.set(giaddr, now);
    this.logger.warn(`dhcp: ${reason}`);
  }

  async stop(): Promise<void> {
    await this.rogueWatch.stop();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.flush();
    const socket = this.socket;
    this.socket = null;
    await socket?.close();
  }

  reload(profile: Profile): void {
    const result = poolsFromProfile(profile);
    if (profile.dhcp.mode === 'server' && !result.ok) {
      this.logger.error(`dhcp: reload keeps the old pool: ${result.reason}`);
      return;
    }
    this.profile = profile;
    if (result.ok && this.scopes && this.responder) {
      this.scopes.reconfigure(result, times(profile), () => this.leases.all());
      this.responder.reconfigure(responderConfig(profile, this.scopes));
    }
  }

  bindings(): Binding[] {
    if (!this.socket) return [];
    return [{ protocol: 'udp', address: '0.0.0.0', port: this.socket.port, interface: this.profile.server.interface }];
  }
}
