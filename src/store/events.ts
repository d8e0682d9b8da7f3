// The event log in SQLite: record() queues into the write-behind batch, events() reads (after a flush).
import type { BootEvent, EventProtocol, NewEvent, ReasonCode } from '../boot/events.ts';
import type { EventLog, EventQuery, StoredEvent } from '../boot/ports.ts';
import type { WriteBehind } from './batch.ts';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.ts';

interface EventRow {
  id: number;
  time: number;
  mac: string | null;
  protocol: EventProtocol;
  kind: string;
  decision: string;
  reason: string;
  detail: string | null;
  code: ReasonCode | null;
}

/** Events written between trims of the oldest past the cap. */
const TRIM_EVERY = 1000;

export class SqliteEventLog implements EventLog {
  private pendingEvents: BootEvent[] = [];
  private sinceTrim = 0;
  /** Events the last batch wrote (for the store's observer). */
  lastWritten = 0;
  private readonly insert;
  private readonly trim;
  private readonly selects = new Map<string, Statement<(string | number)[], EventRow>>();

  constructor(
    private readonly db: Db,
    private readonly batch: WriteBehind,
    private readonly now: () => number,
    /** Events kept; the oldest are dropped past this. */
    private readonly maxEvents: number,
  ) {
    this.insert = db.prepare('INSERT INTO events (time, mac, protocol, kind, decision, reason, detail, code) VALUES (@time, @mac, @protocol, @kind, @decision, @reason, @detail, @code)');
    this.trim = db.prepare('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?');
    batch.add({ pending: () => this.pendingEvents.length > 0, write: () => this.write() });
  }

  /** Queued; written within the batch delay (a hot path must not wait for fsync). Returns the event as queued, time stamped. */
  record(event: NewEvent): BootEvent {
    const recorded = { ...event, time: event.time ?? this.now() };
    this.pendingEvents.push(recorded);
    this.batch.schedule();
    return recorded;
  }

  private write(): void {
    const events = this.pendingEvents;
    this.pendingEvents = [];
    this.lastWritten = events.length;
    for (const e of events) {
      this.insert.run({ time: e.time, mac: e.mac, protocol: e.protocol, kind: e.kind, decision: e.decision, reason: e.reason, detail: e.detail ? JSON.stringify(e.detail) : null, code: e.code ?? null });
    }
    this.sinceTrim += events.length;
    if (this.sinceTrim >= TRIM_EVERY) {
      this.sinceTrim = 0;
      this.trim.run(this.maxEvents);
    }
  }

  /** One prepared statement per combination of filters (at most eight). */
  private select(where: string[]) {
    const key = where.join(' AND ');
    let stmt = this.selects.get(key);
    if (!stmt) {
      stmt = this.db.prepare<(string | number)[], EventRow>(`SELECT * FROM (SELECT * FROM events ${key ? `WHERE ${key}` : ''} ORDER BY id DESC LIMIT ?) ORDER BY id`);
      this.selects.set(key, stmt);
    }
    return stmt;
  }

  /** Newest last. */
  events(query: EventQuery = {}): StoredEvent[] {
    this.batch.flush();
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
    args.push(Math.max(1, Math.min(query.limit ?? 100, 10_000)));
    return this.select(where)
      .all(...args)
      .map(
        (row) =>
          ({
            id: row.id,
            time: row.time,
            mac: row.mac,
            protocol: row.protocol,
            kind: row.kind,
            decision: row.decision,
            reason: row.reason,
            ...(row.code ? { code: row.code } : {}),
            // Written by record() from the same protocol's detail type.
            ...(row.detail ? { detail: JSON.parse(row.detail) as unknown } : {}),
          }) as StoredEvent,
      );
  }
}
