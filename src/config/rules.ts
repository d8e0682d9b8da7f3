// [rule <name>], [menu <name>] and [host serial:X] / [host uuid:U] sections: read into the data
// src/boot/settings.ts decides with, each problem naming file, section, key and value.
import { isPlaceholderSerial, isPlaceholderUuid, uuidNormalForm } from '../agent/identity.ts';
import { parseComparison, parseGlob, type Comparison, type Glob } from '../boot/match.ts';
import { parseInstallDisk, type MenuSpec, type RuleConditions, type RuleSpec } from '../boot/rules.ts';
import type { IdentityHost } from '../boot/settings.ts';
import { NETWORK_KEYS, readNetworkKeys, ruleNetworkProblem, setNetworkKeys, type NetworkField, type NetworkKeys } from '../deploy/network-keys.ts';
import { defaultsOf, HOST_KEYS, HOST_VARIABLE, IDENTITY_HOST_KEYS, MENU_KEYS, RULE_KEYS, SCOPE_NAME, type KeySpec } from './keys.ts';
import type { Profile } from './profile.ts';
import { PROFILE_NAME } from './values.ts';

type Raw = Record<string, unknown>;

export interface RuleProblemSink {
  readonly file: string;
  /** The file or flag that wrote the section's key. */
  originOf(section: string, key: string): string;
  problem(section: string, key: string, value: unknown, message: string): void;
  readKeys(raw: Raw, section: string, keys: Record<string, KeySpec<unknown>>, target: object): void;
}

export const RULE_PREFIX = 'rule ';
export const MENU_PREFIX = 'menu ';
const IDENTITY_SECTION = /^host\s+(serial|uuid):(.*)$/i;

/** Whether a [host …] section names a machine by serial or UUID rather than by MAC. */
export function isIdentityHostSection(section: string): boolean {
  return IDENTITY_SECTION.test(section);
}

/** Keys a [host serial/uuid] section must not have: DHCP-time and power choices stay keyed by MAC. */
const MAC_ONLY_KEYS = Object.keys(HOST_KEYS).filter((k) => !(IDENTITY_HOST_KEYS as readonly string[]).includes(k));

function text(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  return typeof v === 'string' || typeof v === 'boolean' ? String(v).trim() : undefined;
}

function nestedOrBadName(raw: Raw, name: string): boolean {
  const nested = Object.values(raw).some((x) => typeof x === 'object' && x !== null && !Array.isArray(x));
  return nested || !SCOPE_NAME.test(name);
}

// Read here, kept with the choices in src/boot/rules.ts (an enrolment's install_disk is read there too).
export { parseInstallDisk } from '../boot/rules.ts';

const GLOB_CONDITIONS = {
  vendor: 'vendor',
  product: 'product',
  serial: 'serial',
  disk_model: 'diskModel',
  lldp_switch: 'lldpSwitch',
  lldp_port: 'lldpPort',
} as const;
const NUMBER_CONDITIONS = { cpu_threads: 'cpuThreads', memory_gb: 'memoryGb', disk_count: 'diskCount', nic_speed_gbps: 'nicSpeedGbps' } as const;

