// DHCP leases in SQLite: the schema and the only SQL the DHCP server runs.
// Offers are not here: they are held in memory for seconds and never need to survive a crash.
import type Database from 'better-sqlite3';
import type { Migration } from './migrations.ts';

export const LEASE_MIGRATIONS: Migration[] = [
  {
    version: 2,
    sql: `
      CREATE TABLE leases (
        ip         TEXT PRIMARY KEY,
        client_key TEXT NOT NULL,
        mac        TEXT NOT NULL,
        hostname   TEXT,
        state      TEXT NOT NULL CHECK (state IN ('bound','declined','released')),
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX leases_client ON leases (client_key);
      CREATE INDEX leases_mac ON leases (mac);
    `,
  },
];

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

export class LeaseStore {
  private readonly db: Database.Database;
  private readonly upsertStmt;
  private readonly deleteStmt;
  private readonly allStmt;
  private readonly byIpStmt;

  constructor(db: Database.Database) {
    this.db = db;
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
   * Runs `work` in one transaction. Durable (the default): on disk when this returns
   * (synchronous=FULL). Not durable: committed without waiting for the disk (synchronous=NORMAL,
   * WAL stays consistent); the next durable commit's fsync carries it too. Only for writes a
   * power cut may lose, because the next packet would write them again.
   */
  commit(work: () => void, options: { durable: boolean } = { durable: true }): void {
    if (options.durable) {
      this.db.transaction(work)();
      return;
    }
    this.db.pragma('synchronous = NORMAL');
    try {
      this.db.transaction(work)();
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }
}
