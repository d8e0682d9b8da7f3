// An address pool: range, subnet, what clients there are told (router, DNS) and the [host]
// reservations in it, as numbers the allocator can walk. [dhcp] makes the local LAN's pool,
// each [scope] one for a subnet behind a relay (src/dhcp/scopes.ts).
import ipaddr from 'ipaddr.js';
import type { HostEntry, Profile } from '../config/profile.ts';
import { scopeHolding } from '../config/scopes.ts';

export interface Pool {
  /** Where it is configured, for messages and events: '[dhcp]' or '[scope <name>]'. */
  scope: string;
  /** First and last address of the range, as unsigned 32-bit numbers. */
  start: number;
  end: number;
  network: string;
  prefixLength: number;
  netmask: string;
  broadcast: string;
  serverAddress: string;
  /** Option 3 and 6 and 15 for clients of this pool; empty: not sent. */
  router: string;
  dns: string[];
  domain: string;
  /** MAC → reserved address. */
  reservations: Map<string, string>;
  /** Reserved address → MAC. */
  reservedIps: Map<string, string>;
}

export type PoolResult = { ok: true; pool: Pool } | { ok: false; reason: string };

export function ipToNumber(ip: string): number {
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

export function numberToIp(n: number): string {
  return ipaddr.fromByteArray([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]).toString();
}

function validIp(ip: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(ip);
}

/** What one pool is made of, as the profile says it. */
export interface PoolSpec {
  scope: string;
  rangeStart: string;
  rangeEnd: string;
  netmask: string;
  serverAddress: string;
  router: string;
  dns: string[];
  domain: string;
  /** The [host] sections whose ip belongs to this pool. */
  hosts: Iterable<HostEntry>;
  /** Whether serverAddress must be inside the subnet (the local LAN's pool: yes; a relayed one: no). */
  serverOnLink: boolean;
}

/** Builds the local LAN's pool from [dhcp], or says in words what is missing or inconsistent. */
export function poolFromProfile(profile: Profile): PoolResult {
  const d = profile.dhcp;
  const hosts = [...profile.hosts.values()].filter((h) => h.ip && !scopeHolding(profile, h.ip));
  return buildPool({
    scope: '[dhcp]',
    rangeStart: d.rangeStart,
    rangeEnd: d.rangeEnd,
    netmask: d.netmask,
    serverAddress: profile.server.address,
    router: d.router,
    dns: d.dns,
    domain: d.domain,
    hosts,
    serverOnLink: true,
  });
}

export function buildPool(spec: PoolSpec): PoolResult {
  const d = spec;
  for (const [key, value] of [
    ['range start', d.rangeStart],
    ['range end', d.rangeEnd],
    ['netmask', d.netmask],
    ['[server] address', d.serverAddress],
  ] as const) {
    if (!validIp(value)) return { ok: false, reason: `${spec.scope} in server mode needs ${key} as an IPv4 address (got '${value}')` };
  }
  let prefixLength: number;
  try {
    prefixLength = ipaddr.IPv4.parse(d.netmask).prefixLengthFromSubnetMask() ?? -1;
  } catch {
    prefixLength = -1;
  }
  if (prefixLength < 0 || prefixLength > 30) return { ok: false, reason: `${spec.scope} netmask ${d.netmask} is not a contiguous mask of /30 or wider` };
  const network = ipaddr.IPv4.networkAddressFromCIDR(`${d.rangeStart}/${prefixLength}`).toString();
  const broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(`${d.rangeStart}/${prefixLength}`).toString();
  const inSubnet = (ip: string) => ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parse(network), prefixLength);
  if (!inSubnet(d.rangeEnd)) return { ok: false, reason: `${spec.scope} range ${d.rangeStart}-${d.rangeEnd} crosses the /${prefixLength} subnet boundary` };
  // Network and broadcast addresses are never leased, even when the range names them.
  const start = Math.max(ipToNumber(d.rangeStart), ipToNumber(network) + 1);
  const end = Math.min(ipToNumber(d.rangeEnd), ipToNumber(broadcast) - 1);
  if (start > end) return { ok: false, reason: `${spec.scope} range ${d.rangeStart}-${d.rangeEnd} holds no usable address` };
  if (spec.serverOnLink && !inSubnet(d.serverAddress))
    return { ok: false, reason: `[server] address ${d.serverAddress} is not in the DHCP subnet ${network}/${prefixLength}` };

  const reservations = new Map<string, string>();
  const reservedIps = new Map<string, string>();
  for (const host of spec.hosts) {
    if (!host.ip) continue;
    if (!validIp(host.ip) || !inSubnet(host.ip))
      return { ok: false, reason: `[host ${host.mac}] ip ${host.ip} is not in the DHCP subnet ${network}/${prefixLength}` };
    const holder = reservedIps.get(host.ip);
    if (holder) return { ok: false, reason: `[host ${host.mac}] ip ${host.ip} is already reserved for ${holder}` };
    reservations.set(host.mac, host.ip);
    reservedIps.set(host.ip, host.mac);
  }
  return {
    ok: true,
    pool: {
      scope: spec.scope,
      start,
      end,
      network,
      prefixLength,
      netmask: d.netmask,
      broadcast,
      serverAddress: d.serverAddress,
      router: d.router,
      dns: [...d.dns],
      domain: d.domain,
      reservations,
      reservedIps,
    },
  };
}

export function inPoolSubnet(pool: Pool, ip: string): boolean {
  return validIp(ip) && ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parse(pool.network), pool.prefixLength);
}

export function inPoolRange(pool: Pool, ip: string): boolean {
  if (!validIp(ip)) return false;
  const n = ipToNumber(ip);
  return n >= pool.start && n <= pool.end;
}
