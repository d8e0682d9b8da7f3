// The cloud-init NoCloud seed a deployed image finds at first boot (docs/deploy.md): meta-data
// (instance id, host name), user-data (a cloud-config) and network-config version 2 (static
// addresses, an LACP bond, a VLAN). Pure: settings and the machine's NICs in, text or a reason
// out. JSON is written where cloud-init reads YAML: JSON is YAML, and needs no escaping rules of
// its own, so no value can break the document.

/** What a host (or rule) says about the deployed system's network; all optional: DHCP on the boot NIC. */
export interface NetworkSettings {
  /** CIDR, e.g. 10.0.1.21/24; empty: DHCP. */
  address?: string;
  gateway?: string;
  dns?: readonly string[];
  /** NIC names (from the inventory) or MACs bonded with LACP (802.3ad) as bond0. */
  bond?: readonly string[];
  /** A VLAN id: the address goes on that VLAN, over the bond or the boot NIC. */
  vlan?: number;
  mtu?: number;
}

export interface SeedNic {
  name: string;
  mac: string;
}

export type SeedResult = { ok: true; text: string } | { ok: false; reason: string };

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function cidrProblem(address: string): string | null {
  const [ip, prefix, extra] = address.split('/');
  if (extra !== undefined || prefix === undefined || !IPV4.test(ip ?? '') || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32)
    return `address ${JSON.stringify(address)} is not an IPv4 address with its prefix, such as 10.0.1.21/24`;
  return null;
}

/** network-config version 2 for one machine: its NICs matched by MAC, so names in the image do not matter. */
export function renderNetworkConfig(settings: NetworkSettings, nics: readonly SeedNic[], bootMac: string): SeedResult {
  const byName = new Map(nics.map((n) => [n.name, n.mac.toLowerCase()]));
  const macOf = (ref: string): string | null => (MAC.test(ref.toLowerCase()) ? ref.toLowerCase() : (byName.get(ref) ?? null));
  if (settings.address) {
    const problem = cidrProblem(settings.address);
    if (problem) return { ok: false, reason: problem };
  }
  for (const ip of [settings.gateway ?? '', ...(settings.dns ?? [])].filter(Boolean)) {
    if (!IPV4.test(ip)) return { ok: false, reason: `${JSON.stringify(ip)} is not an IPv4 address (gateway and dns take addresses)` };
  }
  if (settings.gateway && !settings.address) return { ok: false, reason: 'a gateway without an address: give the static address too, or neither (DHCP)' };
  if (settings.vlan !== undefined && (!Number.isInteger(settings.vlan) || settings.vlan < 1 || settings.vlan > 4094))
    return { ok: false, reason: `vlan ${settings.vlan} is not a VLAN id (1 to 4094)` };
  if (settings.mtu !== undefined && (!Number.isInteger(settings.mtu) || settings.mtu < 576 || settings.mtu > 9216))
    return { ok: false, reason: `mtu ${settings.mtu} is out of range (576 to 9216)` };

  const ethernets: Record<string, object> = {};
  const mtu = settings.mtu !== undefined ? { mtu: settings.mtu } : {};
  // The L3 settings go on the last link: the VLAN, else the bond, else the boot NIC.
  const l3 = {
    ...(settings.address ? { addresses: [settings.address] } : { dhcp4: true }),
    ...(settings.gateway ? { routes: [{ to: 'default', via: settings.gateway }] } : {}),
    ...(settings.dns?.length ? { nameservers: { addresses: [...settings.dns] } } : {}),
  };
  const network: Record<string, unknown> = { version: 2 };
  let link: string;
  let linkConfig: Record<string, unknown>;

  if (settings.bond && settings.bond.length > 0) {
    const members: string[] = [];
    for (const ref of settings.bond) {
      const mac = macOf(ref);
      if (!mac)
        return {
          ok: false,
          reason: `bond member ${JSON.stringify(ref)} is neither a MAC nor a NIC of this machine's inventory (${nics.map((n) => n.name).join(', ') || 'none inspected'})`,
        };
      const name = `bond-member${members.length}`;
      if (Object.values(ethernets).some((e) => (e as { match: { macaddress: string } }).match.macaddress === mac))
        return { ok: false, reason: `bond member ${ref} is named twice` };
      ethernets[name] = { match: { macaddress: mac }, dhcp4: false, ...mtu };
      members.push(name);
    }
    if (members.length < 2) return { ok: false, reason: 'a bond needs at least two NICs' };
    link = 'bond0';
    linkConfig = {
      interfaces: members,
      parameters: { mode: '802.3ad', 'lacp-rate': 'fast', 'mii-monitor-interval': 100, 'transmit-hash-policy': 'layer3+4' },
      ...mtu,
    };
    network.ethernets = ethernets;
    network.bonds = { [link]: settings.vlan === undefined ? { ...linkConfig, ...l3 } : { ...linkConfig, dhcp4: false } };
  } else {
    if (!MAC.test(bootMac)) return { ok: false, reason: `boot MAC ${JSON.stringify(bootMac)} is not a MAC` };
    link = 'boot';
    linkConfig = { match: { macaddress: bootMac }, ...mtu };
    network.ethernets = { [link]: settings.vlan === undefined ? { ...linkConfig, ...l3 } : { ...linkConfig, dhcp4: false } };
  }
  if (settings.vlan !== undefined) network.vlans = { [`vlan${settings.vlan}`]: { id: settings.vlan, link, ...l3 } };
  return { ok: true, text: JSON.stringify({ network }, null, 2) + '\n' };
}

/** meta-data: the instance id (new per deploy, so cloud-init runs its first-boot modules) and the host name. */
export function renderMetaData(instanceId: string, hostname: string): string {
  return JSON.stringify({ 'instance-id': instanceId, 'local-hostname': hostname }, null, 2) + '\n';
}

/** user-data as cloud-init wants it: a cloud-config document starts with its header line. */
export function cloudConfigUserData(rendered: string): SeedResult {
  const text = rendered.replace(/^\uFEFF/, '');
  if (!/^#cloud-config[ \t]*\r?\n/.test(text))
    return { ok: false, reason: 'the user-data template must start with a "#cloud-config" line (it is a cloud-config, not an installer answer)' };
  return { ok: true, text: text.endsWith('\n') ? text : text + '\n' };
}
