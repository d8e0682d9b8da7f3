// The authoritative DHCP server: a thin transport around DhcpResponder.
// receive → check interface → decode → decide → commit (group commit) → send → record event.
import type { Logger } from '../log.ts';
import type { Profile } from '../config/profile.ts';
import { BindError, type Binding, type Service } from '../service.ts';
import type { Store } from '../store/store.ts';
import { LeaseStore } from '../store/leases.ts';
import { UdpDeviceSocket, type ReceivedDatagram } from '../net/udp-device.ts';
import { LeaseAllocator, type AllocatorTimes } from './allocator.ts';
import { encodeDhcp, parseDhcp } from './codec.ts';
import { poolFromProfile, type Pool } from './pool.ts';
import { DhcpResponder, type Handled } from './responder.ts';

export interface DhcpServerDeps {
  profile: Profile;
  logger: Logger;
  store: Store;
}

const SWEEP_MS = 10_000;
const EXHAUSTION_WARNING_MS = 60_000;

function times(profile: Profile): AllocatorTimes {
  return { offerHoldMs: profile.dhcp.offerHold * 1000, leaseMs: profile.dhcp.leaseTime * 1000, quarantineMs: profile.dhcp.declineQuarantine * 1000 };
}

function checkedPool(profile: Profile): Pool {
  const result = poolFromProfile(profile);
  if (!result.ok) throw new Error(`dhcp: ${result.reason}`);
  return result.pool;
}

export class DhcpServerService implements Service {
  readonly name = 'dhcp';
  private profile: Profile;
  private readonly logger: Logger;
  private readonly store: Store;
  private readonly leases: LeaseStore;
  private socket: UdpDeviceSocket | null = null;
  private allocator: LeaseAllocator | null = null;
  private responder: DhcpResponder | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Handled requests waiting for the next group commit. */
  private batch: Handled[] = [];
  private flushScheduled = false;
  private lastExhaustionWarning = 0;

