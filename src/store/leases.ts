// DHCP leases in SQLite (schema version 2 in migrations.ts): the only SQL the DHCP server runs.
// Offers are not here: they are held in memory for seconds and never need to survive a crash.
import type { LeaseLog, LeaseRecord, LeaseState } from '../boot/ports.ts';
import type { WriteBehind } from './batch.ts';
import type { Db } from './database.ts';

interface LeaseRow {
  ip: string;
  client_key: string;
  mac: string;
  hostname: string | null;
  state: LeaseState;
  expires_at: number;
  updated_at: number;
}

function toRecord(row: LeaseRow): LeaseRecord {
  return {
    ip: row.ip,
    clientKey: row.client_key,
    mac: row.mac,
    hostname: row.hostname,
    state: row.state,
    expiresAt: row.expires_at,
    updatedAt: row.updated_at,
  };
}

export class SqliteLeases implements LeaseLog {
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly allStmt;
  private readonly byIpStmt;

  constructor(
    db: Db,
    private readonly batch: WriteBehind,
  ) {
    this.upsertStmt = db.prepare(
      `INSERT INTO leases (ip, client_key, mac, hostname, state, expires_at, updated_at)
       VALUES (@ip, @clientKey, @mac, @hostname, @state, @expiresAt, @updatedAt)
       ON CONFLICT (ip) DO UPDATE SET client_key = excluded.client_key, mac = excluded.mac, hostname = excluded.hostname,
         state = excluded.state, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    );
    this.deleteStmt = db.prepare('DELETE FROM leases WHERE ip = ?');
    this.allStmt = db.prepare<[], LeaseRow>('SELECT * FROM leases ORDER BY ip');
    this.byIpStmt = db.prepare<[string], LeaseRow>('SELECT * FROM leases WHERE ip = ?');
  }

  all(): LeaseRecord[] {
    return this.allStmt.all().map(toRecord);
  }

  get(ip: string): LeaseRecord | undefined {
    const row = this.byIpStmt.get(ip);
    return row ? toRecord(row) : undefined;
  }

  put(lease: LeaseRecord): void {
    this.upsertStmt.run(lease);
  }

  delete(ip: string): void {
    this.deleteStmt.run(ip);
  }

  /**
   * Runs `work` in one transaction of the group commit, with every node and event write pending
   * (throws when it fails). Durable (the default): the promise resolves once it is on disk (an
   * fsync off the event loop, shared with every commit made meanwhile). Not durable: committed
   * without waiting for the disk (synchronous=NORMAL, WAL stays consistent); the next durable
   * commit's fsync carries it too. Only for writes a power cut may lose, because the next packet
   * would write them again.
   */
  commit(work: () => void, options: { durable: boolean } = { durable: true }): Promise<void> {
    if (options.durable) return this.batch.commitThenSync(work);
    this.batch.flush(false, work);
    return Promise.resolve();
  }
}