/** Every [rule <name>] section, in file order. */
export function readRules(doc: Raw, p: Profile, v: RuleProblemSink): void {
  for (const [section, value] of Object.entries(doc)) {
    if (!section.startsWith(RULE_PREFIX) || typeof value !== 'object' || value === null) continue;
    const name = section.slice(RULE_PREFIX.length).trim();
    const raw = value as Raw;
    if (nestedOrBadName(raw, name)) {
      v.problem(section, '', '', `${JSON.stringify(name)} is not a rule name: use letters, digits, - and _ (such as big-iron)`);
      continue;
    }
    if (p.rules.some((r) => r.name === name)) {
      v.problem(section, '', '', `a second section for rule ${name}`);
      continue;
    }
    for (const key of Object.keys(raw)) {
      // net_address and net_gateway get their own refusal below, saying where they go.
      if (!Object.hasOwn(RULE_KEYS, key) && key !== NETWORK_KEYS.netAddress && key !== NETWORK_KEYS.netGateway)
        v.problem(section, key, raw[key], `unknown key; [rule …] takes ${Object.keys(RULE_KEYS).join(', ')}`);
    }
    const when: RuleConditions = {};
    for (const [key, field] of Object.entries(GLOB_CONDITIONS)) {
      const written = text(raw, key);
      if (written === undefined) continue;
      const glob = parseGlob(written);
      if (glob.ok) (when as Record<string, Glob>)[field] = glob.glob;
      else v.problem(section, key, written, glob.problem);
    }
    for (const [key, field] of Object.entries(NUMBER_CONDITIONS)) {
      const written = text(raw, key);
      if (written === undefined) continue;
      const comparison = parseComparison(written);
      if (comparison.ok) (when as Record<string, Comparison>)[field] = comparison.comparison;
      else v.problem(section, key, written, comparison.problem);
    }
    const conditionKeys = [...Object.keys(GLOB_CONDITIONS), ...Object.keys(NUMBER_CONDITIONS)];
    if (!conditionKeys.some((k) => raw[k] !== undefined))
      v.problem(section, '', '', `a rule needs at least one condition (${conditionKeys.join(', ')}); to give every machine settings use [boot]`);
    const rule: RuleSpec = { name, file: v.file, when };
    const values: { action?: RuleSpec['action']; profile?: string } = {};
    v.readKeys(raw, section, { action: RULE_KEYS.action, profile: RULE_KEYS.profile }, values);
    if (raw.action !== undefined && values.action) rule.action = values.action;
    if (values.profile) rule.profile = values.profile;
    if ((rule.action === 'install' || rule.action === 'deploy') && !rule.profile && raw.profile === undefined)
      v.problem(section, 'profile', '', 'action = install needs a profile, such as debian/12');
    const hostname = text(raw, 'hostname');
    if (hostname) {
      if (/\{\{(?![\s]*[A-Za-z0-9_.-]+[\s]*\}\})/.test(hostname) || /\}\}/.test(hostname.replace(/\{\{\s*[A-Za-z0-9_.-]+\s*\}\}/g, '')))
        v.problem(section, 'hostname', hostname, 'malformed placeholder: write {{system.serial}}');
      else rule.hostname = hostname;
    }
    const disk = text(raw, 'install_disk');
    if (disk) {
      const parsed = parseInstallDisk(disk);
      if (parsed.ok) rule.installDisk = parsed.choice;
      else v.problem(section, 'install_disk', disk, parsed.problem);
    }
    const menu = text(raw, 'menu');
    if (menu) rule.menu = menu;
    const network = readRuleNetwork(raw, section, v);
    if (network) rule.network = network;
    p.rules.push(rule);
  }
}

/** A rule's net_* keys, set ones only; undefined when none is set or one is wrong (reported, naming the key). */
function readRuleNetwork(raw: Raw, section: string, v: RuleProblemSink): NetworkKeys | undefined {
  const written: NetworkKeys = {};
  for (const [field, key] of Object.entries(NETWORK_KEYS) as [NetworkField, string][]) {
    const value = text(raw, key);
    if (value !== undefined) written[field] = value;
  }
  const keys = setNetworkKeys(written);
  if (Object.keys(keys).length === 0) return undefined;
  const wrong = ruleNetworkProblem(keys);
  if (wrong) {
    v.problem(section, wrong.key, keys[wrong.field] ?? '', wrong.reason);
    return undefined;
  }
  const read = readNetworkKeys(keys);
  if (!read.ok) {
    v.problem(section, read.key, keys[read.field] ?? '', read.reason);
    return undefined;
  }
  return keys;
}

/** Every [menu <name>] section. */
export function readMenus(doc: Raw, p: Profile, v: RuleProblemSink): void {
  for (const [section, value] of Object.entries(doc)) {
    if (!section.startsWith(MENU_PREFIX) || typeof value !== 'object' || value === null) continue;
    const name = section.slice(MENU_PREFIX.length).trim();
    const raw = value as Raw;
    if (nestedOrBadName(raw, name)) {
      v.problem(section, '', '', `${JSON.stringify(name)} is not a menu name: use letters, digits, - and _ (such as gpu-nodes)`);
      continue;
    }
    for (const key of Object.keys(raw)) {
      if (!Object.hasOwn(MENU_KEYS, key)) v.problem(section, key, raw[key], `unknown key; [menu …] takes ${Object.keys(MENU_KEYS).join(', ')}`);
    }
    const menu: MenuSpec = { name, entries: [], default: '' };
    const entries = text(raw, 'entries') ?? '';
    for (const entry of entries.split(/[\s,]+/).filter(Boolean)) {
      const glob = parseGlob(entry);
      if (glob.ok) menu.entries.push(glob.glob);
      else v.problem(section, 'entries', entry, glob.problem);
    }
    if (menu.entries.length === 0 && entries === '')
      v.problem(section, 'entries', '', 'a menu needs entries = <product>/<version>, … (globs allowed, such as debian/*)');
    const def = text(raw, 'default') ?? '';
    if (def && def !== 'local' && def !== 'shell' && !PROFILE_NAME.test(def))
      v.problem(section, 'default', def, 'expected local, shell or <product>/<version>');
    menu.default = def;
    if (def) menu.defaultFrom = v.originOf(section, 'default');
    p.menus.set(name, menu);
  }
  for (const rule of p.rules) {
    if (rule.menu && !p.menus.has(rule.menu))
      v.problem(`${RULE_PREFIX}${rule.name}`, 'menu', rule.menu, `no [menu ${rule.menu}] section; menus: ${[...p.menus.keys()].join(', ') || 'none'}`);
  }
}

