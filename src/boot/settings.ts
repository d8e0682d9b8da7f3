// What settings a machine has, and where they come from, in the one order of precedence:
//   1. its [host <mac>] section;
//   2. a [host serial:X] or [host uuid:U] section, once iPXE reported the identity or an inventory
//      holds it (placeholders and values two machines share select nothing);
//   3. its enrolment (kept in the store);
//   4. the first [rule] that matches its inventory, in profile order (the main file, then the
//      included files in name order), with why each earlier one did not.
// The first source that applies gives every setting, the deployed system's network keys and
// install_disk included: nothing is mixed from a source further down (docs/decisions.md).
// Pure: the policy (decide), explain, the agent's next step and GET /nodes/<mac> ask here.
import { isPlaceholderSerial, isPlaceholderUuid, swapUuidFields, uuidNormalForm } from '../agent/identity.ts';
import type { Inventory } from '../agent/inventory.ts';
import type { NodeState } from './lifecycle.ts';
import type { LoaderName } from './loaders.ts';
import type { NodeRecord } from './ports.ts';
import { fillHostname } from './inventory-values.ts';
import { setNetworkKeys, type NetworkKeys } from '../deploy/network-keys.ts';
import { matchRule, parseInstallDisk, type InstallDiskChoice, type MenuSpec, type RuleSpec } from './rules.ts';

/** What a [host], a [rule] or an enrolment may ask a machine to do. */
export const HOST_ACTIONS = ['install', 'deploy', 'local', 'menu', 'inspect', 'wipe'] as const;
export type HostActionName = (typeof HOST_ACTIONS)[number];

/** A [host] section as the policy reads it (by MAC, serial or UUID). */
export interface HostSettings extends NetworkKeys {
  action: HostActionName;
  profile: string;
  hostname?: string;
  cmdline?: string;
  loader?: LoaderName | '';
  /** Armed for install: inspect first when the inventory is older than the arm. */
  inspectFirst?: boolean;
  /** The disk a deploy writes (and {{install_disk}}); absent or null: none. */
  installDisk?: InstallDiskChoice | null;
}

/** A [host serial:X] / [host uuid:U] section: keyed "serial:<lower-case serial>" or "uuid:<normal form>". */
export interface IdentityHost extends HostSettings {
  section: string;
}

/** What settings resolution reads of the profile (src/config's Profile satisfies it). */
export interface SettingsProfile {
  file: string;
  hosts: ReadonlyMap<string, HostSettings>;
  identityHosts?: ReadonlyMap<string, IdentityHost>;
  rules?: readonly RuleSpec[];
  menus?: ReadonlyMap<string, MenuSpec>;
}

/** The node as settings resolution reads it: its state, the identity it reported, inventory and enrolment. */
export type SettingsNode = NodeState & Partial<Pick<NodeRecord, 'serial' | 'uuid' | 'inventory' | 'enrolment'>>;

/** Which machines (by MAC) are known with an identity: a value two machines share selects nothing. */
export interface IdentityCensus {
  /** The other machines known with this value: not `mac`, nor a NIC of the same machine (its inventory lists both). */
  macsWith(kind: 'serial' | 'uuid', value: string, mac: string): string[];
}

export type SettingsSource = 'host' | 'enrolment' | 'rule' | 'none';

export interface NodeSettings {
  source: SettingsSource;
  /** The section or record the settings come from: "[host 52:54:…]", "[host serial:X]", "enrolment", "[rule NAME]". */
  from: string | null;
  rule?: string;
  /** Why these settings (or none), naming what was passed over. */
  reason: string;
  action: HostActionName | null;
  profile: string | null;
  hostname: string | null;
  /** Why there is no hostname although one was asked for (a template over a fact the inventory lacks). */
  hostnameProblem?: string;
  cmdline: string;
  installDisk: InstallDiskChoice | null;
  /** The deployed system's net_* keys from the same source, set ones only; empty: DHCP on the boot NIC. */
  network: NetworkKeys;
  menu: string | null;
  inspectFirst: boolean;
  /** Why each [host serial/uuid] section or earlier rule did not apply, in order. */
  passedOver: string[];
}

