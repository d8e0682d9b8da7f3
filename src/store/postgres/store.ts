// The PostgreSQL store: nodes, install state and history and events shared by a fleet of
// appliances, behind the same ports as the SQLite store (src/boot/ports.ts).
//
// Hot paths never wait on the network: every node is mirrored in memory (NodeLookup stays sync),
// sightings and events are queued and written in batches, and the mirror follows the other
// appliances through LISTEN/NOTIFY on node changes. Only an install consumption (and the other
// lifecycle changes) waits for PostgreSQL: it is one conditional UPDATE, so an install is handed
// out once across the fleet. When PostgreSQL is unreachable the store is degraded: boots go on
// from the mirror, lifecycle changes are refused (StoreUnavailableError, HTTP 503), the queues
// keep growing (bounded) and a timer reconnects, re-reads the nodes and writes the queues out.
//
// DHCP leases stay in this appliance's own SQLite file (leases.ts of src/store): a DHCP ACK waits
// for a local fsync, never for the network, and keeps working when PostgreSQL is down.
import type { StoreObserver } from '../store.ts';
import { countInstalls } from '../install-counts.ts';
import { hostname } from 'node:os';
import pg from 'pg';
import type { BootEvent, NewEvent } from '../../boot/events.ts';
import { sighted, type NodeLifecycle, type StateChange } from '../../boot/lifecycle.ts';
import type {
  EventLog,
  EventQuery,
  InstallRecord,
  LeaseLog,
  NodeLookup,
  NodeRecord,
  NodeStore,
  SightingFacts,
  StoreHealth,
  StoredEvent,
} from '../../boot/ports.ts';
import type { Logger } from '../../log.ts';
import { inTransaction, writeChange } from './changes.ts';
import { clientConfig, shownUrl, StoreClient, type StoreSection } from './connect.ts';
import { RecentEvents } from './recent-events.ts';
import { readHistory } from './history.ts';
import { EVICT_SQL, Strangers } from './strangers.ts';
import { NODE_CHANNEL, SCHEMA_VERSION, schemaVersion } from './migrations.ts';
import {
  INSERT_EVENTS_SQL,
  INSERT_NODE_SQL,
  insertNodeArgs,
  mergeTouch,
  newNode,
  overlayTouch,
  toInstall,
  toNode,
  toTouch,
  TOUCH_SQL,
  type InstallRow,
  type NodeRow,
  type Touch,
} from './rows.ts';

/** Thrown (rejected) when a write must reach PostgreSQL and cannot; HTTP answers it with 503. */
export class StoreUnavailableError extends Error {
  readonly status = 503;
  readonly expose = true;
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

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
}

const FLUSH_MS = 50;

export class PostgresStore implements NodeStore {
  readonly leases: LeaseLog;
  readonly appliance: string;
  private readonly pool: pg.Pool;
  private readonly config: pg.ClientConfig;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly installs = new Map<string, InstallRecord[]>();
  private readonly touches = new Map<string, Touch>();
  /** First sightings and admin-created nodes to insert (arm: the profile arms the first install). */
  private inserts: { touch: Touch; arm: StateChange | null }[] = [];
  /** Known nodes whose [host] section armed them when seen again (lifecycle.sighted), by MAC. */
  private arms = new Map<string, { change: StateChange; at: number }>();
  private localBoots = new Map<string, string | null>();
  private readonly strangers: Strangers;
  /** Strangers evicted from the mirror, to delete from the shared table. */
  private evictions = new Set<string>();
  /** What the running flush writes: a re-read meanwhile must not take the table's old row as the truth. */
  private inFlight: { inserts: Set<string>; evictions: Set<string> } | null = null;
  private queuedEvents: BootEvent[] = [];
  private readonly recent: RecentEvents;
  private dropped = 0;
  private observer: StoreObserver | null = null;
  private listener: pg.Client | null = null;
  private state: 'ok' | 'degraded' = 'degraded';
  private reason = 'not connected yet';
  private flushTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly refreshes = new Map<string, Promise<void>>();
  private closed = false;

  private constructor(private readonly options: PostgresStoreOptions) {
    this.config = clientConfig(options.store);
    this.pool = new pg.Pool({ ...this.config, Client: StoreClient, max: options.store.poolSize, idleTimeoutMillis: 30_000 });
    // An idle client whose server went away must not take the process down.
    this.pool.on('error', (err) => this.degrade(`connection lost: ${err.message}`));
    this.leases = options.leases;
    this.recent = new RecentEvents(options.recentEvents ?? 10_000);
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.appliance = options.store.appliance || hostname();
    this.strangers = new Strangers(options.maxUnknownNodes ?? 100_000);
  }

