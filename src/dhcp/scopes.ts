// The pools of server mode, each with its own allocator: the local LAN's ([dhcp]) and one per
// [scope] behind a relay. A request is served from the pool whose subnet holds its giaddr (or
// the local one when no relay forwarded it). Leases stay keyed by address: scopes never overlap
// (checked when the profile is read), so a lease's address says which scope it belongs to.
import type { LeaseRecord } from '../boot/ports.ts';
import type { Profile } from '../config/profile.ts';
import { scopeHolding } from '../config/scopes.ts';
import { LeaseAllocator, type AllocatorTimes } from './allocator.ts';
import { buildPool, inPoolSubnet, poolFromProfile, type Pool } from './pool.ts';

/** One pool and who holds its addresses. */
export interface Scope {
  pool: Pool;
  allocator: LeaseAllocator;
}

export type PoolsResult = { ok: true; local: Pool; relayed: Map<string, Pool> } | { ok: false; reason: string };

/** Every pool of the profile: the local one and one per [scope], or why one cannot be built. */
export function poolsFromProfile(profile: Profile): PoolsResult {
  const local = poolFromProfile(profile);
  if (!local.ok) return local;
  const relayed = new Map<string, Pool>();
  for (const scope of profile.scopes.values()) {
    const prefix = Number(scope.subnet.split('/')[1]);
    const netmask = prefix >= 0 && prefix <= 32 ? numberToMask(prefix) : '';
    const built = buildPool({
      scope: `[scope ${scope.name}]`,
      rangeStart: scope.rangeStart,
      rangeEnd: scope.rangeEnd,
      netmask,
      serverAddress: profile.server.address,
      router: scope.router,
      dns: scope.dns.length > 0 ? scope.dns : profile.dhcp.dns,
      domain: scope.domain || profile.dhcp.domain,
      hosts: [...profile.hosts.values()].filter((h) => h.ip && scopeHolding(profile, h.ip) === scope),
      serverOnLink: false,
    });
    if (!built.ok) return built;
    relayed.set(scope.name, built.pool);
  }
  return { ok: true, local: local.pool, relayed };
}

function numberToMask(prefix: number): string {
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

function samePlace(a: Pool, b: Pool): boolean {
  return a.network === b.network && a.prefixLength === b.prefixLength;
}

/** The allocators of every pool, kept across reloads where the pool's subnet stays. */
export class ScopeTable {
  private localScope: Scope;
  private relayedScopes = new Map<string, Scope>();

  constructor(pools: { local: Pool; relayed: Map<string, Pool> }, times: AllocatorTimes, leases: readonly LeaseRecord[]) {
    this.localScope = { pool: pools.local, allocator: new LeaseAllocator(pools.local, times, this.leasesFor(pools.local, pools.relayed, leases)) };
    for (const [name, pool] of pools.relayed)
      this.relayedScopes.set(name, {
        pool,
        allocator: new LeaseAllocator(
          pool,
          times,
          leases.filter((l) => inPoolSubnet(pool, l.ip)),
        ),
      });
  }

  /** The local pool gets every lease no relayed pool holds (an old record outside all pools is kept, unused). */
  private leasesFor(local: Pool, relayed: Map<string, Pool>, leases: readonly LeaseRecord[]): LeaseRecord[] {
    const pools = [...relayed.values()];
    return leases.filter((l) => inPoolSubnet(local, l.ip) || !pools.some((p) => inPoolSubnet(p, l.ip)));
  }

  get local(): Scope {
    return this.localScope;
  }

  /** The relayed scopes, in profile order. */
  get relayed(): Scope[] {
    return [...this.relayedScopes.values()];
  }

  /**
   * The scope a request is served from: the local one without a relay; else the one whose subnet
   * holds giaddr (a relay on the local LAN included); undefined when no pool covers the relay.
   */
  forGiaddr(giaddr: string): Scope | undefined {
    if (giaddr === '0.0.0.0' || inPoolSubnet(this.localScope.pool, giaddr)) return this.localScope;
    for (const scope of this.relayedScopes.values()) if (inPoolSubnet(scope.pool, giaddr)) return scope;
    return undefined;
  }

  /** New pools after a reload: a pool in the same subnet keeps its allocator (offers and leases in memory). */
  reconfigure(pools: { local: Pool; relayed: Map<string, Pool> }, times: AllocatorTimes, leases: () => readonly LeaseRecord[]): void {
    const fresh = (pool: Pool, mine: (all: readonly LeaseRecord[]) => LeaseRecord[]): Scope => ({
      pool,
      allocator: new LeaseAllocator(pool, times, mine(leases())),
    });
    const keep = (old: Scope | undefined, pool: Pool): Scope | undefined => {
      if (!old || !samePlace(old.pool, pool)) return undefined;
      old.allocator.reconfigure(pool, times);
      return { pool, allocator: old.allocator };
    };
    // The local allocator stays whatever changed (the responder holds it), as before scopes.
    this.localScope.allocator.reconfigure(pools.local, times);
    this.localScope = { pool: pools.local, allocator: this.localScope.allocator };
    const next = new Map<string, Scope>();
    for (const [name, pool] of pools.relayed)
      next.set(name, keep(this.relayedScopes.get(name), pool) ?? fresh(pool, (all) => all.filter((l) => inPoolSubnet(pool, l.ip))));
    this.relayedScopes = next;
  }

  sweep(now: number): void {
    this.localScope.allocator.sweep(now);
    for (const scope of this.relayedScopes.values()) scope.allocator.sweep(now);
  }
}
