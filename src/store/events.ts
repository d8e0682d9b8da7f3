// The event log in SQLite: record() queues into the group commit (batch.ts) with its id given at
// once, and events() reads the table plus the queue, so a read never waits for a flush.
import type { NewEvent } from '../boot/events.ts';
import type { EventLog, EventQuery, StoredEvent } from '../boot/ports.ts';
import type { BatchWriter, WriteBehind } from './batch.ts';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';
import { eventFromRow, type EventRow } from './records.ts';

/** Events written between trims of the oldest past the cap. */
const TRIM_EVERY = 1000;

function matches(e: StoredEvent, query: EventQuery): boolean {
  return (!query.mac || e.mac === query.mac) && (!query.protocol || e.protocol === query.protocol) && (query.sinceId === undefined || e.id > query.sinceId);
}

function fromRow(row: EventRow): StoredEvent {
  return eventFromRow(row, typeof row.detail === 'string' ? (JSON.parse(row.detail) as unknown) : null);
}

/** A queued event as the table would give it back (no empty code or detail, the detail a copy). */
function asRead(e: StoredEvent): StoredEvent {
  return fromRow({
    id: e.id,
    time: e.time,
    mac: e.mac ?? null,
    protocol: e.protocol,
    kind: e.kind,
    decision: e.decision,
    reason: e.reason,
    detail: e.detail ? JSON.stringify(e.detail) : null,
    code: e.code ?? null,
  });
}

export class SqliteEventLog implements EventLog, BatchWriter {
  private queued: StoredEvent[] = [];
  private writing: StoredEvent[] = [];
  /** Events the last batch wrote (for the store's observer). */
  lastWritten = 0;
  private nextId: number;
  private sinceTrim = 0;
  /** Events written per MAC since its last trim (bounded: forgotten past 100,000 MACs). */
  private readonly machineWrites = new Map<string, number>();
  private readonly insert;
  private readonly trim;
  private readonly trimMachine;
  private readonly selects = new Map<string, Statement<(string | number)[], EventRow>>();

  constructor(
    private readonly db: Db,
    private readonly batch: WriteBehind,
    private readonly now: () => number,
    /** Events kept; the oldest are dropped past this. */
    private readonly maxEvents: number,
    /** Events kept per machine: one machine in a boot loop must not push out everyone's history. */
    private readonly maxEventsPerMachine: number,
  ) {
    this.insert = db.prepare('INSERT INTO events (id, time, mac, protocol, kind, decision, reason, detail, code) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.trim = db.prepare('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?');
    this.trimMachine = db.prepare(
      'DELETE FROM events WHERE mac = @mac AND id <= (SELECT id FROM events WHERE mac = @mac ORDER BY id DESC LIMIT 1 OFFSET @keep)',
    );
    this.nextId = (db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM events').get()?.id ?? 0) + 1;
    batch.add(this);
  }

  /** Queued; written within the batch delay (a hot path must not wait for fsync). */
  record(event: NewEvent): StoredEvent {
    const recorded = { ...event, id: this.nextId++, time: event.time ?? this.now() };
    this.queued.push(recorded);
    this.batch.schedule();
    return recorded;
  }

  pending(): boolean {
    return this.queued.length > 0;
  }

  write(): void {
    this.writing = this.queued;
    this.queued = [];
    this.lastWritten = this.writing.length;
    for (const e of this.writing) {
      // Positional binds: better-sqlite3 binds them without matching names (the batch's hot loop).
      this.insert.run(e.id, e.time, e.mac ?? null, e.protocol, e.kind, e.decision, e.reason, e.detail ? JSON.stringify(e.detail) : null, e.code ?? null);
    }
    this.trimMachines(this.writing);
    this.sinceTrim += this.writing.length;
    if (this.sinceTrim >= TRIM_EVERY) {
      this.sinceTrim = 0;
      this.trim.run(this.maxEvents);
    }
  }

  /** Keeps each machine's newest maxEventsPerMachine events; checked every tenth of that per MAC. */
  private trimMachines(events: readonly StoredEvent[]): void {
    const every = Math.max(1, Math.floor(this.maxEventsPerMachine / 10));
    for (const e of events) {
      if (!e.mac) continue;
      const n = (this.machineWrites.get(e.mac) ?? 0) + 1;
      if (n < every) {
        this.machineWrites.set(e.mac, n);
        continue;
      }
      this.machineWrites.delete(e.mac);
      this.trimMachine.run({ mac: e.mac, keep: this.maxEventsPerMachine });
    }
    if (this.machineWrites.size > 100_000) this.machineWrites.clear();
  }

  committed(): void {
    this.writing = [];
  }

  failed(): void {
    // Written again with the next batch.
    this.queued = [...this.writing, ...this.queued];
    this.writing = [];
  }

  /** One prepared statement per combination of filters (at most eight). */
  private select(where: string[]) {
    const key = where.join(' AND ');
    let stmt = this.selects.get(key);
    if (!stmt) {
      stmt = this.db.prepare<(string | number)[], EventRow>(
        `SELECT * FROM (SELECT * FROM events ${key ? `WHERE ${key}` : ''} ORDER BY id DESC LIMIT ?) ORDER BY id`,
      );
      this.selects.set(key, stmt);
    }
    return stmt;
  }

  /** Newest last: the table's newest, then the queue's (ids given in order, so the queue is newer). */
  events(query: EventQuery = {}): StoredEvent[] {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const queued = this.queued
      .filter((e) => matches(e, query))
      .slice(-limit)
      .map(asRead);
    if (queued.length === limit) return queued;
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
    args.push(limit - queued.length);
    return [
      ...this.select(where)
        .all(...args)
        .map(fromRow),
      ...queued,
    ];
  }
}
