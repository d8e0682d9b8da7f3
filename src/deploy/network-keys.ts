// The [host] keys that shape a deployed system's network-config (net_address, net_gateway,
// net_dns, net_bond, net_vlan, net_mtu), read into src/deploy/seed.ts's NetworkSettings. Pure.
// check-config runs the same reading, so a value the seed would refuse is refused before binding.
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
