// Who holds which address: bound leases (mirrored from SQLite), short-lived offers (memory only),
// and quarantined declines. Methods change memory at once and return the writes the caller must
// commit before telling the client anything.
import type { LeaseRecord } from '../boot/ports.ts';
import { inPoolRange, inPoolSubnet, numberToIp, type Pool } from './pool.ts';

export interface LeaseClient {
  /** 'id:<hex>' for option 61, else 'mac:<mac>'. */
  key: string;
  mac: string;
  hostname?: string | null;
}

export type LeaseWrite = { put: LeaseRecord } | { delete: string };

export interface AllocatorTimes {
  offerHoldMs: number;
  leaseMs: number;
  quarantineMs: number;
}

interface Offer {
  ip: string;
  key: string;
  expiresAt: number;
}

export type Availability = { ok: true } | { ok: false; reason: string };

export type OfferChoice = { ip: string; why: string } | { ip: null; reason: string };

export class LeaseAllocator {
  private pool: Pool;
  private times: AllocatorTimes;
  private readonly leases = new Map<string, LeaseRecord>();
  /** Client key → the address of its lease (bound or released; never a declined one). */
  private readonly leaseByClient = new Map<string, string>();
  private readonly offers = new Map<string, Offer>();
  private readonly offerByClient = new Map<string, string>();
  private cursor: number;
  /** While the pool is full: nothing can free up before this time (ms), so skip the scan. */
  private fullUntil = 0;
  /** A whole cursor walk found no never-used address; walk again only once one may have appeared. */
  private walkedEmpty = false;

  constructor(pool: Pool, times: AllocatorTimes, initial: LeaseRecord[] = []) {
    this.pool = pool;
    this.times = times;
    this.cursor = pool.start;
    for (const lease of initial) this.remember(lease);
  }

  reconfigure(pool: Pool, times: AllocatorTimes): void {
    this.pool = pool;
    this.times = times;
    if (this.cursor < pool.start || this.cursor > pool.end) this.cursor = pool.start;
    this.fullUntil = 0;
    this.walkedEmpty = false;
  }

  private remember(lease: LeaseRecord): void {
    const previous = this.leases.get(lease.ip);
    if (previous && this.leaseByClient.get(previous.clientKey) === lease.ip) this.leaseByClient.delete(previous.clientKey);
    this.leases.set(lease.ip, lease);
    if (lease.state !== 'declined') this.leaseByClient.set(lease.clientKey, lease.ip);
  }

  private forget(ip: string): void {
    const lease = this.leases.get(ip);
    if (!lease) return;
    this.leases.delete(ip);
    if (this.leaseByClient.get(lease.clientKey) === ip) this.leaseByClient.delete(lease.clientKey);
    this.fullUntil = 0;
    this.walkedEmpty = false;
  }

  leaseOf(key: string): LeaseRecord | undefined {
    const ip = this.leaseByClient.get(key);
    return ip ? this.leases.get(ip) : undefined;
  }

  offerOf(key: string, now: number): string | undefined {
    const ip = this.offerByClient.get(key);
    if (!ip) return undefined;
    const offer = this.offers.get(ip);
    if (!offer || offer.key !== key || offer.expiresAt <= now) return undefined;
    return ip;
  }

  /** Who holds `ip` right now, in words, or undefined when nobody does. */
  private holder(ip: string, now: number): { key: string; what: string } | undefined {
    const offer = this.offers.get(ip);
    if (offer) {
      if (offer.expiresAt > now) return { key: offer.key, what: 'offered to another client' };
      this.dropOffer(ip);
    }
    const lease = this.leases.get(ip);
    if (lease && lease.expiresAt > now) {
      if (lease.state === 'bound') return { key: lease.clientKey, what: `leased to ${lease.mac}` };
      if (lease.state === 'declined') return { key: '', what: `declined by ${lease.mac} (in use by some other host), quarantined` };
    }
    return undefined;
  }

  availableFor(ip: string, client: LeaseClient, now: number): Availability {
    const pool = this.pool;
    if (!inPoolSubnet(pool, ip)) return { ok: false, reason: `${ip} is not in this network (${pool.network}/${pool.prefixLength})` };
    if (ip === pool.serverAddress || ip === pool.network || ip === pool.broadcast) return { ok: false, reason: `${ip} is not a client address` };
    const reservedFor = pool.reservedIps.get(ip);
    if (reservedFor && reservedFor !== client.mac) return { ok: false, reason: `${ip} is reserved for ${reservedFor}` };
    if (!reservedFor && !inPoolRange(pool, ip)) return { ok: false, reason: `${ip} is outside the pool ${numberToIp(pool.start)}-${numberToIp(pool.end)}` };
    const held = this.holder(ip, now);
    if (held && held.key !== client.key) return { ok: false, reason: `${ip} is ${held.what}` };
    return { ok: true };
  }

  /** RFC 2131 §4.3.1 order: reservation, current offer or lease, requested address, then a free one. */
  chooseOffer(client: LeaseClient, requested: string | undefined, now: number): OfferChoice {
    const reserved = this.pool.reservations.get(client.mac);
    if (reserved && this.availableFor(reserved, client, now).ok) return { ip: reserved, why: `reserved for ${client.mac}` };
    const offered = this.offerOf(client.key, now);
    if (offered && this.availableFor(offered, client, now).ok) return { ip: offered, why: 'already offered to this client' };
    const lease = this.leaseOf(client.key);
    if (lease && this.availableFor(lease.ip, client, now).ok)
      return { ip: lease.ip, why: `this client's ${lease.expiresAt > now && lease.state === 'bound' ? 'current' : 'previous'} lease` };
    if (requested && this.availableFor(requested, client, now).ok) return { ip: requested, why: 'requested by the client' };
    const free = this.findFree(client, now);
    if (free) return { ip: free, why: 'free in the pool' };
    return { ip: null, reason: `pool ${numberToIp(this.pool.start)}-${numberToIp(this.pool.end)} is exhausted` };
  }

