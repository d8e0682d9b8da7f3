// [scope <name>] sections: one address pool per subnet behind a DHCP relay (server mode). Read by
// the SCOPE_KEYS table and checked against each other, the local [dhcp] pool and the [host]
// reservations before anything binds; each problem names its section, key and value.
import ipaddr from 'ipaddr.js';
import { defaultsOf, SCOPE_KEYS, SCOPE_NAME, type KeySpec } from './keys.ts';
import type { Profile, ScopeEntry } from './profile.ts';

type Raw = Record<string, unknown>;

/** What load.ts's validator offers this module. */
export interface ProblemSink {
  problem(section: string, key: string, value: unknown, message: string): void;
  readKeys(raw: Raw, section: string, keys: Record<string, KeySpec<unknown>>, target: object): void;
}

export const SCOPE_PREFIX = 'scope ';

/** A subnet as numbers: first and last address. */
interface Span {
  first: number;
  last: number;
}

function toNumber(ip: string): number {
  const b = ipaddr.IPv4.parse(ip).toByteArray();
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

function spanOf(network: string, prefix: number): Span {
  const first = toNumber(network);
  const size = prefix === 0 ? 2 ** 32 : 2 ** (32 - prefix);
  return { first, last: first + size - 1 };
}

/** The span of a validated CIDR network such as 10.78.0.0/24. */
export function subnetSpan(cidr: string): Span {
  const [network, prefix] = cidr.split('/');
  return spanOf(network!, Number(prefix));
}

export function inSubnet(cidr: string, ip: string): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return false;
  const n = toNumber(ip);
  const s = subnetSpan(cidr);
  return n >= s.first && n <= s.last;
}

function overlap(a: Span, b: Span): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/** The local [dhcp] pool's subnet (the [server] address's network), when server mode has one. */
export function localSubnet(p: Profile): string | null {
  const { netmask } = p.dhcp;
  if (!netmask || !p.server.address) return null;
  const prefix = ipaddr.IPv4.parse(netmask).prefixLengthFromSubnetMask();
  if (prefix === null) return null;
  return `${ipaddr.IPv4.networkAddressFromCIDR(`${p.server.address}/${prefix}`).toString()}/${prefix}`;
}

/** The scope whose subnet holds `ip`, if any. */
export function scopeHolding(p: Profile, ip: string): ScopeEntry | undefined {
  for (const scope of p.scopes.values()) if (scope.subnet && inSubnet(scope.subnet, ip)) return scope;
  return undefined;
}

/** Reads every [scope <name>] section into p.scopes; a section that cannot be read is a problem. */
export function readScopes(doc: Raw, p: Profile, v: ProblemSink): void {
  for (const [section, value] of Object.entries(doc)) {
    if (!section.startsWith(SCOPE_PREFIX) || typeof value !== 'object' || value === null) continue;
    const name = section.slice(SCOPE_PREFIX.length).trim();
    const raw = value as Raw;
    const nested = Object.values(raw).some((x) => typeof x === 'object' && x !== null && !Array.isArray(x));
    if (nested || !SCOPE_NAME.test(name)) {
      v.problem(section, '', '', `${JSON.stringify(name)} is not a scope name: use letters, digits, - and _ (such as far-lan)`);
      continue;
    }
    if (p.scopes.has(name)) {
      v.problem(section, '', '', `a second section for scope ${name}`);
      continue;
    }
    for (const key of Object.keys(raw)) {
      if (!Object.hasOwn(SCOPE_KEYS, key)) v.problem(section, key, raw[key], `unknown key; [scope …] takes ${Object.keys(SCOPE_KEYS).join(', ')}`);
    }
    const entry: ScopeEntry = { name, ...defaultsOf(SCOPE_KEYS) };
    v.readKeys(raw, section, SCOPE_KEYS, entry);
    // A key written wrongly already has its problem; only a missing one is reported here.
    const missing = (key: string): boolean => {
      const written = raw[key];
      return written === undefined || (typeof written === 'string' && written.trim() === '');
    };
    if (missing('subnet'))
      v.problem(section, 'subnet', '', "a scope needs subnet = <network>/<prefix>, the relay's LAN: a relayed request is matched to its scope by giaddr");
    for (const key of ['range_start', 'range_end'] as const) if (missing(key)) v.problem(section, key, '', `a scope needs ${key}`);
    p.scopes.set(name, entry);
  }
}