/** The identity a machine is known by: UUIDs in the normal form (identity.ts), serials trimmed. */
export function nodeIdentity(node: Partial<Pick<NodeRecord, 'serial' | 'uuid' | 'inventory'>> | undefined): { uuids: string[]; serials: string[] } {
  const uuids = new Set<string>();
  const serials = new Set<string>();
  const inv = node?.inventory?.document;
  // The inventory's UUID is read from the kernel: already the normal form.
  const invUuid = inv?.system.uuid ? uuidNormalForm(inv.system.uuid) : null;
  if (invUuid) uuids.add(invUuid);
  // iPXE's ${uuid} and DHCP option 97 carry the stored bytes: the first three fields swapped.
  const sighted = node?.uuid ? uuidNormalForm(node.uuid) : null;
  if (sighted) uuids.add(swapUuidFields(sighted));
  for (const s of [inv?.system.serial, node?.serial]) if (s && s.trim()) serials.add(s.trim());
  return { uuids: [...uuids], serials: [...serials] };
}

/** A census over the known nodes (the store's directory); computed only when an identity section applies. */
export function censusOf(nodes: () => Iterable<Partial<Pick<NodeRecord, 'mac' | 'serial' | 'uuid' | 'inventory'>>>): IdentityCensus {
  return {
    macsWith(kind, value, mac) {
      const out: string[] = [];
      const wanted = kind === 'uuid' ? value : value.toLowerCase();
      for (const n of nodes()) {
        if (!n.mac || n.mac === mac) continue;
        // A second NIC of the same machine shares its identity: its inventory names this MAC too.
        if (n.inventory?.document.nics.some((nic) => nic.mac === mac)) continue;
        const id = nodeIdentity(n);
        const values = kind === 'uuid' ? id.uuids : id.serials.map((s) => s.toLowerCase());
        if (values.includes(wanted)) out.push(n.mac);
      }
      return out;
    },
  };
}

function none(reason: string, passedOver: string[]): NodeSettings {
  return {
    source: 'none',
    from: null,
    reason,
    action: null,
    profile: null,
    hostname: null,
    cmdline: '',
    installDisk: null,
    network: {},
    menu: null,
    inspectFirst: false,
    passedOver,
  };
}

function fromHost(host: HostSettings, section: string, reason: string, passedOver: string[]): NodeSettings {
  return {
    source: 'host',
    from: section,
    reason,
    action: host.action,
    profile: host.profile || null,
    hostname: host.hostname || null,
    cmdline: host.cmdline ?? '',
    installDisk: host.installDisk ?? null,
    network: setNetworkKeys(host),
    menu: null,
    inspectFirst: host.inspectFirst === true,
    passedOver,
  };
}

/** The [host serial:…]/[host uuid:…] section that selects the node, or why each that named it does not. */
function identityHost(
  mac: string,
  node: SettingsNode | undefined,
  profile: SettingsProfile,
  census: IdentityCensus | undefined,
  passedOver: string[],
): NodeSettings | null {
  const sections = profile.identityHosts;
  if (!sections || sections.size === 0) return null;
  const id = nodeIdentity(node);
  const candidates: { kind: 'uuid' | 'serial'; value: string; key: string }[] = [
    ...id.uuids.map((u) => ({ kind: 'uuid' as const, value: u, key: `uuid:${u}` })),
    ...id.serials.map((s) => ({ kind: 'serial' as const, value: s, key: `serial:${s.toLowerCase()}` })),
  ];
  for (const c of candidates) {
    const host = sections.get(c.key);
    if (!host) continue;
    const placeholder = c.kind === 'uuid' ? isPlaceholderUuid(c.value) : isPlaceholderSerial(c.value);
    if (placeholder) {
      passedOver.push(`[${host.section}]: ${c.kind} ${c.value} is a placeholder many machines report, so it selects nothing`);
      continue;
    }
    const ownNics = new Set(node?.inventory?.document.nics.map((n) => n.mac) ?? []);
    const others = (census?.macsWith(c.kind, c.value, mac) ?? []).filter((m) => !ownNics.has(m));
    if (others.length > 0) {
      passedOver.push(`[${host.section}]: ${c.kind} ${c.value} is shared with ${others.slice(0, 3).join(', ')}, so it selects nothing`);
      continue;
    }
    return fromHost(host, host.section, `[${host.section}] in ${profile.file} (${c.kind} ${c.value})`, passedOver);
  }
  return null;
}

