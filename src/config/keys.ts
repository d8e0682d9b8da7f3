// Every profile key, once: its section, INI name, kind of value, default and one line of doc.
// Parsing (load.ts), the defaults (defaults.ts), check-config output and the Profile type
// (profile.ts) all come from this table, and test/config/keys.test.ts holds the shipped
// etc/pxe-pilot.ini against it. A new key is a row here plus its documented line in the INI.
import {
  bootFile,
  cidrList,
  flag,
  HOSTNAME,
  httpUrl,
  ipv4,
  listenList,
  ipv4List,
  ipv4Network,
  matching,
  menuEntry,
  netmask,
  oneOf,
  path,
  plainHttpFrom,
  pathPatterns,
  postgresUrl,
  PROFILE_NAME,
  secret,
  text,
  wholeNumber,
  type ValueType,
} from './values.ts';
import { LOADER_NAMES } from '../boot/loaders.ts';
import { formatInstallDisk, parseInstallDisk, type InstallDiskChoice } from '../boot/rules.ts';
import { AFTER_INSPECT } from '../boot/policy.ts';
import { bmcUrl, tlsFingerprint } from '../power/config-values.ts';
import { IPMI_PRIVILEGES, REDFISH_SYSTEM } from '../power/bmc-url.ts';

export interface KeySpec<T> {
  readonly type: ValueType<T>;
  readonly default: T;
  /** One line; the shipped INI carries it verbatim in the comment above the key. */
  readonly doc: string;
}

function key<T>(type: ValueType<T>, defaultValue: NoInfer<T>, doc: string): KeySpec<T> {
  return { type, default: defaultValue, doc };
}

const port = wholeNumber(0, 65535);

/** install_disk: smallest-ssd | largest | serial:X | model:GLOB; empty: none (the deploy takes the smallest disk that fits). */
const installDisk: ValueType<InstallDiskChoice | null> = {
  parse(v, ctx) {
    if (v === '') return undefined;
    const parsed = parseInstallDisk(v);
    return parsed.ok ? parsed.choice : ctx.report(parsed.problem);
  },
  format: (v) => (v ? formatInstallDisk(v) : ''),
};
const dhcpPort = wholeNumber(1, 65535);

