// Reads the INI profile and validates every key before anything binds. Each problem is
// reported once, naming file, section, key and value; the caller exits 2.
import { readFileSync, existsSync, realpathSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname, resolve, sep } from 'node:path';
import ini from 'ini';
import ipaddr from 'ipaddr.js';
import { normaliseMac } from '../boot/client.ts';
import { defaultProfile } from './defaults.ts';
import type { HostEntry, Profile } from './profile.ts';

export interface ConfigProblem {
  file: string;
  section: string;
  key: string;
  value: string;
  message: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.key ? `[${p.section}] ${p.key} = ${JSON.stringify(p.value)}` : `[${p.section}]`;
  return `${p.file}: ${where}: ${p.message}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface InterfaceAddress {
  name: string;
  address: string;
  netmask: string;
  internal: boolean;
}

/** The host's IPv4 addresses, in the order the OS lists them (injectable for tests). */
export function hostIPv4(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4') out.push({ name, address: a.address, netmask: a.netmask, internal: a.internal });
  }
  return out;
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
}

type Raw = Record<string, unknown>;

const KEYS: Record<string, string[]> = {
  server: ['address', 'interface', 'state_dir', 'log_level'],
  http: ['port', 'bind', 'admin_token', 'metrics_allow'],
  tftp: ['enabled', 'port', 'bind', 'root', 'max_blksize', 'max_windowsize', 'max_transfers', 'max_transfers_per_client', 'idle_timeout', 'retransmit_timeout', 'retries'],
  dhcp: ['mode', 'port', 'proxy_port', 'range_start', 'range_end', 'netmask', 'router', 'dns', 'domain', 'lease_time', 'offer_hold', 'decline_quarantine'],
  boot: ['bios', 'uefi_x64', 'uefi_ia32', 'uefi_arm64', 'default_action', 'unknown', 'menu_default', 'menu_timeout'],
  answers: ['dir', 'token', 'allow'],
  assets: ['dir', 'url'],
};
const HOST_KEYS = ['hostname', 'ip', 'action', 'profile', 'cmdline'];
/** Free-form per-host variables for answer templates: any key starting with x_. */
const HOST_VAR = /^x_[a-z0-9_]+$/;

class Validator {
  readonly problems: ConfigProblem[] = [];
  constructor(readonly file: string) {}

  problem(section: string, key: string, value: unknown, message: string): void {
    this.problems.push({ file: this.file, section, key, value: value === undefined ? '' : String(value), message });
  }

  str(raw: Raw, section: string, key: string, fallback: string): string {
    const v = raw[key];
    if (v === undefined) return fallback;
    if (typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') {
      this.problem(section, key, v, 'expected a single value');
      return fallback;
    }
    return v.trim();
  }

  int(raw: Raw, section: string, key: string, fallback: number, min: number, max: number): number {
    const v = this.str(raw, section, key, '');
    if (v === '') return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.problem(section, key, v, `expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return Number(v);
  }

  bool(raw: Raw, section: string, key: string, fallback: boolean): boolean {
    const v = this.str(raw, section, key, '').toLowerCase();
    if (v === '') return fallback;
    if (['true', 'yes', 'on', '1'].includes(v)) return true;
    if (['false', 'no', 'off', '0'].includes(v)) return false;
    this.problem(section, key, v, 'expected true or false');
    return fallback;
  }

  oneOf<T extends string>(raw: Raw, section: string, key: string, fallback: T, allowed: readonly T[]): T {
    const v = this.str(raw, section, key, '');
    if (v === '') return fallback;
    if (!(allowed as readonly string[]).includes(v)) {
      this.problem(section, key, v, `expected one of ${allowed.join(', ')}`);
      return fallback;
    }
    return v as T;
  }

  ipv4(raw: Raw, section: string, key: string, fallback = ''): string {
    const v = this.str(raw, section, key, fallback);
    if (v === '') return '';
    if (!ipaddr.IPv4.isValidFourPartDecimal(v)) {
      this.problem(section, key, v, 'expected an IPv4 address such as 10.0.0.1');
      return '';
    }
    return v;
  }

  ipv4List(raw: Raw, section: string, key: string): string[] {
    const v = this.str(raw, section, key, '');
    if (v === '') return [];
    const parts = v.split(/[\s,]+/).filter(Boolean);
    const bad = parts.filter((p) => !ipaddr.IPv4.isValidFourPartDecimal(p));
    if (bad.length) this.problem(section, key, v, `not IPv4 addresses: ${bad.join(', ')}`);
    return parts.filter((p) => !bad.includes(p));
  }

  path(raw: Raw, section: string, key: string, fallback: string): string {
    const v = this.str(raw, section, key, fallback);
    return v === '' ? '' : resolve(dirname(resolve(this.file)), v);
  }
}

