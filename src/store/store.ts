// SQLite state: nodes, install history, events (and leases, in leases.ts). The only place with SQL.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BootEvent, EventProtocol, EventSink } from '../boot/events.ts';
import type { NodeLifecycle, NodeState } from '../boot/policy.ts';
import { MIGRATIONS } from './migrations.ts';

export type Db = Database.Database;

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

export interface SightingFacts {
  ip?: string;
  arch?: number;
  firmware?: string;
  uuid?: string;
  serial?: string;
  hostname?: string;
}

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
  /** Injected clock for tests. */
  now?: () => number;
}

interface NodeRow {
  mac: string;
  hostname: string | null;
  state: NodeLifecycle;
  profile: string | null;
  local_boot: string | null;
  armed_at: number | null;
  armed_by: 'profile' | 'admin' | null;
  consumed_at: number | null;
  installed_at: number | null;
  first_seen: number;
  last_seen: number;
  last_ip: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  fqdn: string | null;
  boot_mode: string | null;
  install_report: string | null;
}

function toNode(row: NodeRow): NodeRecord {
  return {
    mac: row.mac,
    hostname: row.hostname,
    state: row.state,
    profile: row.profile,
    localBoot: row.local_boot,
    armedAt: row.armed_at,
    armedBy: row.armed_by,
    consumedAt: row.consumed_at,
    installedAt: row.installed_at,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    lastIp: row.last_ip,
    arch: row.arch,
    firmware: row.firmware,
    uuid: row.uuid,
    serial: row.serial,
    fqdn: row.fqdn,
    bootMode: row.boot_mode,
    installReport: row.install_report ? (JSON.parse(row.install_report) as unknown) : null,
  };
}

const EVENT_FLUSH_MS = 50;

interface TouchParams {
  mac: string;
  now: number;
  ip: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  hostname: string | null;
}

function mergeTouch(a: TouchParams, b: TouchParams): TouchParams {
  return {
    mac: a.mac,
    now: b.now,
    ip: b.ip ?? a.ip,
    arch: b.arch ?? a.arch,
    firmware: b.firmware ?? a.firmware,
    uuid: b.uuid ?? a.uuid,
    serial: b.serial ?? a.serial,
    hostname: b.hostname ?? a.hostname,
  };
}

function overlayTouch(row: NodeRow, t: TouchParams): NodeRow {
  return {
    ...row,
    last_seen: t.now,
    last_ip: t.ip ?? row.last_ip,
    arch: t.arch ?? row.arch,
    firmware: t.firmware ?? row.firmware,
    uuid: t.uuid ?? row.uuid,
    serial: t.serial ?? row.serial,
    hostname: t.hostname ?? row.hostname,
  };
}

export class Store implements EventSink {
  readonly db: Db;
  readonly now: () => number;
  private readonly maxEvents: number;
  private readonly maxUnknownNodes: number;
  private pending: BootEvent[] = [];
  private readonly pendingTouches = new Map<string, TouchParams>();
  private flushTimer: NodeJS.Timeout | null = null;
  private readonly stmts;
  private eventsSinceTrim = 0;
  private unknownCount: number | null = null;
  private observer: StoreObserver | null = null;

  /** Opens (creating) `<stateDir>/pxe-pilot.sqlite`, or an in-memory store for ':memory:'. */
  static open(stateDir: string, options: StoreOptions = {}): Store {
    let path = ':memory:';
    if (stateDir !== ':memory:') {
      mkdirSync(stateDir, { recursive: true });
      path = join(stateDir, 'pxe-pilot.sqlite');
    }
    return new Store(new Database(path), options);
  }

