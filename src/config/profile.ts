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
  /** Account to switch to after binding when started as root outside systemd; '' = pxe-pilot if it exists. */
  user: string;
}

export interface HttpSection {
  port: number;
  bind: string;
  /** '' = no token: the admin API answers on loopback only. */
  adminToken: string;
}

export interface HttpsSection {
  /** Serve everything over HTTPS too (on by default: a certificate is generated when none is given). */
  enabled: boolean;
  port: number;
  /** Operator's PEM certificate and key; both '' = a self-signed pair in [server] state_dir/tls. */
  cert: string;
  key: string;
  /** SHA-256 of the certificate in use, colon form; '' until the daemon has loaded it. */
  fingerprint: string;
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
  /** Start the server even when another DHCP server answers on the interface. */
  allowOtherServers: boolean;
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
  /** Answers and the webhook refuse plain HTTP (they carry passwords and keys). */
  requireTls: boolean;
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
  https: HttpsSection;
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

/** Base URL of our HTTPS listener, e.g. https://10.0.0.1 */
export function httpsBase(profile: Profile): string {
  const port = profile.https.port === 443 ? '' : `:${profile.https.port}`;
  return `https://${profile.server.address}${port}`;
}

/** Where installers fetch secrets (answers, webhook): HTTPS when it is on, else HTTP. */
export function answerBase(profile: Profile): string {
  return profile.https.enabled ? httpsBase(profile) : httpBase(profile);
}