function toLong(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((acc, b) => acc * 256 + b, 0);
}

function sameSubnet(a: string, b: string, netmask: string): boolean {
  const m = toLong(netmask);
  return (toLong(a) & m) >>> 0 === (toLong(b) & m) >>> 0;
}

const BOOT_FILE = /^[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*\/[A-Za-z0-9][A-Za-z0-9._+-]*$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function defaultInterfaceExists(name: string): boolean {
  return /^[A-Za-z0-9_.:@-]{1,15}$/.test(name) && existsSync(`/sys/class/net/${name}`);
}

/** Parses and validates INI text; throws ConfigError listing every problem. */
export function parseProfile(text: string, file: string, options: LoadOptions = {}): Profile {
  const v = new Validator(file);
  let doc: Raw;
  try {
    doc = ini.parse(text) as Raw;
  } catch (err) {
    throw new ConfigError([{ file, section: '', key: '', value: '', message: `not an INI file: ${(err as Error).message}` }]);
  }
  const p = defaultProfile(file);
  const sections: Record<string, Raw> = {};

  for (const [name, value] of Object.entries(doc)) {
    if (typeof value !== 'object' || value === null) {
      v.problem('(top)', name, value, 'keys must be inside a section such as [server]');
      continue;
    }
    if (name.startsWith('host ')) continue;
    if (!(name in KEYS)) {
      v.problem(name, '', '', `unknown section; known sections: ${Object.keys(KEYS).map((s) => `[${s}]`).join(' ')} and [host <mac>]`);
      continue;
    }
    sections[name] = value as Raw;
    for (const [key, val] of Object.entries(value as Raw)) {
      if (!KEYS[name]!.includes(key)) v.problem(name, key, typeof val === 'object' ? '' : val, `unknown key; [${name}] takes ${KEYS[name]!.join(', ')}`);
    }
  }
  const sec = (name: string): Raw => sections[name] ?? {};

  const s = sec('server');
  p.server.address = v.ipv4(s, 'server', 'address');
  p.server.addressSource = p.server.address ? 'profile' : 'interface';
  p.server.interface = v.str(s, 'server', 'interface', '');
  p.server.stateDir = v.path(s, 'server', 'state_dir', p.server.stateDir);
  p.server.logLevel = v.oneOf(s, 'server', 'log_level', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const);

  const h = sec('http');
  p.http.port = v.int(h, 'http', 'port', 80, 0, 65535);
  p.http.bind = v.ipv4(h, 'http', 'bind', '0.0.0.0') || '0.0.0.0';
  p.http.adminToken = v.str(h, 'http', 'admin_token', '');
  if (p.http.adminToken && p.http.adminToken.length < 16) v.problem('http', 'admin_token', '(hidden)', 'too short: use at least 16 characters (e.g. openssl rand -hex 24)');
  for (const cidr of v.str(h, 'http', 'metrics_allow', '').split(/[\s,]+/).filter(Boolean)) {
    try {
      ipaddr.parseCIDR(cidr);
      p.http.metricsAllow.push(cidr);
    } catch {
      v.problem('http', 'metrics_allow', cidr, 'expected a CIDR block such as 10.0.0.0/24 (who may scrape /metrics without the admin token)');
    }
  }

  const t = sec('tftp');
  p.tftp.enabled = v.bool(t, 'tftp', 'enabled', true);
  p.tftp.port = v.int(t, 'tftp', 'port', 69, 0, 65535);
  p.tftp.bind = v.ipv4(t, 'tftp', 'bind', '0.0.0.0') || '0.0.0.0';
  p.tftp.root = v.path(t, 'tftp', 'root', p.tftp.root);
  p.tftp.maxBlksize = v.int(t, 'tftp', 'max_blksize', p.tftp.maxBlksize, 512, 65464);
  p.tftp.maxWindowsize = v.int(t, 'tftp', 'max_windowsize', p.tftp.maxWindowsize, 1, 65535);
  p.tftp.maxTransfers = v.int(t, 'tftp', 'max_transfers', p.tftp.maxTransfers, 1, 100_000);
  p.tftp.maxTransfersPerClient = v.int(t, 'tftp', 'max_transfers_per_client', p.tftp.maxTransfersPerClient, 1, 10_000);
  p.tftp.idleTimeout = v.int(t, 'tftp', 'idle_timeout', p.tftp.idleTimeout, 1, 3600);
  p.tftp.retransmitTimeout = v.int(t, 'tftp', 'retransmit_timeout', p.tftp.retransmitTimeout, 1, 255);
  p.tftp.retries = v.int(t, 'tftp', 'retries', p.tftp.retries, 1, 100);

  const d = sec('dhcp');
  p.dhcp.mode = v.oneOf(d, 'dhcp', 'mode', 'off', ['off', 'proxy', 'server'] as const);
  p.dhcp.port = v.int(d, 'dhcp', 'port', 67, 1, 65535);
  p.dhcp.proxyPort = v.int(d, 'dhcp', 'proxy_port', 4011, 1, 65535);
  p.dhcp.rangeStart = v.ipv4(d, 'dhcp', 'range_start');
  p.dhcp.rangeEnd = v.ipv4(d, 'dhcp', 'range_end');
  p.dhcp.netmask = v.ipv4(d, 'dhcp', 'netmask');
  p.dhcp.router = v.ipv4(d, 'dhcp', 'router');
  p.dhcp.dns = v.ipv4List(d, 'dhcp', 'dns');
  p.dhcp.domain = v.str(d, 'dhcp', 'domain', '');
  if (p.dhcp.domain && !HOSTNAME.test(p.dhcp.domain)) v.problem('dhcp', 'domain', p.dhcp.domain, 'expected a DNS domain such as lab.example');
  p.dhcp.leaseTime = v.int(d, 'dhcp', 'lease_time', p.dhcp.leaseTime, 60, 365 * 86400);
  p.dhcp.offerHold = v.int(d, 'dhcp', 'offer_hold', p.dhcp.offerHold, 1, 3600);
  p.dhcp.declineQuarantine = v.int(d, 'dhcp', 'decline_quarantine', p.dhcp.declineQuarantine, 1, 86400);
  if (p.dhcp.netmask && !ipaddr.IPv4.parse(p.dhcp.netmask).prefixLengthFromSubnetMask()) {
    v.problem('dhcp', 'netmask', p.dhcp.netmask, 'not a contiguous netmask such as 255.255.255.0');
    p.dhcp.netmask = '';
  }

  const b = sec('boot');
  for (const [key, field] of [['bios', 'bios'], ['uefi_x64', 'uefiX64'], ['uefi_ia32', 'uefiIa32'], ['uefi_arm64', 'uefiArm64']] as const) {
    const file = v.str(b, 'boot', key, p.boot[field]);
    if (file !== '' && (!BOOT_FILE.test(file) || file.split('/').includes('..'))) v.problem('boot', key, file, 'expected a file name relative to [tftp] root, such as ipxe.efi');
    else p.boot[field] = file;
  }
  p.boot.defaultAction = v.oneOf(b, 'boot', 'default_action', 'menu', ['menu', 'local'] as const);
  p.boot.unknown = v.oneOf(b, 'boot', 'unknown', 'menu', ['menu', 'local', 'ignore'] as const);
  p.boot.menuDefault = v.str(b, 'boot', 'menu_default', 'local');
  if (!['local', 'shell'].includes(p.boot.menuDefault) && !PROFILE_NAME.test(p.boot.menuDefault)) {
    v.problem('boot', 'menu_default', p.boot.menuDefault, 'expected local, shell, or <product>/<version> such as proxmox-ve/9.1-1');
  }
  p.boot.menuTimeout = v.int(b, 'boot', 'menu_timeout', p.boot.menuTimeout, 0, 3600);

  const a = sec('answers');
  p.answers.dir = v.path(a, 'answers', 'dir', p.answers.dir);
  p.answers.token = v.str(a, 'answers', 'token', '');
  const allow = v.str(a, 'answers', 'allow', '');
  for (const cidr of allow.split(/[\s,]+/).filter(Boolean)) {
    try {
      ipaddr.parseCIDR(cidr);
      p.answers.allow.push(cidr);
    } catch {
      v.problem('answers', 'allow', cidr, 'expected a CIDR block such as 10.0.0.0/24');
    }
  }

  const as = sec('assets');
  p.assets.dir = v.path(as, 'assets', 'dir', p.assets.dir);
  p.assets.url = v.str(as, 'assets', 'url', '');
  if (p.assets.url && !/^https?:\/\/[^\s/$.?#][^\s]*$/i.test(p.assets.url)) v.problem('assets', 'url', p.assets.url, 'expected an http:// or https:// URL');

  // [host <mac>] sections
  for (const [name, value] of Object.entries(doc)) {
    if (!name.startsWith('host ') || typeof value !== 'object' || value === null) continue;
    const macText = name.slice(5).trim();
    const section = name;
    const nested = Object.values(value as Raw).some((x) => typeof x === 'object' && x !== null);
    const mac = nested ? null : normaliseMac(macText);
    if (!mac) {
      v.problem(section, '', '', nested ? 'write the MAC with colons or hyphens (aa:bb:cc:dd:ee:ff): dots split INI section names' : `${JSON.stringify(macText)} is not a MAC address`);
      continue;
    }
    if (p.hosts.has(mac)) {
      v.problem(section, '', '', `a second section for ${mac}`);
      continue;
    }
    const raw = value as Raw;
    for (const key of Object.keys(raw)) {
      if (!HOST_KEYS.includes(key) && !HOST_VAR.test(key)) v.problem(section, key, raw[key], `unknown key; [host …] takes ${HOST_KEYS.join(', ')}, and x_<name> variables for answer templates`);
    }
    const entry: HostEntry = {
      mac,
      hostname: v.str(raw, section, 'hostname', ''),
      ip: v.ipv4(raw, section, 'ip'),
      action: v.oneOf(raw, section, 'action', p.boot.defaultAction, ['install', 'local', 'menu'] as const),
      profile: v.str(raw, section, 'profile', ''),
      cmdline: v.str(raw, section, 'cmdline', ''),
      vars: {},
    };
    if (entry.hostname && !HOSTNAME.test(entry.hostname)) v.problem(section, 'hostname', entry.hostname, 'expected a host name such as pve1 or pve1.lab.example');
    if (entry.profile && !PROFILE_NAME.test(entry.profile)) v.problem(section, 'profile', entry.profile, 'expected <product>/<version>, a folder under [assets] dir, such as proxmox-ve/9.1-1');
    if (entry.action === 'install' && !entry.profile) v.problem(section, 'profile', '', 'action = install needs a profile, such as proxmox-ve/9.1-1');
    for (const [k, val] of Object.entries(raw)) if (typeof val === 'string' || typeof val === 'boolean') entry.vars[k] = String(val);
    p.hosts.set(mac, entry);
  }

  resolveAddress(p, v, options);
  checkDhcp(p, v, options);
  if (v.problems.length) throw new ConfigError(v.problems);
  return p;
}

function resolveAddress(p: Profile, v: Validator, options: LoadOptions): void {
  if (options.offline) return;
  const addrs = (options.interfaces ?? hostIPv4()).filter((a) => !a.internal || a.name === p.server.interface);
  const exists = options.interfaceExists ?? defaultInterfaceExists;
  const candidates = (options.interfaces ?? hostIPv4()).filter((a) => !a.internal).map((a) => `${a.name} (${a.address})`).join(', ') || 'none';
  if (p.server.interface && !exists(p.server.interface) && !addrs.some((a) => a.name === p.server.interface)) {
    v.problem('server', 'interface', p.server.interface, `no such network interface on this host; candidates: ${candidates}`);
    return;
  }
  if (p.server.address) return;
  const pick = p.server.interface ? addrs.find((a) => a.name === p.server.interface) : addrs.find((a) => !a.internal);
  if (!pick) {
    v.problem('server', 'address', '', p.server.interface ? `interface ${p.server.interface} has no IPv4 address; set address or give the interface one` : `this host has no non-loopback IPv4 address to use; set address (candidates: ${candidates})`);
    return;
  }
  p.server.address = pick.address;
}

function checkDhcp(p: Profile, v: Validator, options: LoadOptions): void {
  if (p.dhcp.mode === 'off') return;
  if (!p.server.interface) {
    const candidates = (options.interfaces ?? hostIPv4()).filter((a) => !a.internal).map((a) => `${a.name} (${a.address})`).join(', ') || 'none';
    v.problem('server', 'interface', '', `[dhcp] mode = ${p.dhcp.mode} answers on one interface only and none is named: set interface to the boot VLAN's (candidates: ${candidates})`);
  }
  if (p.dhcp.mode !== 'server') return;
  for (const key of ['range_start', 'range_end', 'netmask'] as const) {
    const field = key === 'range_start' ? 'rangeStart' : key === 'range_end' ? 'rangeEnd' : 'netmask';
    if (!p.dhcp[field]) v.problem('dhcp', key, '', `[dhcp] mode = server needs ${key}`);
  }
  const { rangeStart, rangeEnd, netmask } = p.dhcp;
  if (!rangeStart || !rangeEnd || !netmask || !p.server.address) return;
  if (toLong(rangeStart) > toLong(rangeEnd)) v.problem('dhcp', 'range_end', rangeEnd, `comes before range_start ${rangeStart}`);
  for (const [key, ip] of [['range_start', rangeStart], ['range_end', rangeEnd]] as const) {
    if (!sameSubnet(ip, p.server.address, netmask)) v.problem('dhcp', key, ip, `outside the subnet of [server] address ${p.server.address}/${netmask}`);
  }
  if (p.dhcp.router && !sameSubnet(p.dhcp.router, p.server.address, netmask)) v.problem('dhcp', 'router', p.dhcp.router, `outside the subnet ${p.server.address}/${netmask}`);
  for (const host of p.hosts.values()) {
    if (host.ip && !sameSubnet(host.ip, p.server.address, netmask)) v.problem(`host ${host.mac}`, 'ip', host.ip, `outside the subnet ${p.server.address}/${netmask}`);
  }
  const ips = new Map<string, string>();
  for (const host of p.hosts.values()) {
    if (!host.ip) continue;
    const other = ips.get(host.ip);
    if (other) v.problem(`host ${host.mac}`, 'ip', host.ip, `already reserved for ${other}`);
    ips.set(host.ip, host.mac);
  }
}

/** Reads and validates a profile file; throws ConfigError (also for an unreadable file). */
export function loadProfile(file: string, options: LoadOptions = {}): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([{ file, section: '', key: '', value: '', message: `cannot read the profile: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  return parseProfile(text, file, options);
}

/** Why TFTP would refuse a boot file, or null when it would serve it. */
function bootFileProblem(root: string, file: string): string | null {
  const path = resolve(root, file);
  if (!existsSync(path)) return `not found in [tftp] root ${root}`;
  // Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi; TFTP serves only what is under root.
  const realRoot = realpathSync(root);
  const real = realpathSync(path);
  if (!real.startsWith(realRoot + sep)) return `${path} is a link to ${real}, outside [tftp] root, which TFTP refuses; copy the file into root or use snponly.efi`;
  return null;
}

/** Things that are allowed but will not work until the user acts: warnings, not errors. */
export function profileWarnings(p: Profile): string[] {
  const w: string[] = [];
  if (p.tftp.enabled && !existsSync(p.tftp.root)) w.push(`[tftp] root ${p.tftp.root} does not exist: install Debian's ipxe package (apt install ipxe) or point root at a folder with undionly.kpxe and snponly.efi`);
  else if (p.tftp.enabled) {
    for (const [key, file] of [['bios', p.boot.bios], ['uefi_x64', p.boot.uefiX64]] as const) {
      const problem = file ? bootFileProblem(p.tftp.root, file) : null;
      if (problem) w.push(`[boot] ${key} = ${file}: ${problem}: machines asking for it will fail to boot`);
    }
  }
  if (!existsSync(p.assets.dir)) w.push(`[assets] dir ${p.assets.dir} does not exist: create it and put <product>/<version>/vmlinuz and initrd in it (see docs/install.md); the menu offers local disk only until then`);
  if (!existsSync(p.answers.dir)) w.push(`[answers] dir ${p.answers.dir} does not exist: create it and put hosts/<mac>.toml or default.toml in it (see docs/answer-files.md)`);
  if (!p.http.adminToken) w.push('[http] admin_token is not set: the admin API answers on loopback only');
  return w;
}

/** The effective profile as INI-like text, for check-config (secrets hidden). */
export function describeProfile(p: Profile): string {
  const hide = (s: string): string => (s ? '(set)' : '');
  const lines: string[] = [
    `# effective profile from ${p.file}`,
    '[server]',
    `address = ${p.server.address}   ; ${p.server.addressSource === 'profile' ? 'from the profile' : 'from the interface'}`,
    `interface = ${p.server.interface}`,
    `state_dir = ${p.server.stateDir}`,
    `log_level = ${p.server.logLevel}`,
    '[http]',
    `port = ${p.http.port}`,
    `bind = ${p.http.bind}`,
    `admin_token = ${hide(p.http.adminToken)}`,
    `metrics_allow = ${p.http.metricsAllow.join(', ')}`,
    '[tftp]',
    `enabled = ${p.tftp.enabled}`,
    `port = ${p.tftp.port}`,
    `bind = ${p.tftp.bind}`,
    `root = ${p.tftp.root}`,
    `max_blksize = ${p.tftp.maxBlksize}`,
    `max_windowsize = ${p.tftp.maxWindowsize}`,
    `max_transfers = ${p.tftp.maxTransfers}`,
    `max_transfers_per_client = ${p.tftp.maxTransfersPerClient}`,
    `idle_timeout = ${p.tftp.idleTimeout}`,
    `retransmit_timeout = ${p.tftp.retransmitTimeout}`,
    `retries = ${p.tftp.retries}`,
    '[dhcp]',
    `mode = ${p.dhcp.mode}`,
    `port = ${p.dhcp.port}`,
    `proxy_port = ${p.dhcp.proxyPort}`,
    `range_start = ${p.dhcp.rangeStart}`,
    `range_end = ${p.dhcp.rangeEnd}`,
    `netmask = ${p.dhcp.netmask}`,
    `router = ${p.dhcp.router}`,
    `dns = ${p.dhcp.dns.join(', ')}`,
    `domain = ${p.dhcp.domain}`,
    `lease_time = ${p.dhcp.leaseTime}`,
    `offer_hold = ${p.dhcp.offerHold}`,
    `decline_quarantine = ${p.dhcp.declineQuarantine}`,
    '[boot]',
    `bios = ${p.boot.bios}`,
    `uefi_x64 = ${p.boot.uefiX64}`,
    `uefi_ia32 = ${p.boot.uefiIa32}`,
    `uefi_arm64 = ${p.boot.uefiArm64}`,
    `default_action = ${p.boot.defaultAction}`,
    `unknown = ${p.boot.unknown}`,
    `menu_default = ${p.boot.menuDefault}`,
    `menu_timeout = ${p.boot.menuTimeout}`,
    '[answers]',
    `dir = ${p.answers.dir}`,
    `token = ${hide(p.answers.token)}`,
    `allow = ${p.answers.allow.join(', ')}`,
    '[assets]',
    `dir = ${p.assets.dir}`,
    `url = ${p.assets.url}`,
  ];
  for (const h of p.hosts.values()) {
    lines.push(`[host ${h.mac}]`);
    for (const [k, val] of Object.entries(h.vars)) lines.push(`${k} = ${val}`);
    if (!('action' in h.vars)) lines.push(`action = ${h.action}   ; from [boot] default_action`);
  }
  return lines.join('\n') + '\n';
}