  constructor(db: Db, options: StoreOptions = {}) {
    this.db = db;
    this.now = options.now ?? Date.now;
    this.maxEvents = options.maxEvents ?? 100_000;
    this.maxUnknownNodes = options.maxUnknownNodes ?? 100_000;
    db.pragma('journal_mode = WAL');
    // FULL: a committed lease or install flag survives power loss, not just a process crash.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    this.migrate();
    this.stmts = {
      getNode: db.prepare<[string], NodeRow>('SELECT * FROM nodes WHERE mac = ?'),
      insertNode: db.prepare(
        `INSERT INTO nodes (mac, hostname, state, profile, armed_at, armed_by, first_seen, last_seen, last_ip, arch, firmware, uuid, serial)
         VALUES (@mac, @hostname, @state, NULL, @armed_at, @armed_by, @now, @now, @ip, @arch, @firmware, @uuid, @serial)`,
      ),
      touchNode: db.prepare(
        `UPDATE nodes SET last_seen = @now, last_ip = COALESCE(@ip, last_ip), arch = COALESCE(@arch, arch),
           firmware = COALESCE(@firmware, firmware), uuid = COALESCE(@uuid, uuid), serial = COALESCE(@serial, serial),
           hostname = COALESCE(@hostname, hostname)
         WHERE mac = @mac`,
      ),
      countUnknown: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM nodes WHERE state = 'seen' AND installed_at IS NULL"),
      evictUnknown: db.prepare(
        `DELETE FROM nodes WHERE mac IN (SELECT mac FROM nodes WHERE state = 'seen' AND installed_at IS NULL ORDER BY last_seen LIMIT ?)`,
      ),
      insertEvent: db.prepare(
        'INSERT INTO events (time, mac, protocol, kind, decision, reason, detail) VALUES (@time, @mac, @protocol, @kind, @decision, @reason, @detail)',
      ),
      trimEvents: db.prepare('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?'),
    };
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  // ---- nodes ----

  getNode(mac: string): NodeRecord | undefined {
    const row = this.stmts.getNode.get(mac);
    if (!row) return undefined;
    const touch = this.pendingTouches.get(mac);
    return toNode(touch ? overlayTouch(row, touch) : row);
  }

  listNodes(limit = 1000, offset = 0): NodeRecord[] {
    this.flushEvents();
    return this.db
      .prepare<[number, number], NodeRow>('SELECT * FROM nodes ORDER BY last_seen DESC LIMIT ? OFFSET ?')
      .all(limit, offset)
      .map(toNode);
  }

  countNodes(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM nodes').get() as { n: number }).n;
  }

  /**
   * Records that a machine was heard from. Creates the node on first sight: install-pending
   * when the profile arms an install for it, else seen (and then the unknown-node cap applies).
   */
  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    const now = this.now();
    const params: TouchParams = {
      mac,
      now,
      ip: facts.ip ?? null,
      arch: facts.arch ?? null,
      firmware: facts.firmware ?? null,
      uuid: facts.uuid ?? null,
      serial: facts.serial ?? null,
      hostname: facts.hostname ?? null,
    };
    const existing = this.stmts.getNode.get(mac);
    if (existing) {
      // last-seen facts are batched with the events: a boot request must not wait for an fsync.
      const queued = this.pendingTouches.get(mac);
      this.pendingTouches.set(mac, queued ? mergeTouch(queued, params) : params);
      this.scheduleFlush();
      return toNode(overlayTouch(existing, this.pendingTouches.get(mac)!));
    }
    this.db.transaction(() => {
      this.stmts.insertNode.run({
        ...params,
        state: armedByProfile ? 'install-pending' : 'seen',
        armed_at: armedByProfile ? now : null,
        armed_by: armedByProfile ? 'profile' : null,
      });
      if (armedByProfile) {
        this.db.prepare('INSERT INTO installs (mac, armed_at, armed_by) VALUES (?, ?, ?)').run(mac, now, 'profile');
      } else {
        // Strangers must not grow the table without bound; the count is kept in memory (an
        // over-estimate at worst, corrected by a real count before anything is evicted).
        this.unknownCount = (this.unknownCount ?? this.stmts.countUnknown.get()!.n - 1) + 1;
        if (this.unknownCount > this.maxUnknownNodes) {
          const { n } = this.stmts.countUnknown.get()!;
          if (n > this.maxUnknownNodes) this.stmts.evictUnknown.run(n - this.maxUnknownNodes);
          this.unknownCount = Math.min(n, this.maxUnknownNodes);
        }
      }
    })();
    return this.getNode(mac)!;
  }

  /** Arms a (re)install: the next network boot installs, once. Creates the node if needed. */
  armInstall(mac: string, profile: string | null, by: 'profile' | 'admin'): NodeRecord {
    const now = this.now();
    this.db.transaction(() => {
      if (!this.stmts.getNode.get(mac)) {
        this.stmts.insertNode.run({ mac, now, ip: null, arch: null, firmware: null, uuid: null, serial: null, hostname: null, state: 'seen', armed_at: null, armed_by: null });
      }
      this.db
        .prepare("UPDATE nodes SET state = 'install-pending', profile = ?, armed_at = ?, armed_by = ?, consumed_at = NULL WHERE mac = ?")
        .run(profile, now, by, mac);
      this.db.prepare('INSERT INTO installs (mac, profile, armed_at, armed_by) VALUES (?, ?, ?, ?)').run(mac, profile, now, by);
    })();
    return this.getNode(mac)!;
  }