export const PROFILE_KEYS = {
  server: {
    address: key(ipv4, '', 'IPv4 address machines use to reach this host (scripts, next-server, URLs).'),
    interface: key(text, '', "The boot VLAN's interface: DHCP is answered on this interface only, never on the others."),
    state_dir: key(path, '/var/lib/pxe-pilot', 'SQLite state: nodes, leases, events.'),
    log_level: key(oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info', 'trace | debug | info | warn | error | fatal | silent'),
    user: key(
      matching(/^[a-z_][a-z0-9_-]{0,31}\$?$/i, 'expected a user name such as pxe-pilot'),
      '',
      'Account to run as after binding, when started as root outside systemd; empty: stay who it was started as.',
    ),
    include: key(pathPatterns, [], 'Drop-in files whose [host], [rule], [image] and [scope] sections join the profile, e.g. conf.d/*.ini; comma-separated.'),
  },
  http: {
    port: key(port, 80, 'TCP port for boot scripts, kernels and initrds, answers and the admin API.'),
    bind: key(ipv4, '0.0.0.0', 'IPv4 address HTTP listens on; 0.0.0.0: all.'),
    admin_token: key(secret(16), '', 'Bearer token for the admin API (at least 16 characters; openssl rand -hex 24).'),
    metrics_allow: key(cidrList, [], 'CIDR blocks whose Prometheus may scrape /metrics without the admin token (loopback always may), comma-separated.'),
    also_listen: key(
      listenList,
      [],
      'More plain-HTTP listeners serving the same routes, [address]:port, comma-separated (:8080: on bind); for ISOs that have http://host:8080/answer baked in.',
    ),
    legacy_api: key(
      oneOf(['', 'aayusharyan', 'wisherops']),
      '',
      "Also serves an earlier pxe-pilot's API in its own shapes (docs/migrating.md): aayusharyan | wisherops; empty: off.",
    ),
  },
  https: {
    enabled: key(flag, true, 'Serves everything over HTTPS too, so installers can fetch answers they can verify. true | false'),
    port: key(port, 443, 'TCP port of HTTPS.'),
    cert: key(path, '', 'PEM certificate; empty: a self-signed one made once in <state_dir>/tls (pxe-pilot cert prints its fingerprint).'),
    key: key(path, '', 'PEM private key of cert; set both or neither.'),
  },
  tftp: {
    enabled: key(flag, true, 'Serves the iPXE binaries legacy PXE firmware loads first. true | false'),
    port: key(port, 69, 'UDP port of TFTP.'),
    bind: key(ipv4, '0.0.0.0', 'IPv4 address TFTP listens on; 0.0.0.0: all.'),
    root: key(path, '/usr/lib/ipxe', "Folder of iPXE binaries: Debian's ipxe package installs them in /usr/lib/ipxe."),
    max_blksize: key(wholeNumber(512, 65464), 1468, 'Largest block size granted (RFC 2348); 1468 fills an Ethernet frame.'),
    max_windowsize: key(wholeNumber(1, 65535), 64, 'Largest window granted (RFC 7440).'),
    max_transfers: key(wholeNumber(1, 100_000), 500, 'Concurrent transfers in all; past them: "server busy".'),
    max_transfers_per_client: key(wholeNumber(1, 10_000), 8, 'Concurrent transfers per client address; past them: "server busy".'),
    idle_timeout: key(wholeNumber(1, 3600), 30, 'Seconds without progress before a transfer is dropped.'),
    retransmit_timeout: key(wholeNumber(1, 255), 1, 'Seconds between retransmissions (a client may negotiate another).'),
    retries: key(wholeNumber(1, 100), 5, 'Retransmissions before giving up.'),
  },
  dhcp: {
    mode: key(oneOf(['off', 'proxy', 'server']), 'off', 'off | proxy | server'),
    port: key(dhcpPort, 67, 'UDP port DHCP requests arrive on.'),
    proxy_port: key(dhcpPort, 4011, 'UDP port of ProxyDHCP (PXE boot server discovery).'),
    range_start: key(ipv4, '', 'First address of the pool, in server mode.'),
    range_end: key(ipv4, '', 'Last address of the pool, in server mode.'),
    netmask: key(netmask, '', 'Subnet mask of the boot VLAN, in server mode.'),
    router: key(ipv4, '', 'Default gateway for clients; empty: none.'),
    dns: key(ipv4List, [], 'DNS servers for clients, comma-separated.'),
    domain: key(matching(HOSTNAME, 'expected a DNS domain such as lab.example'), '', 'DNS domain for clients.'),
    lease_time: key(wholeNumber(60, 365 * 86400), 3600, 'Seconds a lease lasts.'),
    offer_hold: key(wholeNumber(1, 3600), 30, 'Seconds an offered address is held for its client.'),
    decline_quarantine: key(wholeNumber(1, 86400), 600, 'Seconds an address declined by a client (in use) stays out of the pool.'),
    allow_other_servers: key(flag, false, 'Server mode starts even when another DHCP server answers on the interface. true | false'),
  },
  boot: {
    bios: key(bootFile, 'undionly.kpxe', 'Architecture 0 (BIOS).'),
    uefi_x64: key(bootFile, 'snponly.efi', 'Architectures 7 and 9 (x64 UEFI); 16 (x64 UEFI HTTP boot) gets the same file over HTTP.'),
    uefi_ia32: key(bootFile, 'ipxe-i386.efi', 'Architecture 6 (IA32 UEFI).'),
    uefi_arm64: key(bootFile, 'ipxe-arm64.efi', 'Architecture 11 (ARM64 UEFI).'),
    loader: key(
      oneOf(LOADER_NAMES),
      'ipxe',
      "What UEFI PXE machines load: ipxe (the files above) | grub (Debian's signed shim and GRUB: Secure Boot) | ipxe-shim (iPXE's signed shim, copied into [tftp] root)",
    ),
    grub_dir: key(
      path,
      '/usr/lib/debian-installer/images/12',
      "Debian's netboot installer images (debian-installer-12-netboot-amd64, -arm64): the signed shim and GRUB of loader = grub.",
    ),
    default_action: key(oneOf(['menu', 'local']), 'menu', 'What a [host] without an action gets: menu | local'),
    unknown: key(
      oneOf(['menu', 'local', 'ignore', 'inspect']),
      'menu',
      'What a machine without a [host] section gets: menu (then default_action applies) | local | ignore (no answer at all) | inspect (the inspection agent, once)',
    ),
    after_inspect: key(
      oneOf(AFTER_INSPECT),
      'poweroff',
      'What an inspected machine does once it reported: poweroff | local (reboots, then boots from its disk) | wait (the agent polls until an enrolment, rule or arm gives it something)',
    ),
    menu_default: key(menuEntry, 'local', 'Menu entry taken when the timeout runs out: local | shell | <product>/<version>'),
    menu_timeout: key(wholeNumber(0, 3600), 10, 'Seconds the menu waits before taking menu_default.'),
    default_install: key(
      matching(PROFILE_NAME, 'expected <product>/<version>, an image folder or [image] section, such as ubuntu/24.04'),
      '',
      'Image a reinstall that names no profile installs (admin API, [host] without profile); empty: such a reinstall gets the menu.',
    ),
  },
  answers: {
    dir: key(path, '/var/lib/pxe-pilot/answers', 'Folder of answer files; see docs/answer-files.md.'),
    token: key(secret(), '', 'Token that fetching answers and reporting installs need.'),
    allow: key(cidrList, [], 'CIDR blocks allowed to fetch answers, comma-separated; empty: anyone.'),
    require_tls: key(flag, true, 'Refuse answers, the webhook, NoCloud and preseed over plain HTTP (403: use HTTPS). Not written: as [https] enabled.'),
    plain_http_from: key(
      plainHttpFrom,
      [],
      'Allowed over plain HTTP although require_tls is on: CIDR blocks and installers (proxmox, nocloud, preseed), comma-separated; each alone allows.',
    ),
  },
  assets: {
    dir: key(path, '/var/lib/pxe-pilot/assets', 'Folder of install images: <product>/<version>/vmlinuz and initrd.'),
    url: key(httpUrl, '', 'Optional external base URL serving the same tree; empty: served by us under /assets/.'),
  },
  store: {
    backend: key(oneOf(['sqlite', 'postgresql']), 'sqlite', 'sqlite (one file under [server] state_dir) | postgresql (shared by a fleet; see docs/fleet.md)'),
    url: key(postgresUrl, '', 'PostgreSQL connection, without the password: postgres://user@host:5432/db (postgresql only).'),
    password_file: key(path, '', 'File holding the PostgreSQL password; empty: PGPASSWORD from the environment, or none (peer or cert auth).'),
    tls: key(
      oneOf(['off', 'require', 'verify-full']),
      'off',
      'TLS to PostgreSQL: off | require (encrypted) | verify-full (encrypted, server certificate checked against tls_ca)',
    ),
    tls_ca: key(path, '', 'CA certificate (PEM) the server certificate must chain to; empty: the system CAs.'),
    tls_cert: key(path, '', 'Client certificate (PEM) for certificate authentication; empty: none.'),
    tls_key: key(path, '', 'Private key (PEM) of tls_cert.'),
    pool_size: key(wholeNumber(2, 200), 10, 'Connections to PostgreSQL: the hot paths (install consumptions, batched writes) share them.'),
    appliance: key(
      matching(HOSTNAME, 'expected a name such as boot-a or boot-a.lab.example'),
      '',
      'Name of this appliance in the shared event log; empty: the host name.',
    ),
    start_degraded: key(flag, false, 'Start even when PostgreSQL is unreachable (boots from what is known, reconnects by itself); false: refuse to start.'),
  },
  power: {
    credentials_dir: key(path, '/etc/pxe-pilot/bmc', 'Folder of BMC credentials: one file per BMC (host, or host:port), or default; mode 600 (docs/power.md).'),
    max_parallel: key(wholeNumber(1, 256), 8, 'BMC calls in flight at once, over all machines; also the machines a reinstall --now of many powers at once.'),
    poll_seconds: key(wholeNumber(0, 86400), 60, 'Seconds between power-state polls of each [host] with a bmc; 0: never polled.'),
    timeout_seconds: key(wholeNumber(1, 300), 10, 'Seconds one BMC call may take before the BMC is reported unreachable.'),
    start_pause_seconds: key(wholeNumber(0, 600), 5, 'Seconds between two machines powered by one reinstall --now of many, so a rack does not start at once.'),
    create_bmc_user: key(
      flag,
      false,
      'Let the inspection agent create a pxe-pilot BMC user with a random password when an enrolment asks for it (--create-bmc-user); the daemon writes its credentials file.',
    ),
  },
  agent: {
    session_minutes: key(
      wholeNumber(5, 10080),
      120,
      "Minutes an inspection agent's session (the token on its kernel line) lasts after its last use; read at start (docs/inventory.md).",
    ),
  },
};

/** The keys of a [host <mac>] section; the INI documents them in its commented example. */
export const HOST_KEYS = {
  hostname: key(matching(HOSTNAME, 'expected a host name such as pve1 or pve1.lab.example'), '', 'host name, for answer templates'),
  ip: key(ipv4, '', 'reservation, in server mode'),
  // The loader replaces this default with [boot] default_action.
  action: key(
    oneOf(['install', 'deploy', 'local', 'menu', 'inspect', 'wipe']),
    'menu',
    'install (once) | deploy (a disk image, once) | local | menu | inspect (the agent, once) | wipe (the agent clears every disk, once); empty: [boot] default_action',
  ),
  profile: key(matching(PROFILE_NAME, 'expected <product>/<version>, a folder under [assets] dir, such as proxmox-ve/9.1-1'), '', 'folder under [assets] dir'),
  cmdline: key(text, '', 'extra kernel arguments'),
  inspect_first: key(flag, false, 'an armed install first boots the inspection agent when the inventory is older than the arm'),
  // A deployed disk image's network-config (src/deploy/network-keys.ts checks them); all empty: DHCP on the boot NIC.
  net_address: key(text, '', 'deploy: static address with its prefix, e.g. 10.0.1.21/24; empty: DHCP'),
  net_gateway: key(text, '', 'deploy: default gateway'),
  net_dns: key(text, '', 'deploy: name servers, comma-separated'),
  net_bond: key(text, '', 'deploy: NICs (names or MACs) bonded with LACP as bond0, comma-separated'),
  net_vlan: key(text, '', 'deploy: VLAN id the address goes on'),
  net_mtu: key(text, '', 'deploy: MTU of the links'),
  install_disk: key(installDisk, null, 'smallest-ssd | largest | serial:X | model:GLOB ({{install_disk}} in answers; the disk a deploy writes)'),
  // Empty: [boot] loader decides (src/boot/policy.ts loaderFor).
  loader: key(oneOf(['', ...LOADER_NAMES]), '', 'ipxe | grub | ipxe-shim; empty: [boot] loader'),
  bmc: key(bmcUrl, '', 'power control: ipmi://HOST[:PORT] | redfish://HOST[:PORT] | redfish+http://HOST[:PORT] | wol'),
  bmc_cipher_suite: key(wholeNumber(0, 17), 3, 'IPMI cipher suite (ipmitool -C)'),
  bmc_privilege: key(oneOf(IPMI_PRIVILEGES), 'OPERATOR', 'IPMI privilege level: USER | OPERATOR | ADMINISTRATOR'),
  bmc_system: key(matching(REDFISH_SYSTEM, 'expected a Redfish system path such as /redfish/v1/Systems/1'), '', 'Redfish system; empty: the only one listed'),
  bmc_tls_fingerprint: key(tlsFingerprint, '', "SHA-256 of the Redfish BMC's certificate, pinned"),
};

/**
 * The keys of a [scope <name>] section: the pool of one subnet behind a DHCP relay, in server
 * mode. A relayed request is served from the scope whose subnet holds its giaddr; the INI
 * documents them in its commented example.
 */
export const SCOPE_KEYS = {
  subnet: key(ipv4Network, '', "the relay's LAN (the giaddr's network), required"),
  range_start: key(ipv4, '', 'first address of the pool, required'),
  range_end: key(ipv4, '', 'last address of the pool, required'),
  router: key(ipv4, '', "default gateway there (usually the relay's address); empty: none"),
  dns: key(ipv4List, [], 'DNS servers, comma-separated; empty: [dhcp] dns'),
  domain: key(matching(HOSTNAME, 'expected a DNS domain such as lab.example'), '', 'DNS domain; empty: [dhcp] domain'),
};

/**
 * The keys of a [rule <name>] section: conditions on the inventory (every one written must hold),
 * then what the rule gives the machines it matches. Read by src/config/rules.ts.
 */
export const RULE_KEYS = {
  vendor: key(text, '', 'system vendor glob (* any text, ? one character; case-insensitive)'),
  product: key(text, '', 'system product glob'),
  serial: key(text, '', 'system serial glob'),
  cpu_threads: key(text, '', 'comparison: >= 16, < 4, = 2, != 8'),
  memory_gb: key(text, '', 'comparison over the installed memory in GiB'),
  disk_count: key(text, '', 'comparison over the non-removable disks'),
  disk_model: key(text, '', 'glob: some non-removable disk has a model matching it'),
  nic_speed_gbps: key(text, '', 'comparison: some NIC links at this speed'),
  lldp_switch: key(text, '', "glob over the LLDP neighbour's system name (or chassis id)"),
  lldp_port: key(text, '', "glob over the LLDP neighbour's port id or description"),
  action: key(
    oneOf(['install', 'deploy', 'local', 'menu', 'inspect', 'wipe']),
    'menu',
    'install (armed once, never-installed machines) | deploy (a disk image, armed once) | local | menu | inspect | wipe (never-armed machines, once)',
  ),
  profile: key(matching(PROFILE_NAME, 'expected <product>/<version>, a folder under [assets] dir, such as proxmox-ve/9.1-1'), '', 'folder under [assets] dir'),
  hostname: key(text, '', 'template over the inventory, e.g. {{system.product_short}}-{{system.serial}}'),
  install_disk: key(text, '', 'smallest-ssd | largest | serial:X | model:GLOB ({{install_disk}} in answers)'),
  menu: key(text, '', 'a [menu NAME] these machines see instead of the default menu'),
  // The deployed system's network-config for every machine matched (src/deploy/network-keys.ts checks them);
  // net_address and net_gateway are one machine's, so they are refused here (docs/decisions.md).
  net_dns: key(text, '', 'deploy: name servers, comma-separated'),
  net_bond: key(text, '', 'deploy: NICs by inventory name bonded with LACP as bond0, comma-separated'),
  net_vlan: key(text, '', 'deploy: VLAN id the links go on (DHCP there)'),
  net_mtu: key(text, '', 'deploy: MTU of the links'),
};

/** The keys of a [menu <name>] section. */
export const MENU_KEYS = {
  entries: key(text, '', 'images these machines see: <product>/<version> or globs (debian/*), comma-separated'),
  default: key(text, '', 'entry taken after [boot] menu_timeout: local | shell | <product>/<version>; empty: [boot] menu_default'),
};

/** The keys a [host serial:X] / [host uuid:U] section may have: what boots, never DHCP-time choices (those stay keyed by MAC). */
// A deploy's keys too: a deploy follows the agent's inventory, so the serial or UUID is known by then.
export const IDENTITY_HOST_KEYS = [
  'hostname',
  'action',
  'profile',
  'cmdline',
  'inspect_first',
  'install_disk',
  'net_address',
  'net_gateway',
  'net_dns',
  'net_bond',
  'net_vlan',
  'net_mtu',
] as const;

/** A scope's name: letters, digits, - and _ (a dot would split the INI section name). */
export const SCOPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** Free-form per-host variables for answer templates: any key starting with x_. */
export const HOST_VARIABLE = /^x_[a-z0-9_]+$/;

export type ProfileKeys = typeof PROFILE_KEYS;
export type SectionName = keyof ProfileKeys;
type AnyKeys = Record<string, KeySpec<unknown>>;

/** state_dir → stateDir: the Profile field a key fills. */
type FieldName<K extends string> = K extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<FieldName<Tail>>}` : K;
export function fieldName(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The typed values of a table of keys, by field name. */
export type ValuesOf<Keys> = { -readonly [K in keyof Keys & string as FieldName<K>]: Keys[K] extends KeySpec<infer T> ? T : never };

/** A fresh object of the table's defaults (lists copied, so callers may change them). */
export function defaultsOf<Keys extends AnyKeys>(keys: Keys): ValuesOf<Keys> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(keys)) out[fieldName(name)] = Array.isArray(spec.default) ? [...(spec.default as unknown[])] : spec.default;
  return out as ValuesOf<Keys>;
}

/** [section, key name, spec] for every section key, in table order. */
export function sectionKeys(section: SectionName): [string, KeySpec<unknown>][] {
  return Object.entries(PROFILE_KEYS[section] as AnyKeys);
}
