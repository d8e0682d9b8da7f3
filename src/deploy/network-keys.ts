// The keys that shape a deployed system's network-config (net_address, net_gateway, net_dns,
// net_bond, net_vlan, net_mtu), read into src/deploy/seed.ts's NetworkSettings. Pure. They come
// from a [host <mac>], an enrolment or a [rule] (src/boot/settings.ts says which); check-config
// and the enrolment API run the same reading, so a value the seed would refuse is refused first.
import { renderNetworkConfig, type NetworkSettings } from './seed.ts';

/** The keys as a [host] entry holds them (camel case), and as the INI spells them. */
export const NETWORK_KEYS = {
  netAddress: 'net_address',
  netGateway: 'net_gateway',
  netDns: 'net_dns',
  netBond: 'net_bond',
  netVlan: 'net_vlan',
  netMtu: 'net_mtu',
} as const;
export type NetworkKeys = Partial<Record<keyof typeof NETWORK_KEYS, string>>;
type IniKey = (typeof NETWORK_KEYS)[keyof typeof NETWORK_KEYS];

export type NetworkField = keyof typeof NETWORK_KEYS;

export type NetworkRead = { ok: true; settings: NetworkSettings } | { ok: false; key: IniKey; field: keyof typeof NETWORK_KEYS; reason: string };

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The keys as settings; the first wrong key with the reason. Bond members are checked against the inventory later. */
export function readNetworkKeys(keys: NetworkKeys): NetworkRead {
  const settings: { -readonly [K in keyof NetworkSettings]: NetworkSettings[K] } = {};
  const wrong = (field: keyof typeof NETWORK_KEYS, reason: string): NetworkRead => ({ ok: false, key: NETWORK_KEYS[field], field, reason });
  if (keys.netAddress) settings.address = keys.netAddress.trim();
  if (keys.netGateway) settings.gateway = keys.netGateway.trim();
  if (keys.netDns) settings.dns = list(keys.netDns);
  if (keys.netBond) settings.bond = list(keys.netBond);
  for (const [key, field] of [
    ['netVlan', 'vlan'],
    ['netMtu', 'mtu'],
  ] as const) {
    const raw = keys[key]?.trim();
    if (!raw) continue;
    if (!/^\d{1,5}$/.test(raw)) return wrong(key, `expected a whole number, such as ${key === 'netVlan' ? '42' : '9000'}`);
    settings[field] = Number(raw);
  }
  if (settings.bond && settings.bond.length < 2) return wrong('netBond', 'a bond needs at least two NICs (names or MACs, comma-separated)');
  // The rest as the seed itself checks it, on a stand-in NIC: only the bond members need the inventory.
  const probe = renderNetworkConfig({ ...settings, bond: [] }, [], '02:00:00:00:00:01');
  if (!probe.ok) {
    const field = /^address/.test(probe.reason)
      ? 'netAddress'
      : /^vlan/.test(probe.reason)
        ? 'netVlan'
        : /^mtu/.test(probe.reason)
          ? 'netMtu'
          : settings.dns?.some((d) => probe.reason.includes(JSON.stringify(d)))
            ? 'netDns'
            : 'netGateway';
    return wrong(field, probe.reason);
  }
  return { ok: true, settings };
}

/** Only the keys that are set (a [host] entry holds every key, empty when not written), trimmed. */
export function setNetworkKeys(keys: NetworkKeys): NetworkKeys {
  const out: NetworkKeys = {};
  for (const field of Object.keys(NETWORK_KEYS) as NetworkField[]) {
    const value = keys[field]?.trim();
    if (value) out[field] = value;
  }
  return out;
}

/** The keys that give one machine its own address: a [rule] gives every machine it matches the same settings. */
export const PER_MACHINE_KEYS = ['netAddress', 'netGateway'] as const satisfies readonly NetworkField[];

const MAC_LIKE = /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i;

/** Why these keys cannot stand in a [rule], naming the first such key; null when they can. Pure. */
export function ruleNetworkProblem(keys: NetworkKeys): { key: IniKey; field: NetworkField; reason: string } | null {
  for (const field of PER_MACHINE_KEYS) {
    if (!keys[field]?.trim()) continue;
    const key = NETWORK_KEYS[field];
    return {
      key,
      field,
      reason:
        `a [rule] gives every machine it matches the same settings, so each would get this one address: put ${key} in the machine's ` +
        `[host <mac>] section or its enrolment (pxe-pilot nodes enrol MAC --${key.replace('_', '-')} …); net_dns, net_bond, net_vlan and net_mtu may stay in the rule`,
    };
  }
  const mac = list(keys.netBond ?? '').find((member) => MAC_LIKE.test(member));
  if (mac)
    return {
      key: 'net_bond',
      field: 'netBond',
      reason: `${mac} is one machine's NIC: name the bond's NICs as the inventory does (such as eno1, eno2), or put net_bond in the machine's [host <mac>] section or its enrolment`,
    };
  return null;
}

/** The keys of a JSON object by their field names (the enrolment API: "netAddress"…), read as readNetworkKeys does; null or absent: not set. */
export function readNetworkJson(body: Record<string, unknown>): { ok: true; keys: NetworkKeys } | { ok: false; field: NetworkField; reason: string } {
  const keys: NetworkKeys = {};
  for (const field of Object.keys(NETWORK_KEYS) as NetworkField[]) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return { ok: false, field, reason: `expected text, as ${NETWORK_KEYS[field]} is written in a [host] section` };
    keys[field] = value;
  }
  const read = readNetworkKeys(keys);
  return read.ok ? { ok: true, keys: setNetworkKeys(keys) } : { ok: false, field: read.field, reason: read.reason };
}

/** The set keys as INI lines say them: ["net_vlan = 42", "net_mtu = 9000"]. */
export function describeNetworkKeys(keys: NetworkKeys): string[] {
  return (Object.keys(NETWORK_KEYS) as NetworkField[]).filter((field) => keys[field]).map((field) => `${NETWORK_KEYS[field]} = ${keys[field]}`);
}