  /** Cancels a pending install; the node goes back to what it was before (installed or seen). */
  disarmInstall(mac: string): NodeRecord | undefined {
    this.db
      .prepare(
        "UPDATE nodes SET state = CASE WHEN installed_at IS NOT NULL THEN 'installed' ELSE 'seen' END, armed_at = NULL, armed_by = NULL, profile = NULL WHERE mac = ? AND state = 'install-pending'",
      )
      .run(mac);
    return this.getNode(mac);
  }

  /** The one-shot install is used up: the answer was fetched (or the script served). */
  consumeInstall(mac: string, profile: string | null): NodeRecord | undefined {
    const now = this.now();
    this.db.transaction(() => {
      this.db
        .prepare("UPDATE nodes SET state = 'installing', consumed_at = ?, profile = COALESCE(profile, ?) WHERE mac = ? AND state = 'install-pending'")
        .run(now, profile, mac);
      this.db
        .prepare('UPDATE installs SET consumed_at = ?, profile = COALESCE(profile, ?) WHERE id = (SELECT MAX(id) FROM installs WHERE mac = ?) AND consumed_at IS NULL')
        .run(now, profile, mac);
    })();
    return this.getNode(mac);
  }

  /** The installer reported success (post-installation webhook). */
  markInstalled(mac: string, report: { fqdn?: string | null; bootMode?: string | null; data?: unknown }): NodeRecord {
    const now = this.now();
    this.db.transaction(() => {
      if (!this.stmts.getNode.get(mac)) {
        this.stmts.insertNode.run({ mac, now, ip: null, arch: null, firmware: null, uuid: null, serial: null, hostname: null, state: 'seen', armed_at: null, armed_by: null });
      }
      this.db
        .prepare("UPDATE nodes SET state = 'installed', installed_at = ?, fqdn = ?, boot_mode = ?, install_report = ? WHERE mac = ?")
        .run(now, report.fqdn ?? null, report.bootMode ?? null, JSON.stringify(report.data ?? null), mac);
      const open = this.db.prepare<[string], { id: number }>('SELECT id FROM installs WHERE mac = ? AND installed_at IS NULL ORDER BY id DESC LIMIT 1').get(mac);
      if (open) this.db.prepare('UPDATE installs SET installed_at = ?, fqdn = ? WHERE id = ?').run(now, report.fqdn ?? null, open.id);
      else this.db.prepare('INSERT INTO installs (mac, installed_at, fqdn) VALUES (?, ?, ?)').run(mac, now, report.fqdn ?? null);
    })();
    return this.getNode(mac)!;
  }

  setLocalBoot(mac: string, script: string | null): NodeRecord | undefined {
    this.db.prepare('UPDATE nodes SET local_boot = ? WHERE mac = ?').run(script, mac);
    return this.getNode(mac);
  }

  /** The node for `mac`, created as 'seen' when the admin API names a machine not heard from yet. */
  ensureNode(mac: string): NodeRecord {
    if (!this.stmts.getNode.get(mac)) {
      this.stmts.insertNode.run({ mac, now: this.now(), ip: null, arch: null, firmware: null, uuid: null, serial: null, hostname: null, state: 'seen', armed_at: null, armed_by: null });
    }
    return this.getNode(mac)!;
  }

  /** The most recently seen node with this DMI UUID, else with this serial (compared case-insensitively). */
  findNodeByHardware(serial: string | null, uuid: string | null): NodeRecord | undefined {
    this.flushEvents();
    const by = (column: 'uuid' | 'serial', value: string): NodeRow | undefined =>
      this.db.prepare<[string], NodeRow>(`SELECT * FROM nodes WHERE lower(${column}) = lower(?) ORDER BY last_seen DESC LIMIT 1`).get(value);
    const row = (uuid ? by('uuid', uuid) : undefined) ?? (serial ? by('serial', serial) : undefined);
    return row ? toNode(row) : undefined;
  }

