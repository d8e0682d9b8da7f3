// The state the protocols read and write, as interfaces owned by the policy. Transports (src/http,
// src/dhcp/server.ts, src/proxydhcp, src/tftp) and src/explain.ts are handed these, never a
// database. src/store implements them on SQLite; a PostgreSQL store implements the same.
//
// Async: the writes that must survive a crash (NodeWrites.applyChange, setLocalBoot) resolve once
// they are on disk, and a reply that depends on one waits for it. May become async with a
// networked store: LeaseLog.commit and the directory reads (NodeDirectory, EventLog.events).
// Meant to stay sync, served from memory: NodeLookup.getNode, sawNode and EventSink.record (hot
// paths: a DHCP reply and /boot must not wait on a round trip; sightings and events only queue).
import type { NetworkKeys } from '../deploy/network-keys.ts';
import type { BootEvent, EventProtocol, EventSink } from './events.ts';
import type { DiskImage, InstallImage } from './catalogue.ts';
import type { NodeLifecycle, NodeState, StateChange } from './lifecycle.ts';
import type { Inventory } from '../agent/inventory.ts';

export interface NodeRecord extends NodeState {
  hostname: string | null;
  firstSeen: number;
  lastSeen: number;
  lastIp: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  fqdn: string | null;
  bootMode: string | null;
  installReport: unknown;
  /** What the inspection agent last reported; absent or null: never inspected. */
  inventory?: NodeInventory | null;
  /** An operator's (or a rule's) enrolment, kept in the store; absent or null: none. */
  enrolment?: Enrolment | null;
}

/** The inventory a node keeps (docs/inventory.md), with the agent session that delivered it. */
export interface NodeInventory {
  document: Inventory;
  /** ms since the epoch, stamped by the store. */
  reportedAt: number;
  /** The agent session (one boot of the agent) that posted it: a second post in it is a 409. */
  session: string;
}

/**
 * An enrolment: what a discovered machine gets, decided at run time, not in the INI. A [host]
 * section beats it; it beats a [rule]. Kept in the store, so every appliance of a fleet sees it.
 */
export interface Enrolment {
  hostname: string | null;
  /** An image (install) or disk image (deploy) name, as `profile` in a [host]. */
  profile: string | null;
  action: 'install' | 'local' | 'menu' | 'inspect' | 'deploy' | 'wipe';
  /** A BMC URL as `bmc` in a [host] (src/power/bmc-url.ts), or null. */
  bmc: string | null;
  /** ms since the epoch. */
  enrolledAt: number;
  /** 'admin' (CLI, API, dashboard) or 'rule NAME'. */
  enrolledBy: string;
  /** The operator asked the inspection agent to create a BMC user (docs/power.md); absent: no. */
  createBmcUser?: boolean;
  /** What came of it: when, and null or why it failed; absent: not yet (the agent is asked). */
  bmcUser?: { at: number; error: string | null };
  /** The deployed system's net_* keys as a [host] spells them (netAddress…), set ones only; absent: none. */
  network?: NetworkKeys;
  /** install_disk as written (smallest-ssd | largest | serial:X | model:GLOB); absent: none. */
  installDisk?: string;
}

/**
 * Per-boot agent sessions (docs/inventory.md): minted when the agent's boot script or GRUB
 * configuration is served, handed to the agent on its kernel command line, valid for that
 * machine and that boot only, and expiring. They authenticate everything the agent reports.
 */
export interface AgentSessions {
  /** A new session for `mac`; the token goes on the agent's kernel line. */
  mint(mac: string): { token: string; session: string; expiresAt: number };
  /** Whether `token` is a live session for `mac`; the reason when not (for the 403 body). */
  check(mac: string, token: string): { ok: true; session: string } | { ok: false; reason: string };
}

export interface InstallRecord {
  id: number;
  mac: string;
  profile: string | null;
  armedAt: number | null;
  armedBy: string | null;
  consumedAt: number | null;
  installedAt: number | null;
  fqdn: string | null;
}

/** Facts learnt from a packet or request; absent ones keep what was known. */
export interface SightingFacts {
  ip?: string;
  arch?: number;
  firmware?: string;
  uuid?: string;
  serial?: string;
  hostname?: string;
}

/** One machine by MAC (what the policy needs to decide); responders need only its NodeState. */
export interface NodeLookup<N extends NodeState = NodeRecord> {
  getNode(mac: string): N | undefined;
}

/** Every change to a node. The lifecycle (src/boot/lifecycle.ts) decides; these only write. */
export interface NodeWrites {
  /**
   * A machine was heard from: last-seen facts are batched (no fsync on the hot path). Whether
   * its [host] section arms an install (at first sight, or once it gained action=install) is
   * lifecycle.sighted(node, armedByProfile)'s to say; the arm is written behind like the sighting.
   */
  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord;
  /** The node for `mac`, created as 'seen' when the admin API names a machine not heard from yet. */
  ensureNode(mac: string): NodeRecord;
  /**
   * Writes a lifecycle change durably (creating the node when needed); the store stamps the time.
   * Resolves with the node once the change is on disk; reads show it from then on. A reply that
   * consumes an install is sent only after this resolves. Resolves undefined when the change did
   * not apply: a consume or disarm of a node no longer install-pending (another request or
   * appliance got there first), or of a node never recorded, writes nothing. Rejects when the store
   * cannot write now (a networked store that is unreachable): the caller must not act as if it applied.
   */
  applyChange(mac: string, change: StateChange): Promise<NodeRecord | undefined>;
  /** Durable like applyChange; resolves with the node (undefined when there is none). */
  setLocalBoot(mac: string, script: string | null): Promise<NodeRecord | undefined>;
  /**
   * A store shared by a fleet re-reads the node from the shared database before an install is
   * handed out (another appliance may have changed it a moment ago); absent where getNode is
   * already authoritative. Resolves to the node as stored (the known one if it cannot be read).
   */
  reread?(mac: string): Promise<NodeRecord | undefined>;
  /**
   * Stores what the agent reported in `session` as the node's inventory (creating the node when
   * needed), durable like applyChange. Guarded: a second inventory of the same session writes
   * nothing and resolves `{ duplicate: true }` (HTTP 409). `previous`: the inventory it replaced.
   */
  setInventory(mac: string, document: Inventory, session: string): Promise<InventoryWrite>;
  /** Sets (null: removes) the node's enrolment, durable like applyChange; undefined when there is no such node. */
  setEnrolment(mac: string, enrolment: Enrolment | null): Promise<NodeRecord | undefined>;
}