/** [host serial:X] and [host uuid:U] sections: the keys of what boots, never DHCP-time ones. */
export function readIdentityHosts(doc: Raw, p: Profile, v: RuleProblemSink): void {
  for (const [section, value] of Object.entries(doc)) {
    const m = IDENTITY_SECTION.exec(section);
    if (!m || typeof value !== 'object' || value === null) continue;
    const kind = m[1]!.toLowerCase() as 'serial' | 'uuid';
    const written = m[2]!.trim();
    const raw = value as Raw;
    if (Object.values(raw).some((x) => typeof x === 'object' && x !== null && !Array.isArray(x))) {
      v.problem(section, '', '', 'a dot splits INI section names: this serial or UUID cannot be written as a section');
      continue;
    }
    let key: string;
    if (kind === 'uuid') {
      const uuid = uuidNormalForm(written);
      if (!uuid) {
        v.problem(
          section,
          '',
          '',
          `${JSON.stringify(written)} is not a UUID (write it as dmidecode or the kernel prints it: 12345678-9abc-def0-1122-334455667788)`,
        );
        continue;
      }
      if (isPlaceholderUuid(uuid)) {
        v.problem(section, '', '', `${uuid} is a placeholder UUID many boards report: it would select nothing`);
        continue;
      }
      key = `uuid:${uuid}`;
    } else {
      if (isPlaceholderSerial(written)) {
        v.problem(section, '', '', `${JSON.stringify(written)} is a placeholder serial many boards report: it would select nothing`);
        continue;
      }
      key = `serial:${written.toLowerCase()}`;
    }
    if (p.identityHosts.has(key)) {
      v.problem(section, '', '', `a second section for ${key}`);
      continue;
    }
    const macOnly = Object.keys(raw).filter((k) => MAC_ONLY_KEYS.includes(k));
    if (macOnly.length > 0)
      v.problem(
        section,
        macOnly.join(', '),
        macOnly.map((k) => text(raw, k) ?? '').join(', '),
        `DHCP-time and power keys stay keyed by MAC (a serial or UUID is only known once iPXE or the agent reports it): move ${macOnly.join(', ')} to a [host <mac>] section`,
      );
    for (const k of Object.keys(raw)) {
      if (!Object.hasOwn(HOST_KEYS, k) && !HOST_VARIABLE.test(k))
        v.problem(section, k, raw[k], `unknown key; [host ${kind}:…] takes ${IDENTITY_HOST_KEYS.join(', ')}`);
    }
    const defaults = defaultsOf(HOST_KEYS);
    const entry: IdentityHost = {
      section: `host ${kind}:${kind === 'uuid' ? key.slice(5) : written}`,
      action: p.boot.defaultAction,
      profile: '',
      hostname: '',
      cmdline: '',
      inspectFirst: defaults.inspectFirst,
    };
    const keys = Object.fromEntries(IDENTITY_HOST_KEYS.map((k) => [k, HOST_KEYS[k]]));
    v.readKeys(raw, section, keys, entry);
    if ((entry.action === 'install' || entry.action === 'deploy') && !entry.profile && raw.profile === undefined)
      v.problem(section, 'profile', '', 'action = install needs a profile, such as proxmox-ve/9.1-1');
    const network = readNetworkKeys(entry);
    if (!network.ok) v.problem(section, network.key, entry[network.field] ?? '', network.reason);
    p.identityHosts.set(key, entry);
  }
}