/** Checks each scope against itself, the other scopes and the local pool; then the reservations. */
export function checkScopes(p: Profile, v: ProblemSink): void {
  const local = p.dhcp.mode === 'server' ? localSubnet(p) : null;
  const seen: ScopeEntry[] = [];
  for (const scope of p.scopes.values()) {
    const section = `${SCOPE_PREFIX}${scope.name}`;
    if (!scope.subnet) continue;
    const prefix = Number(scope.subnet.split('/')[1]);
    if (prefix > 30) {
      v.problem(section, 'subnet', scope.subnet, 'holds no client address: use a /30 or wider network');
      continue;
    }
    const span = subnetSpan(scope.subnet);
    const other = seen.find((s) => overlap(span, subnetSpan(s.subnet)));
    if (other) v.problem(section, 'subnet', scope.subnet, `overlaps [scope ${other.name}] subnet ${other.subnet}: a giaddr must select one scope`);
    if (local && overlap(span, subnetSpan(local)))
      v.problem(
        section,
        'subnet',
        scope.subnet,
        `overlaps this LAN ${local} ([server] address and [dhcp] netmask), which [dhcp] range_start and range_end serve; a scope is for a subnet behind a relay`,
      );
    seen.push(scope);
    for (const key of ['range_start', 'range_end', 'router'] as const) {
      const field = key === 'range_start' ? 'rangeStart' : key === 'range_end' ? 'rangeEnd' : 'router';
      const ip = scope[field];
      if (ip && !inSubnet(scope.subnet, ip)) v.problem(section, key, ip, `outside the scope's subnet ${scope.subnet}`);
    }
    const { rangeStart, rangeEnd } = scope;
    if (rangeStart && rangeEnd && inSubnet(scope.subnet, rangeStart) && inSubnet(scope.subnet, rangeEnd)) {
      if (toNumber(rangeStart) > toNumber(rangeEnd)) v.problem(section, 'range_end', rangeEnd, `comes before range_start ${rangeStart}`);
      else {
        // The network and broadcast addresses are never leased.
        const usable = Math.min(toNumber(rangeEnd), span.last - 1) - Math.max(toNumber(rangeStart), span.first + 1) + 1;
        if (usable < 1) v.problem(section, 'range_end', rangeEnd, `the range ${rangeStart}-${rangeEnd} holds no usable address of ${scope.subnet}`);
      }
    }
  }
}

/** A [host] ip is fine in the local subnet or in a scope's; this says where it belongs, or why not. */
export function reservationScope(p: Profile, ip: string): { ok: true; scope: ScopeEntry | null } | { ok: false; reason: string } {
  const local = localSubnet(p);
  if (local && inSubnet(local, ip)) return { ok: true, scope: null };
  const scope = scopeHolding(p, ip);
  if (scope) return { ok: true, scope };
  const where = [local, ...[...p.scopes.values()].map((s) => s.subnet).filter(Boolean)].filter(Boolean).join(', ');
  return { ok: false, reason: `outside the subnet${p.scopes.size > 0 ? 's' : ''} served: ${where}` };
}

/** The scopes as INI text, for check-config. */
export function describeScopes(p: Profile): string[] {
  const lines: string[] = [];
  for (const scope of p.scopes.values()) {
    lines.push(`[${SCOPE_PREFIX}${scope.name}]`);
    for (const [name, spec] of Object.entries(SCOPE_KEYS)) {
      const field = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof typeof scope;
      lines.push(`${name} = ${(spec.type.format as (v: unknown) => string)(scope[field])}`);
    }
  }
  return lines;
}