  constructor(deps: DhcpServerDeps) {
    this.profile = deps.profile;
    this.logger = deps.logger; // the daemon's child logger already says service: dhcp
    this.store = deps.store;
    this.leases = new LeaseStore(deps.store.db);
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
    const pool = checkedPool(profile);
    this.allocator = new LeaseAllocator(pool, times(profile), this.leases.all());
    this.responder = new DhcpResponder({ profile, pool, serverPort: profile.dhcp.port }, this.allocator, this.store);
    try {
      this.socket = await UdpDeviceSocket.open({ port: profile.dhcp.port, interface: iface, broadcast: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
      throw new BindError('dhcp', 'udp', '0.0.0.0', profile.dhcp.port, code, code === 'ENODEV' ? '[server] interface' : '[dhcp] port');
    }
    this.socket.onError((err, d) => this.logger.error({ err, from: d.address }, 'dhcp: packet handler failed'));
    this.socket.onMessage((d) => this.receive(d));
    this.sweepTimer = setInterval(() => this.allocator?.sweep(Date.now()), SWEEP_MS);
    this.sweepTimer.unref();
    this.logger.info(`DHCP server on ${iface} port ${this.socket.port}, pool ${profile.dhcp.rangeStart}-${profile.dhcp.rangeEnd}`);
  }

  private receive(d: ReceivedDatagram): void {
    const iface = this.profile.server.interface;
    const socket = this.socket;
    if (!socket || !this.responder) return;
    // Belt and braces with SO_BINDTODEVICE: a request from another LAN never gets an answer.
    if (socket.interfaceIndex !== null && d.ifindex !== socket.interfaceIndex) {
      this.store.record({ mac: null, protocol: 'dhcp', kind: 'datagram', decision: 'silence', reason: `arrived on ifindex ${d.ifindex}, not ${iface}`, detail: { from: d.address } });
      return;
    }
    const parsed = parseDhcp(d.data);
    if (!parsed.ok) {
      this.store.record({ mac: null, protocol: 'dhcp', kind: 'malformed', decision: 'silence', reason: `malformed packet from ${d.address}:${d.port} (${parsed.error.code}): ${parsed.error.message}`, detail: { bytes: d.data.length } });
      return;
    }
    if (this.profile.dhcp.mode !== 'server') return;
    this.batch.push(this.responder.handle(parsed.packet, Date.now()));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Every request read in this turn of the event loop shares one commit (one fsync).
      setImmediate(() => this.flush());
    }
  }

  /** Commits the batch's leases and sightings in one transaction, then sends the replies. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    // A batch of OFFERs writes only node sightings (offers live in memory): a power cut may
    // lose them, and the client's next DISCOVER writes them again, so no fsync is waited for.
    // Any lease write (ACK, release, decline) makes the whole batch wait for the disk.
    const durable = batch.some((h) => h.writes.length > 0);
    try {
      this.leases.commit(() => {
        for (const h of batch) {
          for (const w of h.writes) {
            if ('put' in w) this.leases.put(w.put);
            else this.leases.delete(w.delete);
          }
          if (h.sighting) this.store.sawNode(h.sighting.mac, h.sighting.facts, h.sighting.armed);
        }
      }, { durable });
    } catch (err) {
      // Nothing was promised yet: no ACK leaves for a lease that is not on disk.
      this.logger.error({ err }, 'dhcp: lease commit failed; replies of this batch are dropped');
      if (this.allocator) this.allocator = this.reloadAllocator();
      for (const h of batch) this.store.record({ ...h.event, protocol: 'dhcp', decision: 'error', reason: `lease commit failed (${(err as Error).message}); no reply sent` });
      return;
    }
    for (const h of batch) {
      try {
        this.deliver(h);
      } catch (err) {
        // Runs from setImmediate: nothing may escape to the event loop.
        this.logger.error({ err }, 'dhcp: sending a reply failed');
      }
    }
  }

  private reloadAllocator(): LeaseAllocator {
    const allocator = new LeaseAllocator(checkedPool(this.profile), times(this.profile), this.leases.all());
    this.responder = new DhcpResponder({ profile: this.profile, pool: checkedPool(this.profile), serverPort: this.profile.dhcp.port }, allocator, this.store);
    return allocator;
  }

  private deliver(h: Handled): void {
    const socket = this.socket;
    if (h.exhausted && Date.now() - this.lastExhaustionWarning > EXHAUSTION_WARNING_MS) {
      this.lastExhaustionWarning = Date.now();
      this.logger.warn(`dhcp: ${h.event.reason}; clients get no offer until leases expire or the range grows`);
    }
    if (h.reply && socket) {
      const bytes = encodeDhcp(h.reply.packet);
      socket.send(bytes, h.reply.destination.port, h.reply.destination.address).catch((err: unknown) => {
        this.store.record({ ...h.event, protocol: 'dhcp', decision: 'error', reason: `send to ${h.reply!.destination.address} failed: ${(err as Error).message}` });
      });
    }
    this.store.record({ ...h.event, protocol: 'dhcp' });
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.flush();
    const socket = this.socket;
    this.socket = null;
    await socket?.close();
  }

  reload(profile: Profile): void {
    const result = poolFromProfile(profile);
    if (profile.dhcp.mode === 'server' && !result.ok) {
      this.logger.error(`dhcp: reload keeps the old pool: ${result.reason}`);
      return;
    }
    this.profile = profile;
    if (result.ok && this.allocator && this.responder) {
      this.allocator.reconfigure(result.pool, times(profile));
      this.responder.reconfigure({ profile, pool: result.pool, serverPort: profile.dhcp.port });
    }
  }

  bindings(): Binding[] {
    if (!this.socket) return [];
    return [{ protocol: 'udp', address: '0.0.0.0', port: this.socket.port, interface: this.profile.server.interface }];
  }
}
