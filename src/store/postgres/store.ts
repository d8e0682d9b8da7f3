// The PostgreSQL store: nodes, install state and history and events shared by a fleet of
// appliances, behind the same ports as the SQLite store (src/boot/ports.ts), around the same
// node mirror (../mirror.ts).
//
// Hot paths never wait on the network: the mirror holds every node (NodeLookup stays sync),
// sightings and events are queued (queue.ts) and written in batches, and the mirror follows the
// other appliances through LISTEN/NOTIFY on node changes (listen.ts). Only a lifecycle change
// waits for PostgreSQL: it is one guarded UPDATE (changes.ts), so an install is handed out once
// across the fleet, and the mirror then re-reads the row. When PostgreSQL is unreachable the
// store is degraded: boots go on from the mirror, lifecycle changes are refused
// (StoreUnavailableError, HTTP 503), the queue keeps growing (bounded) and a timer reconnects,
// re-reads the nodes and writes the queue out.
//
// DHCP leases stay in this appliance's own SQLite file (leases.ts of src/store): a DHCP ACK waits
// for a local fsync, never for the network, and keeps working when PostgreSQL is down.
import { hostname } from 'node:os';
import pg from 'pg';
import type { BootEvent, NewEvent } from '../../boot/events.ts';
import type { StateChange } from '../../boot/lifecycle.ts';
import type { Inventory } from '../../agent/inventory.ts';
import type {
  AgentSessions,
  Enrolment,
  EventLog,
  EventQuery,
  InventoryWrite,
  LeaseLog,
  NodeLookup,
  NodeRecord,
  NodeStore,
  SightingFacts,
  StoreHealth,
  StoredEvent,
} from '../../boot/ports.ts';
import { AgentSessionBook, type AgentSessionRow } from '../agent-sessions.ts';
import type { Logger } from '../../log.ts';
import { MirroredDirectory, NodeMirror } from '../mirror.ts';
import type { StoreObserver } from '../store.ts';
import { inTransaction, writeChange, writeEnrolment, writeInventory } from './changes.ts';
import type { ImportedNode, ImportOutcome, NodeImports } from '../import-nodes.ts';
import { upsertImported } from './import.ts';
import { clientConfig, shownUrl, StoreClient, StoreUnavailableError, type StoreSection } from './connect.ts';
import { TableFollower } from './follow.ts';
import { readHistory } from './history.ts';
import { hangUp, listen, SchemaError } from './listen.ts';
import { WriteQueue, writeQueued } from './queue.ts';
import { RecentEvents } from './recent-events.ts';

export interface PostgresStoreOptions {
  store: StoreSection;
  logger: Logger;
  /** Leases: this appliance's own (SQLite) lease log. */
  leases: LeaseLog;
  /** Closes what holds `leases`. */
  closeLeases: () => void;
  now?: () => number;
  /** Events kept in memory for the admin API and explain on this appliance. */
  recentEvents?: number;
  /** Queued events kept while PostgreSQL is away; the oldest are dropped past this. */
  maxQueued?: number;
  /** Never-installed nodes kept in the shared table; the least recently seen are evicted past this (default 100,000, as SQLite). */
  maxUnknownNodes?: number;
  /** Milliseconds between reconnection attempts. */
  retryMs?: number;
  /** How long an agent session lasts after its last use (default AGENT_SESSION_MS). */
  agentSessionMs?: number;
}

// A later mint or renewal of the same MAC wins, whatever order the appliances' writes arrive in.
const UPSERT_SESSION_SQL = `INSERT INTO agent_sessions (mac, session, token_hash, minted_at, expires_at) VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (mac) DO UPDATE SET session = excluded.session, token_hash = excluded.token_hash, minted_at = excluded.minted_at, expires_at = excluded.expires_at
  WHERE agent_sessions.minted_at < excluded.minted_at OR (agent_sessions.minted_at = excluded.minted_at AND agent_sessions.expires_at < excluded.expires_at)`;

const FLUSH_MS = 50;

