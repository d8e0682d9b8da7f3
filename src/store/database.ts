// Opening the SQLite file: durability settings and the schema. Only src/store holds the handle.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrate } from './migrations.ts';

export type Db = Database.Database;

/** Opens (creating) `<stateDir>/pxe-pilot.sqlite`, or an in-memory database for ':memory:'; migrated. */
export function openDatabase(stateDir: string): Db {
  let path = ':memory:';
  if (stateDir !== ':memory:') {
    mkdirSync(stateDir, { recursive: true });
    path = join(stateDir, 'pxe-pilot.sqlite');
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // FULL: a committed lease or install flag survives power loss, not just a process crash.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}
