// The address pool of [dhcp]: range, subnet and [host] reservations, as numbers the allocator can walk.
import ipaddr from 'ipaddr.js';
import type { Profile } from '../config/profile.ts';

export interface Pool {
  /** First and last address of the range, as unsigned 32-bit numbers. */
  start: number;
  end: number;
  network: string;
  prefixLength: number;
  netmask: string;
  broadcast: string;
  serverAddress: string;
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

/** Builds the pool from the profile, or says in words what is missing or inconsistent. */
export function poolFromProfile(profile: Profile): PoolResult {
  const d = profile.dhcp;
  for (const [key, value] of [
    ['range start', d.rangeStart],
    ['range end', d.rangeEnd],
    ['netmask', d.netmask],
    ['[server] address', profile.server.address],
  ] as const) {
    if (!validIp(value)) return { ok: false, reason: `[dhcp] mode = server needs ${key} as an IPv4 address (got '${value}')` };
  }
  let prefixLength: number;
  try {
    prefixLength = ipaddr.IPv4.parse(d.netmask).prefixLengthFromSubnetMask() ?? -1;
  } catch {
    prefixLength = -1;
  }
  if (prefixLength < 0 || prefixLength > 30) return { ok: false, reason: `[dhcp] netmask ${d.netmask} is not a contiguous mask of /30 or wider` };
  const network = ipaddr.IPv4.networkAddressFromCIDR(`${d.rangeStart}/${prefixLength}`).toString();
  const broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(`${d.rangeStart}/${prefixLength}`).toString();
  const inSubnet = (ip: string) => ipaddr.IPv4.parse(ip).match(ipaddr.IPv4.parse(network), prefixLength);
  if (!inSubnet(d.rangeEnd)) return { ok: false, reason: `[dhcp] range ${d.rangeStart}-${d.rangeEnd} crosses the /${prefixLength} subnet boundary` };
  // Network and broadcast addresses are never leased, even when the range names them.
  const start = Math.max(ipToNumber(d.rangeStart), ipToNumber(network) + 1);
  const end = Math.min(ipToNumber(d.rangeEnd), ipToNumber(broadcast) - 1);
  if (start > end) return { ok: false, reason: `[dhcp] range ${d.rangeStart}-${d.rangeEnd} holds no usable address` };
  if (!inSubnet(profile.server.address))
    return { ok: false, reason: `[server] address ${profile.server.address} is not in the DHCP subnet ${network}/${prefixLength}` };

  const reservations = new Map<string, string>();
  const reservedIps = new Map<string, string>();
  for (const host of profile.hosts.values()) {
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
    pool: { start, end, network, prefixLength, netmask: d.netmask, broadcast, serverAddress: profile.server.address, reservations, reservedIps },
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
