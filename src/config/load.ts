// Reads the INI profile and validates every key before anything binds. Each problem is
// reported once, naming file, section, key and value; the caller exits 2. What each key takes
// is in keys.ts; this file walks the INI against that table and checks keys against each other.
import { NETWORK_KEYS, readNetworkKeys, type NetworkField } from '../deploy/network-keys.ts';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { normaliseMac } from '../net/mac.ts';
import { defaultProfile } from './defaults.ts';
import { describeCandidates, hostIPv4, interfaceExists, type InterfaceAddress } from './interfaces.ts';
import { defaultsOf, fieldName, HOST_KEYS, HOST_VARIABLE, PROFILE_KEYS, sectionKeys, type KeySpec, type SectionName } from './keys.ts';
import type { HostEntry, Profile } from './profile.ts';
import { checkScopes, describeScopes, readScopes, reservationScope, SCOPE_PREFIX } from './scopes.ts';
import { powerProblems } from '../power/config-check.ts';
import { describeImages, IMAGE_PREFIX, readImages } from './images.ts';
import { checkAlsoListen } from './plain-http.ts';
import { isIdentityHostSection, MENU_PREFIX, readIdentityHosts, readMenus, readRules, RULE_PREFIX } from './rules.ts';
import { formatComparison } from '../boot/match.ts';
import { formatInstallDisk } from '../boot/rules.ts';
import { gatherSources, type ProfileSources } from './sources.ts';

export { profileWarnings } from './warnings.ts';
export type { InterfaceAddress } from './interfaces.ts';

