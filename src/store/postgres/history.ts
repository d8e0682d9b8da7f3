// One machine's story as the whole fleet recorded it, read from PostgreSQL for explain (the CLI and
// GET /nodes/<mac>/explain): its own events and the newest events of every protocol (TFTP names no
// MAC; explain's hints read what other machines did), kept in memory as a read-only EventLog, so
// src/explain.ts reads the fleet's log through the same ports as a single appliance's.
import type pg from 'pg';
import type { EventProtocol } from '../../boot/events.ts';
import type { EventLog, EventQuery, NodeLookup, NodeRecord, StoredEvent } from '../../boot/ports.ts';
import { eventFromRow, type EventRow } from '../records.ts';
import { toNode, type NodeRow } from './rows.ts';

const PROTOCOLS: readonly EventProtocol[] = ['dhcp', 'proxydhcp', 'tftp', 'http', 'answer', 'webhook', 'admin', 'daemon', 'agent'];
/** At least what explain asks for: 1000 events of the machine, 5000 TFTP transfers, 2000 of other protocols. */
const PER_MACHINE = 1000;
const PER_PROTOCOL: Partial<Record<EventProtocol, number>> = { tftp: 5000 };
const DEFAULT_PER_PROTOCOL = 2000;

/** PostgreSQL hands detail back as parsed jsonb. */
function fromRow(row: EventRow): StoredEvent {
  return eventFromRow(row, row.detail);
}

/** A read-only snapshot: events() answers like the live log for the queries it was read for. */
export class HistorySnapshot implements EventLog, NodeLookup {
  /** Oldest first, unique by id. */
  private readonly all: StoredEvent[];

  constructor(
    events: StoredEvent[],
    private readonly mac: string,
    private readonly node: NodeRecord | undefined,
  ) {
    const byId = new Map(events.map((e) => [e.id, e]));
    this.all = [...byId.values()].sort((a, b) => a.id - b.id);
  }

  getNode(mac: string): NodeRecord | undefined {
    return mac === this.mac ? this.node : undefined;
  }

  events(query: EventQuery = {}): StoredEvent[] {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const found = this.all.filter(
      (e) => (!query.mac || e.mac === query.mac) && (!query.protocol || e.protocol === query.protocol) && (query.sinceId === undefined || e.id > query.sinceId),
    );
    return found.slice(-limit);
  }

  /** A snapshot records nothing: explain only reads. */
  record(): void {}
}

/**
 * Reads `mac`'s history from the shared tables. `node`: the node as the caller knows it (a
 * daemon's mirror); undefined: read from the nodes table.
 */
export async function readHistory(db: pg.Pool | pg.ClientBase, mac: string, node?: NodeRecord): Promise<HistorySnapshot> {
  const select = 'SELECT id, time, appliance, mac, protocol, kind, decision, reason, detail, code FROM events';
  const reads: Promise<pg.QueryResult<EventRow>>[] = [db.query<EventRow>(`${select} WHERE mac = $1 ORDER BY id DESC LIMIT $2`, [mac, PER_MACHINE])];
  for (const protocol of PROTOCOLS)
    reads.push(db.query<EventRow>(`${select} WHERE protocol = $1 ORDER BY id DESC LIMIT $2`, [protocol, PER_PROTOCOL[protocol] ?? DEFAULT_PER_PROTOCOL]));
  const nodeRead = node
    ? Promise.resolve(node)
    : db.query<NodeRow>('SELECT * FROM nodes WHERE mac = $1', [mac]).then((r) => (r.rows[0] ? toNode(r.rows[0]) : undefined));
  const [results, known] = await Promise.all([Promise.all(reads), nodeRead]);
  return new HistorySnapshot(
    results.flatMap((r) => r.rows.map(fromRow)),
    mac,
    known,
  );
}