export class PostgresStore extends MirroredDirectory implements NodeStore, NodeImports {
  readonly leases: LeaseLog;
  readonly appliance: string;
  protected readonly mirror: NodeMirror;
  private readonly pool: pg.Pool;
  private readonly config: pg.ClientConfig;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly queue: WriteQueue;
  private readonly recent: RecentEvents;
  private observer: StoreObserver | null = null;
  private listener: pg.Client | null = null;
  private state: 'ok' | 'degraded' = 'degraded';
  private reason = 'not connected yet';
  private flushTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly follower: TableFollower;
  private closed = false;
  /** Per-boot agent sessions: in memory, written to the shared table at once (in order), followed from the others. */
  readonly agentSessions: AgentSessions;
  private sessionWrites: Promise<void> = Promise.resolve();

  private constructor(private readonly options: PostgresStoreOptions) {
    super();
    this.config = clientConfig(options.store);
    this.pool = new pg.Pool({ ...this.config, Client: StoreClient, max: options.store.poolSize, idleTimeoutMillis: 30_000 });
    // An idle client whose server went away must not take the process down.
    this.pool.on('error', (err) => this.degrade(`connection lost: ${err.message}`));
    this.leases = options.leases;
    this.recent = new RecentEvents(options.recentEvents ?? 10_000);
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.appliance = options.store.appliance || hostname();
    this.queue = new WriteQueue(options.maxQueued ?? 100_000);
    // Install records made here (a sighting's arm) are numbered by the table once written and re-read.
    this.mirror = new NodeMirror({ maxStrangers: options.maxUnknownNodes ?? 100_000, evicted: (mac) => this.queue.evicted(mac), newInstallId: () => 0 });
    const sessions = new AgentSessionBook(this.now, (row) => this.writeSession(row), options.agentSessionMs);
    this.agentSessions = sessions;
    this.follower = new TableFollower(this.pool, this.mirror, this.queue, (reason) => this.degrade(reason), sessions);
  }

  /**
   * A session minted or renewed here, written at once so the appliance the agent reports to knows
   * it (its notice makes the others read it). Not written while degraded: it still works here.
   */
  private writeSession(row: AgentSessionRow): void {
    this.sessionWrites = this.sessionWrites.then(async () => {
      if (this.state !== 'ok') return;
      try {
        await this.pool.query(UPSERT_SESSION_SQL, [row.mac, row.session, row.tokenHash, row.mintedAt, row.expiresAt]);
      } catch (err) {
        this.logger.warn(`agent session of ${row.mac}: not written to PostgreSQL (${(err as Error).message}); it is known on this appliance only`);
      }
    });
  }

  /** Connects, checks the schema and loads the nodes. Unreachable: an error, or a degraded store when start_degraded. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      await store.connect();
    } catch (err) {
      const message = `PostgreSQL at ${shownUrl(options.store.url)}: ${(err as Error).message}`;
      if (!options.store.startDegraded || err instanceof SchemaError) {
        await store.pool.end().catch(() => undefined);
        options.closeLeases();
        throw new Error(err instanceof SchemaError ? message : `${message} (set [store] start_degraded = true to start without it)`, { cause: err });
      }
      store.degrade(message);
    }
    return store;
  }

  /** Listener first (so no change is missed), then the schema check and a full read of the nodes, then the queue. */
  private async connect(): Promise<void> {
    const on = { changed: (mac: string) => void this.follower.reread(mac), lost: (reason: string) => this.degrade(reason) };
    this.listener = await listen(this.config, on, (db) => this.follower.readAll(db));
    this.state = 'ok';
    this.reason = '';
    this.logger.info({ appliance: this.appliance, nodes: this.mirror.countNodes() }, `store: PostgreSQL at ${shownUrl(this.options.store.url)} connected`);
    this.schedule();
  }