/** What NodeWrites.setInventory did. */
export type InventoryWrite = { duplicate: false; node: NodeRecord; previous: NodeInventory | null } | { duplicate: true; node: NodeRecord };

/** The operator's view of the node table (admin API, answers by hardware). */
export interface NodeDirectory extends NodeLookup {
  listNodes(limit?: number, offset?: number): NodeRecord[];
  countNodes(): number;
  listNodesInState(state: NodeLifecycle, limit?: number, offset?: number): NodeRecord[];
  countNodesInState(state: NodeLifecycle): number;
  /** The most recently seen node with this DMI UUID, else with this serial (case-insensitive). */
  findNodeByHardware(serial: string | null, uuid: string | null): NodeRecord | undefined;
  installHistory(mac: string): InstallRecord[];
  /** Installs consumed and completed over the kept history (metrics). */
  installCounts(): { consumed: number; completed: number };
}

export type StoredEvent = BootEvent & { id: number };

export interface EventQuery {
  mac?: string;
  limit?: number;
  protocol?: EventProtocol;
  sinceId?: number;
}

/** The event log: record() queues (written within 50 ms), events() reads newest last. */
export interface EventLog extends EventSink {
  events(query?: EventQuery): StoredEvent[];
  /**
   * A store shared by a fleet: one machine's story as every appliance recorded it (its events, the
   * newest of each protocol, the node), read from the shared database for explain. Absent where
   * events() already is the whole log; falls back to what this appliance knows when unreachable.
   */
  history?(mac: string): Promise<EventLog & NodeLookup>;
}

export type LeaseState = 'bound' | 'declined' | 'released';

export interface LeaseRecord {
  ip: string;
  /** 'id:<hex>' when the client sent option 61, else 'mac:<mac>' (RFC 2131 §4.2: the client identifier names the client). */
  clientKey: string;
  mac: string;
  hostname: string | null;
  state: LeaseState;
  /** ms since the epoch: end of the lease, of the decline quarantine, or the release time. */
  expiresAt: number;
  updatedAt: number;
}

/** DHCP leases. Offers are not here: they live in memory for seconds. */
export interface LeaseLog {
  all(): LeaseRecord[];
  get(ip: string): LeaseRecord | undefined;
  put(lease: LeaseRecord): void;
  delete(ip: string): void;
  /**
   * Runs `work` in one transaction now, together with any node writes it makes; throws when the
   * transaction fails. Durable (the default): the promise resolves once it is on disk, and only
   * then may an ACK leave (the event loop goes on meanwhile). Not durable: resolves at once;
   * only for writes the client's next packet would make again.
   */
  commit(work: () => void, options?: { durable: boolean }): Promise<void>;
}

/**
 * What resolving a boot (src/boot/resolve.ts) needs of the store, over any transport: the node,
 * its sighting and its consumption, the fleet's re-read, the event.
 */
export type BootPorts = NodeLookup &
  Pick<NodeWrites, 'sawNode' | 'applyChange'> &
  Partial<Pick<NodeWrites, 'reread'>> &
  EventSink &
  /** Minting the agent's session when its boot is served; a store without them cannot inspect (the outcome says so). */
  Partial<AgentSessions> &
  /** The known nodes, read only when a [host serial:…]/[host uuid:…] section applies (a shared value selects nothing). */
  Partial<Pick<NodeDirectory, 'listNodes'>>;

/**
 * The install images under [assets] dir, for every transport (src/assets/catalogue-scan.ts scans
 * the folder). Sync: served from a short cache, /boot and GRUB's configuration are hot paths.
 */
export interface ImageCatalogue {
  /** The images the menu offers: one whose files changed since it was added, or that the daemon's account cannot read, is left out. */
  images(dir: string): InstallImage[];
  /** Every image, a changed or unreadable one too (the console lists those with the reason they are not offered). */
  all(dir: string): InstallImage[];
  /** One image by profile name ("<product>/<version>"), a changed or unreadable one too (to say why it is not offered). */
  find(dir: string, profile: string): InstallImage | undefined;
  /** A disk image by profile name (deploy); absent or undefined: no such disk image. */
  findDiskImage?(dir: string, profile: string): DiskImage | undefined;
  /** Every disk image, a changed or unreadable one too (the menu leaves those out); absent: none. */
  diskImages?(dir: string): DiskImage[];
  /** Forgets what was read (a reload): the next call reads the folder again. */
  invalidate(): void;
}

/** What the HTTP side needs: the nodes, their writes, and the event log. */
export type NodeStore = NodeDirectory & NodeWrites & EventLog;

/** Whether the store can write now: a networked store may be degraded (boots go on from memory). */
export interface StoreHealth {
  backend: 'sqlite' | 'postgresql';
  state: 'ok' | 'degraded';
  reason?: string;
  /** Events and node writes waiting for the store. */
  queued?: number;
  /** Events dropped because the queue was full while the store was away. */
  dropped?: number;
}