  /** Puts a node in the mirror, keeping the strangers' order; `seen`: false for a re-read, which keeps its place. */
  private remember(node: NodeRecord, seen = true): void {
    this.nodes.set(node.mac, node);
    this.strangers.note(node, seen);
  }

  /** Past the cap, the least recently seen strangers leave the mirror now and the shared table at the next write. */
  private evict(): void {
    for (const mac of this.strangers.overflow()) {
      this.nodes.delete(mac);
      this.installs.delete(mac);
      this.evictions.add(mac);
    }
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

  /** Listener first (so no change is missed), then the schema check and a full read of the nodes, then the queues. */
  private async connect(): Promise<void> {
    const listener = new StoreClient(this.config);
    listener.on('error', (err) => this.degrade(`notification connection lost: ${err.message}`));
    listener.on('end', () => this.degrade('notification connection closed'));
    listener.on('notification', (n) => {
      if (n.channel === NODE_CHANNEL && n.payload) void this.refresh(n.payload);
    });
    try {
      await listener.connect();
      const version = await schemaVersion(listener);
      if (version !== SCHEMA_VERSION) throw new SchemaError(`schema version ${version}, this pxe-pilot needs ${SCHEMA_VERSION}: run pxe-pilot store migrate`);
      await listener.query(`LISTEN ${NODE_CHANNEL}`);
      await this.loadAll(listener);
    } catch (err) {
      listener.removeAllListeners('end');
      await listener.end().catch(() => undefined);
      throw err;
    }
    this.listener = listener;
    this.state = 'ok';
    this.reason = '';
    this.logger.info({ appliance: this.appliance, nodes: this.nodes.size }, `store: PostgreSQL at ${shownUrl(this.options.store.url)} connected`);
    this.schedule();
  }

  private async loadAll(db: pg.ClientBase): Promise<void> {
    const nodes = await db.query<NodeRow>('SELECT * FROM nodes');
    const installs = await db.query<InstallRow>('SELECT * FROM installs ORDER BY id');
    this.nodes.clear();
    this.installs.clear();
    this.strangers.clear();
    // Least recently seen first, so the strangers' order is the eviction order.
    for (const row of nodes.rows.sort((x, y) => x.last_seen - y.last_seen)) this.remember(toNode(row));
    for (const row of installs.rows) this.historyOf(row.mac).push(toInstall(row));
    // What this appliance learnt while away stays visible until written.
    for (const { touch } of this.inserts) if (!this.nodes.has(touch.mac)) this.remember(newNode(touch));
    for (const [mac, t] of this.touches) {
      const node = this.nodes.get(mac);
      if (node) this.remember(overlayTouch(node, t));
    }
    this.evict();
  }

  private historyOf(mac: string): InstallRecord[] {
    let list = this.installs.get(mac);
    if (!list) this.installs.set(mac, (list = []));
    return list;
  }

  private degrade(reason: string): void {
    if (this.closed) return;
    if (this.state === 'ok') this.logger.error(`store degraded: ${reason}; boots go on from memory, installs that need a consumption wait, reconnecting`);
    this.state = 'degraded';
    this.reason = reason;
    const listener = this.listener;
    this.listener = null;
    if (listener) {
      listener.removeAllListeners('end');
      void listener.end().catch(() => undefined);
    }
    this.retryTimer ??= setTimeout(() => void this.reconnect(), this.options.retryMs ?? 1000);
  }

  private async reconnect(): Promise<void> {
    this.retryTimer = null;
    if (this.closed || this.state === 'ok') return;
    try {
      await this.connect();
      this.logger.info(`store: reconnected; writing ${this.queued()} queued events and node writes`);
    } catch (err) {
      this.reason = `reconnecting: ${(err as Error).message}`;
      this.retryTimer ??= setTimeout(() => void this.reconnect(), this.options.retryMs ?? 1000);
    }
  }

  /** Re-reads one node (and its history) after another appliance (or this one) changed it. */
  private refresh(mac: string): Promise<void> {
    // One at a time per MAC, so an older read never lands after a newer one.
    const previous = this.refreshes.get(mac) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        const node = await this.pool.query<NodeRow>('SELECT * FROM nodes WHERE mac = $1', [mac]);
        const history = await this.pool.query<InstallRow>('SELECT * FROM installs WHERE mac = $1 ORDER BY id', [mac]);
        const row = node.rows[0];
        const touch = this.touches.get(mac);
        // Evicted here, its delete queued or being written: not brought back by the notice of its own insert.
        if (this.evictions.has(mac) || this.inFlight?.evictions.has(mac)) return;
        if (row) {
          this.remember(touch ? overlayTouch(toNode(row), touch) : toNode(row), false);
          this.evict();
        } else if (!this.inFlight?.inserts.has(mac) && !this.inserts.some((i) => i.touch.mac === mac)) {
          this.nodes.delete(mac);
          this.strangers.forget(mac);
        }
        this.installs.set(mac, history.rows.map(toInstall));
      } catch (err) {
        this.degrade(`re-reading ${mac}: ${(err as Error).message}`);
      }
    });
    this.refreshes.set(mac, next);
    void next.then(() => {
      if (this.refreshes.get(mac) === next) this.refreshes.delete(mac);
    });
    return next;
  }

  // ---- queued writes ----

  private queued(): number {
    return this.queuedEvents.length + this.touches.size + this.inserts.length + this.arms.size + this.localBoots.size + this.evictions.size;
  }

  private schedule(): void {
    if (this.flushTimer || this.closed || this.state !== 'ok' || this.queued() === 0) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, FLUSH_MS);
  }

  /** Writes what is queued; on failure puts it back (in order) and degrades. One flush at a time. */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.state !== 'ok' || this.queued() === 0) return Promise.resolve();
    const inserts = this.inserts;
    const arms = [...this.arms];
    const touches = [...this.touches.values()];
    const localBoots = [...this.localBoots];
    const events = this.queuedEvents;
    const evictions = [...this.evictions];
    this.evictions = new Set();
    this.inserts = [];
    this.arms = new Map();
    this.touches.clear();
    this.localBoots = new Map();
    this.queuedEvents = [];
    const conflicts: string[] = [];
    const started = performance.now();
    this.inFlight = { inserts: new Set(inserts.map((i) => i.touch.mac)), evictions: new Set(evictions) };
    this.flushing = inTransaction(this.pool, async (db) => {
      for (const { touch, arm } of inserts) {
        const created = await db.query(INSERT_NODE_SQL, insertNodeArgs(touch));
        if (created.rowCount === 1 && arm) await writeChange(db, touch.mac, arm, touch.now, this.appliance);
        if (created.rowCount !== 1) conflicts.push(touch.mac);
      }
      // Guarded: one cancelled or armed meanwhile (here or by another appliance) is left as it is.
      for (const [mac, { change, at }] of arms) if (!(await writeChange(db, mac, change, at, this.appliance))) conflicts.push(mac);
      if (touches.length) await db.query(TOUCH_SQL, [JSON.stringify(touches)]);
      for (const [mac, script] of localBoots) await db.query('UPDATE nodes SET local_boot = $1 WHERE mac = $2', [script, mac]);
      if (evictions.length) await db.query(EVICT_SQL, [evictions]);
      if (events.length)
        await db.query(INSERT_EVENTS_SQL, [JSON.stringify(events.map((e) => ({ ...e, code: e.code ?? null, detail: e.detail ?? null }))), this.appliance]);
    })
      .then(() => {
        this.observer?.eventsFlushed(events.length, (performance.now() - started) / 1000);
        // Another appliance created these first: take its record.
        for (const mac of conflicts) void this.refresh(mac);
      })
      .catch((err: unknown) => {
        this.inserts = [...inserts, ...this.inserts];
        for (const [mac, arm] of arms) if (!this.arms.has(mac)) this.arms.set(mac, arm);
        for (const t of touches) {
          const later = this.touches.get(t.mac);
          this.touches.set(t.mac, later ? mergeTouch(t, later) : t);
        }
        for (const [mac, script] of localBoots) if (!this.localBoots.has(mac)) this.localBoots.set(mac, script);
        // Seen again since: no longer to delete.
        for (const mac of evictions) if (!this.nodes.has(mac)) this.evictions.add(mac);
        this.queuedEvents = [...events, ...this.queuedEvents];
        this.capQueue();
        this.degrade(`writing the queue: ${(err as Error).message}`);
      })
      .finally(() => {
        this.inFlight = null;
        this.flushing = null;
        this.schedule();
      });
    return this.flushing;
  }

  private capQueue(): void {
    const max = this.options.maxQueued ?? 100_000;
    if (this.queuedEvents.length > max) {
      this.dropped += this.queuedEvents.length - max;
      this.queuedEvents = this.queuedEvents.slice(-max);
    }
  }

  // ---- NodeLookup, NodeWrites, NodeDirectory ----

  getNode(mac: string): NodeRecord | undefined {
    return this.nodes.get(mac);
  }

  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    const touch = toTouch(mac, this.now(), facts);
    const existing = this.nodes.get(mac);
    // The lifecycle says whether its [host] section arms it (at first sight, or once it gained action=install).
    const armed = sighted(existing, armedByProfile).change;
    let node: NodeRecord;
    if (existing) {
      const queued = this.touches.get(mac);
      this.touches.set(mac, queued ? mergeTouch(queued, touch) : touch);
      node = overlayTouch(existing, touch);
      if (armed) {
        this.arms.set(mac, { change: armed, at: touch.now });
        node = { ...node, state: 'install-pending', profile: null, armedAt: touch.now, armedBy: 'profile', consumedAt: null };
      }
    } else {
      this.inserts.push({ touch, arm: armed });
      node = newNode(touch);
      if (armed) node = { ...node, state: 'install-pending', armedAt: touch.now, armedBy: 'profile' };
      this.evictions.delete(mac);
    }
    this.remember(node);
    this.evict();
    this.schedule();
    return node;
  }

  ensureNode(mac: string): NodeRecord {
    const existing = this.nodes.get(mac);
    if (existing) return existing;
    const touch = toTouch(mac, this.now(), {});
    this.inserts.push({ touch, arm: null });
    const node = newNode(touch);
    this.evictions.delete(mac);
    this.remember(node);
    this.evict();
    this.schedule();
    return node;
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
    await this.refresh(mac);
    return applied ? this.nodes.get(mac) : undefined;
  }

  async reread(mac: string): Promise<NodeRecord | undefined> {
    if (this.state === 'ok') {
      // Its first sighting may still be queued: written first, so the read finds it.
      await this.flush();
      if (this.state === 'ok') await this.refresh(mac);
    }
    return this.nodes.get(mac);
  }

  async setLocalBoot(mac: string, script: string | null): Promise<NodeRecord | undefined> {
    const node = this.nodes.get(mac);
    if (!node) return undefined;
    const updated = { ...node, localBoot: script };
    this.nodes.set(mac, updated);
    this.localBoots.set(mac, script);
    // Durable like applyChange: resolved once written (a degraded store keeps it queued).
    await this.flush();
    return updated;
  }

  private sorted(state?: NodeLifecycle): NodeRecord[] {
    const all = [...this.nodes.values()];
    return (state ? all.filter((n) => n.state === state) : all).sort((a, b) => b.lastSeen - a.lastSeen);
  }

  listNodes(limit = 1000, offset = 0): NodeRecord[] {
    return this.sorted().slice(offset, offset + limit);
  }

  countNodes(): number {
    return this.nodes.size;
  }

  listNodesInState(state: NodeLifecycle, limit = 1000, offset = 0): NodeRecord[] {
    return this.sorted(state).slice(offset, offset + limit);
  }

  countNodesInState(state: NodeLifecycle): number {
    let n = 0;
    for (const node of this.nodes.values()) if (node.state === state) n++;
    return n;
  }

  findNodeByHardware(serial: string | null, uuid: string | null): NodeRecord | undefined {
    const match = (field: 'uuid' | 'serial', value: string | null): NodeRecord | undefined =>
      value ? this.sorted().find((n) => n[field]?.toLowerCase() === value.toLowerCase()) : undefined;
    return match('uuid', uuid) ?? match('serial', serial);
  }

  installHistory(mac: string): InstallRecord[] {
    return [...(this.installs.get(mac) ?? [])];
  }

  // ---- EventLog: queued for PostgreSQL; this appliance's recent ones are kept in memory to read ----

  record(event: NewEvent): void {
    const stamped: BootEvent = { ...event, time: event.time ?? this.now() };
    this.queuedEvents.push(stamped);
    this.capQueue();
    this.recent.add(stamped);
    this.observer?.eventRecorded(stamped);
    this.schedule();
  }

  /** One observer (the daemon's telemetry) sees every event as it is recorded and every batch written. */
  observe(observer: StoreObserver | null): void {
    this.observer = observer;
  }

  /** Installs consumed and completed over the history this appliance mirrors, for metrics. */
  installCounts(): { consumed: number; completed: number } {
    return countInstalls(this.installs.values());
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
      return await readHistory(this.pool, mac, this.nodes.get(mac));
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
    await Promise.all([...this.refreshes.values()]);
  }

  health(): StoreHealth {
    return { backend: 'postgresql', state: this.state, ...(this.reason ? { reason: this.reason } : {}), queued: this.queued(), dropped: this.dropped };
  }

  async close(): Promise<void> {
    if (this.state === 'ok') await Promise.race([this.drain(), new Promise((r) => setTimeout(r, 3000).unref())]);
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const listener = this.listener;
    this.listener = null;
    if (listener) {
      listener.removeAllListeners('end');
      await listener.end().catch(() => undefined);
    }
    await this.pool.end().catch(() => undefined);
    this.options.closeLeases();
  }
}

class SchemaError extends Error {}
