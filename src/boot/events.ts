// The event every protocol records for each decision, and the sink it records into.

export type EventProtocol = 'dhcp' | 'proxydhcp' | 'tftp' | 'http' | 'answer' | 'webhook' | 'admin' | 'daemon' | 'agent';

/**
 * A reason a program can read, beside the sentence for a person. Only reasons something acts on
 * get one (explain's hints); the sentence stays the full story.
 */
export type ReasonCode =
  /** A DHCP or ProxyDHCP datagram arrived on another interface than [server] interface and was ignored. */
  | 'wrong-interface'
  /** A relayed DHCP request (giaddr set) for a subnet no [scope] (nor the local pool) covers: no answer. */
  | 'no-scope'
  /** GRUB (loader = grub) fetched its per-machine configuration: the signed chain reached GRUB and asked us. */
  | 'grub-config';

/** DHCP server events: a request's facts, or a datagram dropped before decoding. */
export interface DhcpDetail {
  xid?: string;
  /** The source address of a datagram dropped before decoding. */
  from?: string;
  /** The client's address (leased or ciaddr). */
  ip?: string | null;
  arch?: number | null;
  bootFile?: string | null;
  bytes?: number;
  /** The relay agent (giaddr) that forwarded the request, and the pool that served it. */
  relay?: string;
  scope?: string;
  /** Another DHCP server heard on the interface (the other-server probe). */
  servers?: { address: string; mac: string | null; source: string }[];
}

/** ProxyDHCP events. */
export interface ProxyDhcpDetail {
  xid?: string;
  /** The port the request arrived on (67 or 4011). */
  port?: number;
  /** The request's source address: the machine itself unless `relay` is set. */
  from?: string;
  relay?: string;
  vendorClass?: string;
  arch?: number;
  ip?: string;
  uuid?: string;
  ipxe?: boolean;
  bootFile?: string;
  to?: string;
  bytes?: number;
  /** A PXE client that got no router offer: how many DISCOVERs over how many seconds. */
  discovers?: number;
  seconds?: number;
}

/** TFTP events: TFTP names no MAC, so `client` (an address) is how a transfer is tied to a machine. */
export interface TftpDetail {
  client?: string;
  port?: number;
  file?: string;
  bytes?: number;
  size?: number;
  ms?: number;
  blksize?: number;
  windowsize?: number;
  retransmits?: number;
  mode?: string;
  code?: number;
  /** The install image a GRUB configuration named. */
  profile?: string;
}

/** HTTP events (/boot, /install, and the HTTP errors recorded for installer endpoints): `ip` is the machine's. */
export interface HttpDetail {
  ip?: string;
  profile?: string;
  buildarch?: string;
  platform?: string;
  status?: number;
}

/** Answer files served to installers. */
export interface AnswerDetail {
  ip?: string;
  file?: string;
  rule?: string;
  product?: string | null;
  iso?: string | null;
  schema?: string | null;
  state?: string;
  status?: number;
}

export interface WebhookDetail {
  ip?: string;
  fqdn?: string | null;
  bootMode?: string | null;
  status?: number;
}

/** Admin API changes: `ip` is the admin's, not the machine's. */
export interface AdminDetail {
  ip?: string;
}

/** What the inspection agent reported (POST /inventory/<mac>, GET /agent/<mac>/next): `ip` is the machine's. */
export interface AgentDetail {
  ip?: string;
  /** The agent session (one boot of the agent). */
  session?: string;
  status?: number;
  /** What a later inventory changed, one entry per change. */
  changes?: string[];
  /** The refused document's first wrong field. */
  field?: string;
  /** A deploy: the disk image, the target, and progress as the agent reported it. */
  profile?: string;
  device?: string;
  phase?: string;
  bytes?: number;
  total?: number;
  mbps?: number;
  /** A deploy's digests: the manifest's and what the agent computed of what it received. */
  expected?: string;
  received?: string;
}

export interface EventDetails {
  dhcp: DhcpDetail;
  proxydhcp: ProxyDhcpDetail;
  tftp: TftpDetail;
  http: HttpDetail;
  answer: AnswerDetail;
  webhook: WebhookDetail;
  admin: AdminDetail;
  daemon: Record<string, never>;
  agent: AgentDetail;
}

interface EventBase {
  /** Milliseconds since the epoch. */
  time: number;
  /** Normalised MAC, or null when the packet or request named none. */
  mac: string | null;
  /** What happened, short: "DISCOVER", "RRQ ipxe.efi", "GET /boot". */
  kind: string;
  /** What we did: "offer", "ack", "nak", "silence", "install", "local", "menu", "served", "error"… */
  decision: string;
  /** Why, in words for a person. */
  reason: string;
  /** Why, for a program, where something reads it. */
  code?: ReasonCode;
}

/** One event; `detail` (extra facts, kept as JSON) has the shape of its protocol. */
export type BootEvent = { [P in EventProtocol]: EventBase & { protocol: P; detail?: EventDetails[P] } }[EventProtocol];

/** An event as recorded: the sink stamps the time unless given. */
export type NewEvent = BootEvent extends infer E ? (E extends BootEvent ? Omit<E, 'time'> & { time?: number } : never) : never;

export interface EventSink {
  record(event: NewEvent): void;
}

/** The detail of an event of `protocol`, typed; undefined for an event of another protocol. */
export function detailOf<P extends EventProtocol>(event: BootEvent, protocol: P): EventDetails[P] | undefined {
  return event.protocol === protocol ? (event.detail as EventDetails[P] | undefined) : undefined;
}