export interface ConfigProblem {
  /** The file, or the command-line flag (`--set …`) that wrote the value. */
  file: string;
  section: string;
  key: string;
  value: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  // A flag is its own "where": `--set http.port=abc: expected …`.
  if (p.file.startsWith('--set ')) return `${p.file}: ${p.message}`;
  const where = p.key ? `[${p.section}] ${p.key} = ${JSON.stringify(p.value)}` : `[${p.section}]`;
  return `${p.file}: ${where}: ${p.message}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  interfaces?: InterfaceAddress[];
  /** Whether an interface exists even without an IPv4 (default: /sys/class/net). */
  interfaceExists?: (name: string) => boolean;
  /**
   * Read the profile for its files and state only (explain): the host's interfaces are not
   * consulted, so it works from another network namespace or before the VLAN is up.
   */
  offline?: boolean;
  /** `--set SECTION.KEY=VALUE` texts (without the flag), applied over the files in order. */
  overrides?: readonly string[];
}

type Raw = Record<string, unknown>;
const SECTIONS = Object.keys(PROFILE_KEYS) as SectionName[];

/** A written value as text for a message: ini gives strings, booleans, lists (key[] = …) or nested sections. */
function shownValue(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Array.isArray(value) ? value.join(',') : '';
}

class Validator {
  readonly problems: ConfigProblem[] = [];
  readonly baseDir: string;
  constructor(
    readonly file: string,
    private readonly sources: ProfileSources,
  ) {
    this.baseDir = dirname(resolve(file));
  }

  /** Records a problem against the file or flag that wrote the section and key. */
  problem(section: string, key: string, value: unknown, message: string): void {
    this.problems.push({ file: this.sources.originOf(section, key), section, key, value: shownValue(value), message });
  }

  /** The file or flag that wrote the section's key. */
  originOf(section: string, key: string): string {
    return this.sources.originOf(section, key);
  }

  /** Where the first section of a host was written. */
  originOfHost(mac: string): string {
    return this.sources.originOf(`host ${mac}`, '');
  }

  /** The key's value as written, parsed; undefined when it is absent or wrong (the default stands). */
  read<T>(raw: Raw, section: string, name: string, spec: KeySpec<T>): T | undefined {
    const written = raw[name];
    if (written === undefined) return undefined;
    if (typeof written !== 'string' && typeof written !== 'boolean') {
      this.problem(section, name, written, 'expected a single value');
      return undefined;
    }
    const text = String(written).trim();
    const report = (message: string, shown?: string): undefined => {
      this.problem(section, name, shown ?? text, message);
      return undefined;
    };
    return spec.type.parse(text, { baseDir: this.baseDir, report });
  }

  /** Sets each field of `target` whose key is written in `raw`, by the key table `keys`. */
  readKeys(raw: Raw, section: string, keys: Record<string, KeySpec<unknown>>, target: object): void {
    for (const [name, spec] of Object.entries(keys)) {
      const value = this.read(raw, section, name, spec);
      if (value !== undefined) (target as Record<string, unknown>)[fieldName(name)] = value;
    }
  }
}

function toLong(ip: string): number {
  return ipaddr.IPv4.parse(ip)
    .toByteArray()
    .reduce((acc, b) => acc * 256 + b, 0);
}

function sameSubnet(a: string, b: string, netmask: string): boolean {
  const m = toLong(netmask);
  return (toLong(a) & m) >>> 0 === (toLong(b) & m) >>> 0;
}

function checkStore(p: Profile, v: Validator): void {
  if (p.store.backend === 'postgresql' && !p.store.url) v.problem('store', 'url', '', 'backend = postgresql needs url = postgres://user@host/db');
  if (p.store.tls === 'off' && (p.store.tlsCa || p.store.tlsCert))
    v.problem('store', 'tls', 'off', 'tls_ca / tls_cert are set but tls = off: set tls = require or verify-full');
  if (Boolean(p.store.tlsCert) !== Boolean(p.store.tlsKey))
    v.problem('store', p.store.tlsCert ? 'tls_key' : 'tls_cert', '', 'tls_cert and tls_key go together');
}

/** Parses and validates INI text; throws ConfigError listing every problem. */
export function parseProfile(text: string, file: string, options: LoadOptions = {}): Profile {
  let sources: ProfileSources;
  try {
    sources = gatherSources(text, file, options.overrides);
  } catch (err) {
    throw new ConfigError([{ file, section: '', key: '', value: '', message: `not an INI file: ${(err as Error).message}` }]);
  }
  const v = new Validator(file, sources);
  v.problems.push(...sources.problems);
  const doc = sources.doc;
  const p = defaultProfile(file);
  if (sources.dropIns.length > 0) p.dropIns = sources.dropIns;
  const sections = knownSections(doc, v);
  for (const section of SECTIONS) v.readKeys(sections[section] ?? {}, section, PROFILE_KEYS[section], p[section]);
  p.server.addressSource = p.server.address ? 'profile' : 'interface';
  readHosts(doc, p, v);
  readIdentityHosts(doc, p, v);
  readRules(doc, p, v);
  readMenus(doc, p, v);
  readScopes(doc, p, v);
  readImages(text, p, v);
  // [image] sections of drop-ins, each problem named with its drop-in file.
  for (const dropIn of sources.dropInTexts) {
    readImages(dropIn.text, p, {
      problem: (section, key, value, message) => v.problems.push({ file: dropIn.file, section, key, value: shownValue(value), message }),
    });
  }
  resolveAddress(p, v, options);
  checkDhcp(p, v, options);
  checkScopes(p, v);
  checkTls(p, v, sections.answers ?? {});
  checkAlsoListen(p, v);
  checkStore(p, v);
  for (const problem of powerProblems(p, options.offline === true)) v.problem(problem.section, problem.key, problem.value, problem.message);
  if (v.problems.length) throw new ConfigError(v.problems);
  return p;
}

/** The [section]s of the table, by name; unknown sections and keys, and keys outside any section, are problems. */
function knownSections(doc: Raw, v: Validator): Partial<Record<SectionName, Raw>> {
  const sections: Partial<Record<SectionName, Raw>> = {};
  for (const [name, value] of Object.entries(doc)) {
    if (typeof value !== 'object' || value === null) {
      v.problem('(top)', name, value, 'keys must be inside a section such as [server]');
      continue;
    }
    if (
      name.startsWith('host ') ||
      name.startsWith(SCOPE_PREFIX) ||
      name.startsWith(IMAGE_PREFIX) ||
      name.startsWith(RULE_PREFIX) ||
      name.startsWith(MENU_PREFIX)
    )
      continue;
    if (!Object.hasOwn(PROFILE_KEYS, name)) {
      v.problem(
        name,
        '',
        '',
        `unknown section; known sections: ${SECTIONS.map((s) => `[${s}]`).join(' ')} [host <mac>] [host serial:<serial>] [host uuid:<uuid>] [rule <name>] [menu <name>] [scope <name>] and [image <product>/<version>]`,
      );
      continue;
    }
    const section = name as SectionName;
    const names = Object.keys(PROFILE_KEYS[section]);
    sections[section] = value as Raw;
    for (const [key, val] of Object.entries(value as Raw)) {
      if (!names.includes(key)) v.problem(name, key, typeof val === 'object' ? '' : val, `unknown key; [${name}] takes ${names.join(', ')}`);
    }
  }
  return sections;
}

/** [host <mac>] sections, by the HOST_KEYS table, plus x_ variables. */
function readHosts(doc: Raw, p: Profile, v: Validator): void {
  for (const [section, value] of Object.entries(doc)) {
    if (!section.startsWith('host ') || isIdentityHostSection(section) || typeof value !== 'object' || value === null) continue;
    const macText = section.slice(5).trim();
    const raw = value as Raw;
    const nested = Object.values(raw).some((x) => typeof x === 'object' && x !== null);
    const mac = nested ? null : normaliseMac(macText);
    if (!mac) {
      v.problem(
        section,
        '',
        '',
        nested ? 'write the MAC with colons or hyphens (aa:bb:cc:dd:ee:ff): dots split INI section names' : `${JSON.stringify(macText)} is not a MAC address`,
      );
      continue;
    }
    if (p.hosts.has(mac)) {
      v.problem(section, '', '', `a second section for ${mac}, also in ${v.originOfHost(mac)}`);
      continue;
    }
    for (const key of Object.keys(raw)) {
      if (!Object.hasOwn(HOST_KEYS, key) && !HOST_VARIABLE.test(key)) {
        v.problem(section, key, raw[key], `unknown key; [host …] takes ${Object.keys(HOST_KEYS).join(', ')}, and x_<name> variables for answer templates`);
      }
    }
    // A host without an action follows [boot] default_action.
    const entry: HostEntry = { mac, ...defaultsOf(HOST_KEYS), action: p.boot.defaultAction, vars: {} };
    v.readKeys(raw, section, HOST_KEYS, entry);
    // A wrongly written profile has its own problem already.
    if ((entry.action === 'install' || entry.action === 'deploy') && !entry.profile && !raw.profile)
      v.problem(section, 'profile', '', 'action = install needs a profile, such as proxmox-ve/9.1-1');
    const network = readNetworkKeys(entry);
    if (!network.ok) v.problem(section, network.key, entry[network.field] ?? '', network.reason);
    for (const [k, val] of Object.entries(raw)) if (typeof val === 'string' || typeof val === 'boolean') entry.vars[k] = String(val);
    p.hosts.set(mac, entry);
  }
}

function resolveAddress(p: Profile, v: Validator, options: LoadOptions): void {
  if (options.offline) return;
  const all = options.interfaces ?? hostIPv4();
  const addrs = all.filter((a) => !a.internal || a.name === p.server.interface);
  const exists = options.interfaceExists ?? interfaceExists;
  const candidates = describeCandidates(all);
  if (p.server.interface && !exists(p.server.interface) && !addrs.some((a) => a.name === p.server.interface)) {
    v.problem('server', 'interface', p.server.interface, `no such network interface on this host; candidates: ${candidates}`);
    return;
  }
  if (p.server.address) return;
  const pick = p.server.interface ? addrs.find((a) => a.name === p.server.interface) : addrs.find((a) => !a.internal);
  if (!pick) {
    v.problem(
      'server',
      'address',
      '',
      p.server.interface
        ? `interface ${p.server.interface} has no IPv4 address; set address or give the interface one`
        : `this host has no non-loopback IPv4 address to use; set address (candidates: ${candidates})`,
    );
    return;
  }
  p.server.address = pick.address;
}

function checkDhcp(p: Profile, v: Validator, options: LoadOptions): void {
  if (p.dhcp.mode === 'off') return;
  if (!p.server.interface) {
    const candidates = describeCandidates(options.interfaces ?? hostIPv4());
    v.problem(
      'server',
      'interface',
      '',
      `[dhcp] mode = ${p.dhcp.mode} answers on one interface only and none is named: set interface to the boot VLAN's (candidates: ${candidates})`,
    );
  }
  if (p.dhcp.mode !== 'server') return;
  for (const key of ['range_start', 'range_end', 'netmask'] as const) {
    if (!p.dhcp[fieldName(key) as 'rangeStart' | 'rangeEnd' | 'netmask']) v.problem('dhcp', key, '', `[dhcp] mode = server needs ${key}`);
  }
  const { rangeStart, rangeEnd, netmask } = p.dhcp;
  if (!rangeStart || !rangeEnd || !netmask || !p.server.address) return;
  if (toLong(rangeStart) > toLong(rangeEnd)) v.problem('dhcp', 'range_end', rangeEnd, `comes before range_start ${rangeStart}`);
  for (const [key, ip] of [
    ['range_start', rangeStart],
    ['range_end', rangeEnd],
  ] as const) {
    if (!sameSubnet(ip, p.server.address, netmask)) v.problem('dhcp', key, ip, `outside the subnet of [server] address ${p.server.address}/${netmask}`);
  }
  if (p.dhcp.router && !sameSubnet(p.dhcp.router, p.server.address, netmask))
    v.problem('dhcp', 'router', p.dhcp.router, `outside the subnet ${p.server.address}/${netmask}`);
  for (const host of p.hosts.values()) {
    // A reservation may also sit in a relayed subnet's [scope].
    const where = host.ip ? reservationScope(p, host.ip) : null;
    if (where && !where.ok) v.problem(`host ${host.mac}`, 'ip', host.ip, where.reason);
  }
  const ips = new Map<string, string>();
  for (const host of p.hosts.values()) {
    if (!host.ip) continue;
    const other = ips.get(host.ip);
    if (other) v.problem(`host ${host.mac}`, 'ip', host.ip, `already reserved for ${other}`);
    ips.set(host.ip, host.mac);
  }
}

