// Versioned schema. A migration is applied once, in one transaction, and recorded in
// PRAGMA user_version; never edit one that has shipped: append a new one. Every version lives here.
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE nodes (
        mac          TEXT PRIMARY KEY,
        hostname     TEXT,
        state        TEXT NOT NULL CHECK (state IN ('seen','install-pending','installing','installed')),
        profile      TEXT,
        local_boot   TEXT,
        armed_at     INTEGER,
        armed_by     TEXT,
        consumed_at  INTEGER,
        installed_at INTEGER,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        last_ip      TEXT,
        arch         INTEGER,
        firmware     TEXT,
        uuid         TEXT,
        serial       TEXT,
        fqdn         TEXT,
        boot_mode    TEXT,
        install_report TEXT
      );
      CREATE INDEX nodes_unknown_age ON nodes (installed_at, last_seen);
      CREATE TABLE installs (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        mac          TEXT NOT NULL,
        profile      TEXT,
        armed_at     INTEGER,
        armed_by     TEXT,
        consumed_at  INTEGER,
        installed_at INTEGER,
        fqdn         TEXT
      );
      CREATE INDEX installs_mac ON installs (mac, id);
      CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        time     INTEGER NOT NULL,
        mac      TEXT,
        protocol TEXT NOT NULL,
        kind     TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason   TEXT NOT NULL,
        detail   TEXT
      );
      CREATE INDEX events_mac ON events (mac, id);
    `,
  },
  // DHCP leases (src/store/leases.ts).
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
  // A reason code beside the sentence (src/boot/events.ts ReasonCode).
  {
    version: 3,
    sql: `ALTER TABLE events ADD COLUMN code TEXT;`,
  },
  // Issue 24: what the inspection agent reported, the enrolment, and the agent sessions (src/store/agent-sessions.ts).
  {
    version: 4,
    sql: `
      ALTER TABLE nodes ADD COLUMN inventory TEXT;
      ALTER TABLE nodes ADD COLUMN inventory_at INTEGER;
      ALTER TABLE nodes ADD COLUMN inventory_session TEXT;
      ALTER TABLE nodes ADD COLUMN enrolment TEXT;
      CREATE TABLE agent_sessions (
        mac        TEXT PRIMARY KEY,
        session    TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        minted_at  INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  // Issue 26: a failed disk image deploy leaves the node in deploy-failed. SQLite cannot change a
  // CHECK in place, so the table is rebuilt with the same columns in the same order.
  {
    version: 5,
    sql: `
      CREATE TABLE nodes_v5 (
        mac          TEXT PRIMARY KEY,
        hostname     TEXT,
        state        TEXT NOT NULL CHECK (state IN ('seen','install-pending','installing','installed','deploy-failed')),
        profile      TEXT,
        local_boot   TEXT,
        armed_at     INTEGER,
        armed_by     TEXT,
        consumed_at  INTEGER,
        installed_at INTEGER,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        last_ip      TEXT,
        arch         INTEGER,
        firmware     TEXT,
        uuid         TEXT,
        serial       TEXT,
        fqdn         TEXT,
        boot_mode    TEXT,
        install_report TEXT,
        inventory    TEXT,
        inventory_at INTEGER,
        inventory_session TEXT,
        enrolment    TEXT
      );
      INSERT INTO nodes_v5 SELECT * FROM nodes;
      DROP TABLE nodes;
      ALTER TABLE nodes_v5 RENAME TO nodes;
      CREATE INDEX nodes_unknown_age ON nodes (installed_at, last_seen);
    `,
  },
  // Issue 26, release wipe: a wipe armed (wipe-pending) and under way (wiping). Rebuilt as for 5.
  {
    version: 6,
    sql: `
      CREATE TABLE nodes_v6 (
        mac          TEXT PRIMARY KEY,
        hostname     TEXT,
        state        TEXT NOT NULL CHECK (state IN ('seen','install-pending','installing','installed','deploy-failed','wipe-pending','wiping')),
        profile      TEXT,
        local_boot   TEXT,
        armed_at     INTEGER,
        armed_by     TEXT,
        consumed_at  INTEGER,
        installed_at INTEGER,
        first_seen   INTEGER NOT NULL,
        last_seen    INTEGER NOT NULL,
        last_ip      TEXT,
        arch         INTEGER,
        firmware     TEXT,
        uuid         TEXT,
        serial       TEXT,
        fqdn         TEXT,
        boot_mode    TEXT,
        install_report TEXT,
        inventory    TEXT,
        inventory_at INTEGER,
        inventory_session TEXT,
        enrolment    TEXT
      );
      INSERT INTO nodes_v6 SELECT * FROM nodes;
      DROP TABLE nodes;
      ALTER TABLE nodes_v6 RENAME TO nodes;
      CREATE INDEX nodes_unknown_age ON nodes (installed_at, last_seen);
    `,
  },
];

/** Applies the migrations newer than the database's user_version, each in its own transaction. */
export function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