  private degrade(reason: string): void {
    if (this.closed) return;
    if (this.state === 'ok') this.logger.error(`store degraded: ${reason}; boots go on from memory, installs that need a consumption wait, reconnecting`);
    this.state = 'degraded';
    this.reason = reason;
    const listener = this.listener;
    this.listener = null;
    if (listener) void hangUp(listener);
    this.retryTimer ??= setTimeout(() => void this.reconnect(), this.options.retryMs ?? 1000);
  }

  private async reconnect(): Promise<void> {
    this.retryTimer = null;
    if (this.closed || this.state === 'ok') return;
    try {
      await this.connect();
      this.logger.info(`store: reconnected; writing ${this.queue.size()} queued events and node writes`);
    } catch (err) {
      this.reason = `reconnecting: ${(err as Error).message}`;
      this.retryTimer ??= setTimeout(() => void this.reconnect(), this.options.retryMs ?? 1000);
    }
  }

  // ---- the queue ----

  private schedule(): void {
    if (this.flushTimer || this.closed || this.state !== 'ok' || this.queue.size() === 0) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, FLUSH_MS);
  }

  /** Writes what is queued; on failure puts it back (in order) and degrades. One flush at a time. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.state !== 'ok' || this.queue.size() === 0) return Promise.resolve();
    const batch = this.queue.take();
    const started = performance.now();
    this.flushing = inTransaction(this.pool, (db) => writeQueued(db, batch, this.appliance))
      .then((conflicts) => {
        this.observer?.eventsFlushed(batch.events.length, (performance.now() - started) / 1000);
        // Another appliance wrote these first: take its record.
        for (const mac of conflicts) void this.follower.reread(mac);
      })
      .catch((err: unknown) => {
        this.queue.putBack(batch, this.mirror);
        this.degrade(`writing the queue: ${(err as Error).message}`);
      })
      .finally(() => {
        this.queue.done();
        this.flushing = null;
        this.schedule();
      });
    return this.flushing;
  }

  // ---- NodeWrites ----

  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    const sighting = this.mirror.sight(mac, facts, this.now(), armedByProfile);
    this.queue.sighting(sighting, facts);
    this.schedule();
    return sighting.node;
  }

  ensureNode(mac: string): NodeRecord {
    const sighting = this.mirror.ensure(mac, this.now());
    if (!sighting.before) {
      this.queue.sighting(sighting, {});
      this.schedule();
    }
    return sighting.node;
  }

  async applyChange(mac: string, change: StateChange): Promise<NodeRecord | undefined> {
    if (this.state !== 'ok') throw new StoreUnavailableError(`store degraded (${this.reason})`);
    // The node's first sighting may still be queued: it must exist before it changes.
    await this.flush();
    if (this.state !== 'ok') throw new StoreUnavailableError(`store degraded (${this.reason})`);
    let applied: boolean;
    try {
      applied = await inTransaction(this.pool, (db) => writeChange(db, mac, change, this.now(), this.appliance));
    } catch (err) {
      this.degrade(`writing a ${change.kind} of ${mac}: ${(err as Error).message}`);
      throw new StoreUnavailableError(`store degraded (${this.reason})`);
    }
    // The mirror follows PostgreSQL's row, whoever won.
    await this.follower.reread(mac);
    return applied ? this.mirror.getNode(mac) : undefined;
  }

  private ensureWritable(): void {
    if (this.state !== 'ok') throw new StoreUnavailableError(`store degraded (${this.reason})`);
  }

  async setInventory(mac: string, document: Inventory, session: string): Promise<InventoryWrite> {
    this.ensureWritable();
    // The node's first sighting may still be queued: it must exist before it changes.
    await this.flush();
    this.ensureWritable();
    let outcome: Awaited<ReturnType<typeof writeInventory>>;
    try {
      outcome = await inTransaction(this.pool, (db) => writeInventory(db, mac, document, session, this.now()));
    } catch (err) {
      this.degrade(`writing the inventory of ${mac}: ${(err as Error).message}`);
      throw new StoreUnavailableError(`store degraded (${this.reason})`);
    }
    await this.follower.reread(mac);
    const node = this.mirror.getNode(mac);
    // Written, but not read back: PostgreSQL went away in between.
    if (!node) throw new StoreUnavailableError(`store degraded (${this.reason})`);
    return outcome.duplicate ? { duplicate: true, node } : { duplicate: false, node, previous: outcome.previous };
  }

  async setEnrolment(mac: string, enrolment: Enrolment | null): Promise<NodeRecord | undefined> {
    this.ensureWritable();
    await this.flush();
    this.ensureWritable();
    let found: boolean;
    try {
      found = await inTransaction(this.pool, (db) => writeEnrolment(db, mac, enrolment));
    } catch (err) {
      this.degrade(`writing the enrolment of ${mac}: ${(err as Error).message}`);
      throw new StoreUnavailableError(`store degraded (${this.reason})`);
    }
    await this.follower.reread(mac);
    return found ? this.mirror.getNode(mac) : undefined;
  }

  // ---- NodeImports (pxe-pilot import) ----

  async importNodes(nodes: readonly ImportedNode[]): Promise<Map<string, ImportOutcome>> {
    if (this.state !== 'ok') throw new StoreUnavailableError(`store degraded (${this.reason})`);
    await this.flush();
    const outcomes = await inTransaction(this.pool, (db) => upsertImported(db, nodes, this.now()));
    for (const n of nodes) await this.follower.reread(n.mac);
    return outcomes;
  }

  async reread(mac: string): Promise<NodeRecord | undefined> {
    if (this.state === 'ok') {
      // Its first sighting may still be queued: written first, so the read finds it.
      await this.flush();
      if (this.state === 'ok') await this.follower.reread(mac);
    }
    return this.mirror.getNode(mac);
  }

  async setLocalBoot(mac: string, script: string | null): Promise<NodeRecord | undefined> {
    const node = this.mirror.getNode(mac);
    if (!node) return undefined;
    const updated = { ...node, localBoot: script };
    this.mirror.put(updated, false);
    this.queue.localBoot(mac, script);
    // Durable like applyChange: resolved once written (a degraded store keeps it queued).
    await this.flush();
    return updated;
  }

  // ---- EventLog: queued for PostgreSQL; this appliance's recent ones are kept in memory to read ----

  record(event: NewEvent): void {
    const stamped: BootEvent = { ...event, time: event.time ?? this.now() };
    this.queue.event(stamped);
    this.recent.add(stamped);
    this.observer?.eventRecorded(stamped);
    this.schedule();
  }

  /** One observer (the daemon's telemetry) sees every event as it is recorded and every batch written. */
  observe(observer: StoreObserver | null): void {
    this.observer = observer;
  }

  events(query: EventQuery = {}): StoredEvent[] {
    return this.recent.query(query);
  }

  /** The fleet's log for one machine (explain); this appliance's own recent events when PostgreSQL is away. */
  async history(mac: string): Promise<EventLog & NodeLookup> {
    if (this.state !== 'ok') return this;
    try {
      // What this appliance queued belongs in the story too.
      await this.drain();
      return await readHistory(this.pool, mac, this.mirror.getNode(mac));
    } catch (err) {
      this.logger.warn(`explain ${mac}: reading the shared event log failed (${(err as Error).message}); showing this appliance's events`);
      return this;
    }
  }

  /** Starts writing the queue now instead of within 50 ms (does not wait for it). */
  flushEvents(): void {
    void this.flush();
  }

  /** Resolves once everything queued so far is written (or the store is degraded). */
  async drain(): Promise<void> {
    await this.flush();
    if (this.flushing) await this.flushing;
    await this.sessionWrites;
    await this.follower.settled();
  }

  health(): StoreHealth {
    const { state, reason } = this;
    return { backend: 'postgresql', state, ...(reason ? { reason } : {}), queued: this.queue.size(), dropped: this.queue.dropped };
  }

  async close(): Promise<void> {
    if (this.state === 'ok') await Promise.race([this.drain(), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const listener = this.listener;
    this.listener = null;
    if (listener) await hangUp(listener);
    await this.pool.end().catch(() => undefined);
    this.options.closeLeases();
  }
}
