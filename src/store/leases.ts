// DHCP leases in SQLite. (Schema placeholder: the DHCP server's lease store lives here.)
import type { Migration } from './migrations.ts';

export const LEASE_MIGRATIONS: Migration[] = [
  {
    version: 2,
    sql: `
      CREATE TABLE leases (
        ip         TEXT PRIMARY KEY,
        mac        TEXT NOT NULL,
        client_id  TEXT,
        hostname   TEXT,
        state      TEXT NOT NULL CHECK (state IN ('offered','bound','declined','released')),
        expires_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX leases_mac ON leases (mac);
    `,
  },
];
