// The SQLite state behind the ports of src/boot/ports.ts: one database file, opened and migrated
// (database.ts), with the node mirror (mirror.ts) persisted by nodes.ts, the event log
// (events.ts) and leases (leases.ts) on it.
// The daemon opens it and hands each transport the ports it needs; nothing outside src/store sees SQL.
import type { BootEvent, NewEvent } from '../boot/events.ts';
import type { StateChange } from '../boot/lifecycle.ts';
import type { Inventory } from '../agent/inventory.ts';
import type { AgentSessions, Enrolment, EventQuery, InventoryWrite, LeaseLog, NodeRecord, NodeStore, SightingFacts, StoredEvent } from '../boot/ports.ts';
import { SqliteAgentSessions } from './agent-sessions.ts';
import { WriteBehind } from './batch.ts';
import { openDatabase, type Db } from './database.ts';
import { SqliteEventLog } from './events.ts';
import { SqliteLeases } from './leases.ts';
import { MirroredDirectory, type NodeMirror } from './mirror.ts';
import { SqliteNodes } from './nodes.ts';
import type { ImportedNode, ImportOutcome, NodeImports } from './import-nodes.ts';

/** Told of every event and every event-log write (metrics and the live stream); must not throw. */
export interface StoreObserver {
  eventRecorded(event: BootEvent): void;
  eventsFlushed(count: number, seconds: number): void;
}

export interface StoreOptions {
  /** Events kept; the oldest are dropped past this. */
  maxEvents?: number;
  /** Never-installed nodes kept; the least recently seen are evicted past this. */
  maxUnknownNodes?: number;
  /** Events kept per machine: one machine in a boot loop must not push out everyone's history. */
  maxEventsPerMachine?: number;
  /** Injected clock for tests. */
  now?: () => number;
  /** How long an agent session lasts after its last use (default AGENT_SESSION_MS). */
  agentSessionMs?: number;
}

/** The directory reads (NodeDirectory) are the mirror's; the writes go through nodes.ts. */
export class Store extends MirroredDirectory implements NodeStore, NodeImports {
  readonly now: () => number;
  /** DHCP leases, for the DHCP server (handed to it by the daemon). */
  readonly leases: LeaseLog;
  private readonly db: Db;
  private readonly batch: WriteBehind;
  private readonly nodes: SqliteNodes;
  protected readonly mirror: NodeMirror;
  private readonly log: SqliteEventLog;
  /** Per-boot sessions of the inspection agent, kept in the same file. */
  readonly agentSessions: AgentSessions;
  private observer: StoreObserver | null = null;

  /** Opens (creating) `<stateDir>/pxe-pilot.sqlite`, or an in-memory store for ':memory:'. */
  static open(stateDir: string, options: StoreOptions = {}): Store {
    return new Store(openDatabase(stateDir), options);
  }

  private constructor(db: Db, options: StoreOptions) {
    super();
    this.db = db;
    this.now = options.now ?? Date.now;
    this.batch = new WriteBehind(db);
    // Added first, so a batch writes node facts before the events that mention them.
    this.nodes = new SqliteNodes(db, this.batch, this.now, options.maxUnknownNodes ?? 100_000);
    this.mirror = this.nodes.mirror;
    this.log = new SqliteEventLog(db, this.batch, this.now, options.maxEvents ?? 100_000, options.maxEventsPerMachine ?? 2_000);
    this.batch.onFlushed((seconds) => this.observer?.eventsFlushed(this.log.lastWritten, seconds));
    this.leases = new SqliteLeases(db, this.batch);
    this.agentSessions = new SqliteAgentSessions(db, this.batch, this.now, options.agentSessionMs);
  }

  // ---- NodeWrites ----

  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    return this.nodes.sawNode(mac, facts, armedByProfile);
  }

  ensureNode(mac: string): NodeRecord {
    return this.nodes.ensureNode(mac);
  }

  applyChange(mac: string, change: StateChange): Promise<NodeRecord | undefined> {
    return this.nodes.applyChange(mac, change);
  }

  setLocalBoot(mac: string, script: string | null): Promise<NodeRecord | undefined> {
    return this.nodes.setLocalBoot(mac, script);
  }

  setInventory(mac: string, document: Inventory, session: string): Promise<InventoryWrite> {
    return this.nodes.setInventory(mac, document, session);
  }

  setEnrolment(mac: string, enrolment: Enrolment | null): Promise<NodeRecord | undefined> {
    return this.nodes.setEnrolment(mac, enrolment);
  }

  // ---- NodeImports (pxe-pilot import) ----

  async importNodes(nodes: readonly ImportedNode[]): Promise<Map<string, ImportOutcome>> {
    const outcomes = await Promise.all(nodes.map((n) => this.nodes.importNode(n)));
    return new Map(nodes.map((n, i) => [n.mac, outcomes[i]!]));
  }

  // ---- EventLog ----

  record(event: NewEvent): void {
    const recorded = this.log.record(event);
    this.observer?.eventRecorded(recorded);
  }

  /** One observer (the daemon's telemetry) sees every event as it is recorded. */
  observe(observer: StoreObserver | null): void {
    this.observer = observer;
  }

  events(query?: EventQuery): StoredEvent[] {
    return this.log.events(query);
  }

  /** Writes everything pending now, on disk when this returns, instead of within 50 ms. */
  flushEvents(): void {
    this.batch.flush(true);
  }

  /** The schema version on disk (PRAGMA user_version): the last migration applied. */
  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  close(): void {
    this.nodes.markUnwrittenSightings();
    this.batch.flush(true);
    this.batch.close();
    this.db.close();
  }
}
