// The typed, validated profile. Everything downstream reads this, never the INI text.

export type DhcpMode = 'off' | 'proxy' | 'server';
export type HostAction = 'install' | 'local' | 'menu';
export type DefaultAction = 'menu' | 'local';
export type UnknownPolicy = 'menu' | 'local' | 'ignore';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface ServerSection {
  /** IPv4 address clients use to reach us (resolved from the interface when the INI leaves it empty). */
  address: string;
  /** Whether `address` was written in the profile or derived from an interface. */
  addressSource: 'profile' | 'interface';
  /** Interface the DHCP services answer on; '' = not set. */
  interface: string;
  stateDir: string;
  logLevel: LogLevel;
}

export interface HttpSection {
  port: number;
  bind: string;
  /** '' = no token: the admin API answers on loopback only. */
  adminToken: string;
  /** CIDR blocks that may read /metrics without the admin token (loopback always may). */
  metricsAllow: string[];
}

export interface TftpSection {
  enabled: boolean;
  port: number;
  bind: string;
  root: string;
  maxBlksize: number;
  maxWindowsize: number;
  maxTransfers: number;
  maxTransfersPerClient: number;
  /** Seconds without progress before a transfer is dropped. */
  idleTimeout: number;
  /** Seconds between retransmissions (the client may negotiate another via the timeout option). */
  retransmitTimeout: number;
  retries: number;
}

export interface DhcpSection {
  mode: DhcpMode;
  port: number;
  proxyPort: number;
  rangeStart: string;
  rangeEnd: string;
  netmask: string;
  router: string;
  dns: string[];
  domain: string;
  /** Seconds. */
  leaseTime: number;
  /** Seconds an offered address is held for its client before it may go to another. */
  offerHold: number;
  /** Seconds an address reported in use by DHCPDECLINE stays out of the pool. */
  declineQuarantine: number;
}

export interface BootSection {
  bios: string;
  uefiX64: string;
  uefiIa32: string;
  uefiArm64: string;
  defaultAction: DefaultAction;
  /** What machines without a [host] section get: the menu (default), local disk, or no answer at all. */
  unknown: UnknownPolicy;
  /** Menu item chosen when the timeout runs out: 'local', 'shell', or '<product>/<version>'. */
  menuDefault: string;
  /** Seconds. */
  menuTimeout: number;
}

export interface AnswersSection {
  dir: string;
  token: string;
  /** CIDR blocks allowed to fetch answers; empty = anyone. */
  allow: string[];
}

export interface AssetsSection {
  dir: string;
  /** External base URL for kernels and initrds; '' = serve them ourselves under /assets/. */
  url: string;
}

export interface HostEntry {
  /** Normalised lower-case colon form. */
  mac: string;
  hostname: string;
  ip: string;
  action: HostAction;
  profile: string;
  cmdline: string;
  /** Every key as written, for answer-file templating. */
  vars: Record<string, string>;
}

export interface Profile {
  /** Path of the INI file this profile came from (for messages). */
  file: string;
  server: ServerSection;
  http: HttpSection;
  tftp: TftpSection;
  dhcp: DhcpSection;
  boot: BootSection;
  answers: AnswersSection;
  assets: AssetsSection;
  /** Keyed by normalised MAC. */
  hosts: Map<string, HostEntry>;
}

/** Base URL of our HTTP service as clients see it, e.g. http://10.0.0.1:8080 */
export function httpBase(profile: Profile): string {
  const port = profile.http.port === 80 ? '' : `:${profile.http.port}`;
  return `http://${profile.server.address}${port}`;
}