function checkTls(p: Profile, v: Validator, answers: Raw): void {
  const { https } = p;
  if (https.cert && !https.key) v.problem('https', 'key', '', 'cert is set, so key is needed too (the PEM private key of that certificate)');
  if (https.key && !https.cert) v.problem('https', 'cert', '', 'key is set, so cert is needed too (the PEM certificate of that key)');
  if (https.enabled && https.port !== 0 && https.port === p.http.port)
    v.problem('https', 'port', String(https.port), 'the same port as [http] port; pick another (443 is the usual)');
  // Answers carry root passwords and SSH keys: by default they need TLS whenever HTTPS runs.
  if (!('require_tls' in answers)) p.answers.requireTls = https.enabled;
  else if (p.answers.requireTls && !https.enabled)
    v.problem('answers', 'require_tls', 'true', 'needs [https] enabled = true: with HTTPS off, answers could not be fetched at all');
}

/** Reads and validates a profile file; throws ConfigError (also for an unreadable file). */
export function loadProfile(file: string, options: LoadOptions = {}): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      { file, section: '', key: '', value: '', message: `cannot read the profile: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
    ]);
  }
  return parseProfile(text, file, options);
}

/** The effective profile as INI-like text, for check-config (secrets hidden). */
export function describeProfile(p: Profile): string {
  const lines = [`# effective profile from ${p.file}`];
  if (p.dropIns?.length) lines.push(`# with the drop-ins ${p.dropIns.join(', ')}`);
  for (const section of SECTIONS) {
    lines.push(`[${section}]`);
    const values = p[section] as Record<string, unknown>;
    for (const [name, spec] of sectionKeys(section)) {
      const value = values[fieldName(name)];
      const shown = spec.type.secret ? (value ? '(set)' : '') : spec.type.format(value);
      const note = section === 'server' && name === 'address' ? `   ; ${p.server.addressSource === 'profile' ? 'from the profile' : 'from the interface'}` : '';
      lines.push(`${name} = ${shown}${note}`);
    }
  }
  lines.push(...describeScopes(p));
  lines.push(...describeRules(p));
  lines.push(...describeImages(p));
  for (const h of p.hosts.values()) {
    lines.push(`[host ${h.mac}]`);
    for (const [k, val] of Object.entries(h.vars)) lines.push(`${k} = ${val}`);
    if (!('action' in h.vars)) lines.push(`action = ${h.action}   ; from [boot] default_action`);
  }
  return lines.join('\n') + '\n';
}