function fromEnrolment(node: SettingsNode, passedOver: string[]): NodeSettings | null {
  const e = node.enrolment;
  if (!e) return null;
  const action = (HOST_ACTIONS as readonly string[]).includes(e.action) ? e.action : null;
  const at = new Date(e.enrolledAt).toISOString().replace('.000Z', 'Z');
  const note = action ? '' : `; action ${e.action} is not one this version boots: menu`;
  // Checked when it was enrolled; one this version no longer reads chooses no disk.
  const disk = e.installDisk ? parseInstallDisk(e.installDisk) : null;
  return {
    source: 'enrolment',
    from: 'enrolment',
    reason: `enrolled by ${e.enrolledBy} at ${at}${note}`,
    action: action ?? 'menu',
    profile: e.profile,
    hostname: e.hostname,
    cmdline: '',
    installDisk: disk?.ok ? disk.choice : null,
    network: setNetworkKeys(e.network ?? {}),
    menu: null,
    inspectFirst: false,
    passedOver,
  };
}

function fromRules(node: SettingsNode | undefined, profile: SettingsProfile, passedOver: string[]): NodeSettings | null {
  const inventory: Inventory | null = node?.inventory?.document ?? null;
  for (const rule of profile.rules ?? []) {
    const match = matchRule(rule, inventory);
    if (!match.matched) {
      passedOver.push(match.reason);
      continue;
    }
    const hostname = rule.hostname ? fillHostname(rule.hostname, inventory) : null;
    return {
      source: 'rule',
      from: `[rule ${rule.name}]`,
      rule: rule.name,
      reason: `${match.reason} (${rule.file})`,
      action: rule.action ?? null,
      profile: rule.profile ?? null,
      hostname: hostname?.ok ? hostname.text : null,
      ...(hostname && !hostname.ok ? { hostnameProblem: hostname.problem } : {}),
      cmdline: '',
      installDisk: rule.installDisk ?? null,
      network: rule.network ?? {},
      menu: rule.menu ?? null,
      inspectFirst: false,
      passedOver: [...passedOver],
    };
  }
  return null;
}

/** The machine's settings and where they come from. */
export function settingsFor(mac: string, node: SettingsNode | undefined, profile: SettingsProfile, census?: IdentityCensus): NodeSettings {
  const passedOver: string[] = [];
  const host = profile.hosts.get(mac);
  if (host) return fromHost(host, `host ${mac}`, `[host ${mac}] in ${profile.file}`, passedOver);
  const byIdentity = identityHost(mac, node, profile, census, passedOver);
  if (byIdentity) return byIdentity;
  const enrolled = node ? fromEnrolment(node, passedOver) : null;
  if (enrolled) return enrolled;
  const ruled = fromRules(node, profile, passedOver);
  if (ruled) return ruled;
  const why = (profile.rules ?? []).length > 0 ? 'no [host] section, no enrolment, and no [rule] matches' : 'no [host] section and no enrolment';
  return none(why, passedOver);
}

/** Inspected, and no host, enrolment or rule gives it settings: a machine to enrol (GET /nodes?state=discovered). */
export function isDiscovered(node: SettingsNode | undefined, settings: NodeSettings): boolean {
  return Boolean(node?.inventory) && settings.source === 'none';
}

/** The settings as GET /nodes/<mac> shows them (the contract's settingsFrom). */
export function settingsFromView(settings: NodeSettings): { source: SettingsSource; rule?: string; reason: string } {
  return { source: settings.source, ...(settings.rule ? { rule: settings.rule } : {}), reason: settings.reason };
}