  // Never-used addresses first (cursor walk, amortised O(1)), then the longest-expired one.
  private findFree(client: LeaseClient, now: number): string | null {
    if (now < this.fullUntil) return null;
    const size = this.walkedEmpty ? 0 : this.pool.end - this.pool.start + 1;
    for (let step = 0; step < size; step++) {
      const n = this.cursor;
      this.cursor = n >= this.pool.end ? this.pool.start : n + 1;
      const ip = numberToIp(n);
      if (this.leases.has(ip) || this.pool.reservedIps.has(ip) || ip === this.pool.serverAddress) continue;
      if (this.holder(ip, now)) continue;
      return ip;
    }
    this.walkedEmpty = true;
    let best: LeaseRecord | undefined;
    let soonest = Number.POSITIVE_INFINITY;
    for (const lease of this.leases.values()) {
      if (!inPoolRange(this.pool, lease.ip)) continue;
      const held = this.holder(lease.ip, now);
      if (held) {
        const until = this.offers.get(lease.ip)?.expiresAt ?? lease.expiresAt;
        if (until < soonest) soonest = until;
        continue;
      }
      if (!this.availableFor(lease.ip, client, now).ok) continue;
      if (!best || lease.expiresAt < best.expiresAt) best = lease;
    }
    if (best) return best.ip;
    for (const offer of this.offers.values()) if (offer.expiresAt < soonest) soonest = offer.expiresAt;
    this.fullUntil = Number.isFinite(soonest) ? soonest : now + this.times.offerHoldMs;
    return null;
  }

  /** Holds `ip` for the client for offerHold; memory only. */
  hold(ip: string, client: LeaseClient, now: number): void {
    this.releaseOffer(client.key);
    const offer = { ip, key: client.key, expiresAt: now + this.times.offerHoldMs };
    this.offers.set(ip, offer);
    this.offerByClient.set(client.key, ip);
  }

  private dropOffer(ip: string): void {
    const offer = this.offers.get(ip);
    if (!offer) return;
    this.offers.delete(ip);
    if (this.offerByClient.get(offer.key) === ip) this.offerByClient.delete(offer.key);
    this.fullUntil = 0;
    if (!this.leases.has(ip)) this.walkedEmpty = false;
  }

  /** The client chose another server, or took a lease: its offer goes back to the pool. */
  releaseOffer(key: string): string | undefined {
    const ip = this.offerByClient.get(key);
    if (ip) this.dropOffer(ip);
    return ip;
  }

  /** Binds `ip` to the client for a lease time; returns what to commit before the ACK leaves. */
  bind(ip: string, client: LeaseClient, now: number, leaseMs = this.times.leaseMs): { lease: LeaseRecord; writes: LeaseWrite[] } {
    const writes: LeaseWrite[] = [];
    this.releaseOffer(client.key);
    const old = this.leaseOf(client.key);
    if (old && old.ip !== ip) {
      this.forget(old.ip);
      writes.push({ delete: old.ip });
    }
    const lease: LeaseRecord = {
      ip,
      clientKey: client.key,
      mac: client.mac,
      hostname: client.hostname ?? null,
      state: 'bound',
      expiresAt: now + leaseMs,
      updatedAt: now,
    };
    this.remember(lease);
    writes.push({ put: lease });
    return { lease, writes };
  }

  /** DHCPRELEASE: the address is free again; the record stays so the client gets it back next time. */
  release(ip: string, client: LeaseClient, now: number): LeaseWrite[] | null {
    const lease = this.leases.get(ip);
    if (!lease || lease.clientKey !== client.key || lease.state !== 'bound') return null;
    const released: LeaseRecord = { ...lease, state: 'released', expiresAt: now, updatedAt: now };
    this.remember(released);
    this.fullUntil = 0;
    return [{ put: released }];
  }

  /** DHCPDECLINE: someone else uses `ip`; keep it out of the pool for the quarantine time. */
  decline(ip: string, client: LeaseClient, now: number): LeaseWrite[] | null {
    const lease = this.leases.get(ip);
    const offered = this.offers.get(ip);
    const ours = (lease && lease.clientKey === client.key) || (offered && offered.key === client.key);
    if (!ours) return null;
    this.dropOffer(ip);
    const declined: LeaseRecord = {
      ip,
      clientKey: client.key,
      mac: client.mac,
      hostname: null,
      state: 'declined',
      expiresAt: now + this.times.quarantineMs,
      updatedAt: now,
    };
    if (this.leaseByClient.get(client.key) === ip) this.leaseByClient.delete(client.key);
    this.leases.set(ip, declined);
    return [{ put: declined }];
  }

  /** Drops expired offers so a flood of one-off DISCOVERs cannot grow memory without bound. */
  sweep(now: number): void {
    for (const [ip, offer] of this.offers) if (offer.expiresAt <= now) this.dropOffer(ip);
  }
}