/** [host serial/uuid], [rule] and [menu] sections as check-config prints them. */
function describeRules(p: Profile): string[] {
  const lines: string[] = [];
  for (const h of p.identityHosts.values()) {
    lines.push(`[${h.section}]`, `action = ${h.action}`);
    for (const [k, val] of [
      ['profile', h.profile],
      ['hostname', h.hostname],
      ['cmdline', h.cmdline],
    ] as const)
      if (val) lines.push(`${k} = ${val}`);
    if (h.inspectFirst) lines.push('inspect_first = true');
  }
  for (const r of p.rules) {
    lines.push(`; from ${r.file}`, `[rule ${r.name}]`);
    const w = r.when;
    for (const [k, g] of [
      ['vendor', w.vendor],
      ['product', w.product],
      ['serial', w.serial],
      ['disk_model', w.diskModel],
      ['lldp_switch', w.lldpSwitch],
      ['lldp_port', w.lldpPort],
    ] as const)
      if (g) lines.push(`${k} = ${g.source}`);
    for (const [k, c] of [
      ['cpu_threads', w.cpuThreads],
      ['memory_gb', w.memoryGb],
      ['disk_count', w.diskCount],
      ['nic_speed_gbps', w.nicSpeedGbps],
    ] as const)
      if (c) lines.push(`${k} = ${formatComparison(c)}`);
    if (r.action) lines.push(`action = ${r.action}`);
    if (r.profile) lines.push(`profile = ${r.profile}`);
    if (r.hostname) lines.push(`hostname = ${r.hostname}`);
    if (r.installDisk) lines.push(`install_disk = ${formatInstallDisk(r.installDisk)}`);
    if (r.menu) lines.push(`menu = ${r.menu}`);
    for (const [field, key] of Object.entries(NETWORK_KEYS) as [NetworkField, string][]) if (r.network?.[field]) lines.push(`${key} = ${r.network[field]}`);
  }
  for (const m of p.menus.values()) {
    lines.push(`[menu ${m.name}]`, `entries = ${m.entries.map((g) => g.source).join(', ')}`);
    if (m.default) lines.push(`default = ${m.default}`);
  }
  return lines;
}