  /** Nodes in one lifecycle state, most recently seen first. */
  listNodesInState(state: NodeLifecycle, limit = 1000, offset = 0): NodeRecord[] {
    this.flushEvents();
    return this.db
      .prepare<[string, number, number], NodeRow>('SELECT * FROM nodes WHERE state = ? ORDER BY last_seen DESC LIMIT ? OFFSET ?')
      .all(state, limit, offset)
      .map(toNode);
  }

  countNodesInState(state: NodeLifecycle): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM nodes WHERE state = ?').get(state) as { n: number }).n;
  }

  installHistory(mac: string): InstallRecord[] {
    return this.db
      .prepare<[string], { id: number; mac: string; profile: string | null; armed_at: number | null; armed_by: string | null; consumed_at: number | null; installed_at: number | null; fqdn: string | null }>(
        'SELECT * FROM installs WHERE mac = ? ORDER BY id',
      )
      .all(mac)
      .map((r) => ({ id: r.id, mac: r.mac, profile: r.profile, armedAt: r.armed_at, armedBy: r.armed_by, consumedAt: r.consumed_at, installedAt: r.installed_at, fqdn: r.fqdn }));
  }

  // ---- events ----

  /** EventSink: events are batched and written within EVENT_FLUSH_MS (a hot path must not wait for fsync). */
  record(event: Omit<BootEvent, 'time'> & { time?: number }): void {
    const full = { ...event, time: event.time ?? this.now() };
    this.pending.push(full);
    this.scheduleFlush();
    this.observer?.eventRecorded(full);
  }

  /** One observer (the daemon's telemetry) sees every event as it is recorded. */
  observe(observer: StoreObserver | null): void {
    this.observer = observer;
  }

  /** Installs consumed and completed over the kept history, for metrics. */
  installCounts(): { consumed: number; completed: number } {
    const row = this.db.prepare<[], { consumed: number | null; completed: number | null }>('SELECT COUNT(consumed_at) AS consumed, COUNT(installed_at) AS completed FROM installs').get();
    return { consumed: row?.consumed ?? 0, completed: row?.completed ?? 0 };
  }

  private scheduleFlush(): void {
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flushEvents(), EVENT_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  flushEvents(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.pending.length === 0 && this.pendingTouches.size === 0) return;
    const batch = this.pending;
    const touches = [...this.pendingTouches.values()];
    this.pending = [];
    this.pendingTouches.clear();
    const started = performance.now();
    this.db.transaction(() => {
      for (const t of touches) this.stmts.touchNode.run(t);
      for (const e of batch) {
        this.stmts.insertEvent.run({
          time: e.time,
          mac: e.mac,
          protocol: e.protocol,
          kind: e.kind,
          decision: e.decision,
          reason: e.reason,
          detail: e.detail ? JSON.stringify(e.detail) : null,
        });
      }
      this.eventsSinceTrim += batch.length;
      if (this.eventsSinceTrim >= 1000) {
        this.eventsSinceTrim = 0;
        this.stmts.trimEvents.run(this.maxEvents);
      }
    })();
    this.observer?.eventsFlushed(batch.length, (performance.now() - started) / 1000);
  }

  /** Newest last. */
  events(query: { mac?: string; limit?: number; protocol?: EventProtocol; sinceId?: number } = {}): (BootEvent & { id: number })[] {
    this.flushEvents();
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.mac) {
      where.push('mac = ?');
      args.push(query.mac);
    }
    if (query.protocol) {
      where.push('protocol = ?');
      args.push(query.protocol);
    }
    if (query.sinceId !== undefined) {
      where.push('id > ?');
      args.push(query.sinceId);
    }
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const sql = `SELECT * FROM (SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ${limit}) ORDER BY id`;
    return this.db
      .prepare(sql)
      .all(...args)
      .map((r) => {
        const row = r as { id: number; time: number; mac: string | null; protocol: EventProtocol; kind: string; decision: string; reason: string; detail: string | null };
        return {
          id: row.id,
          time: row.time,
          mac: row.mac,
          protocol: row.protocol,
          kind: row.kind,
          decision: row.decision,
          reason: row.reason,
          ...(row.detail ? { detail: JSON.parse(row.detail) as Record<string, unknown> } : {}),
        };
      });
  }

  close(): void {
    this.flushEvents();
    this.db.close();
  }
}
