// Opening the SQLite file: durability settings and the schema. Only src/store holds the handle.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cannotRead, denialHere, describeDenial } from '../net/readable-as.ts';
import { migrate } from './migrations.ts';

export type Db = Database.Database;

/** Opens (creating) `<stateDir>/pxe-pilot.sqlite`, or an in-memory database for ':memory:'; migrated. */
export function openDatabase(stateDir: string): Db {
  let path = ':memory:';
  if (stateDir !== ':memory:') {
    // A folder this account may not use is said as that (path, account, errno), not as SQLite's "unable to open database file".
    try {
      mkdirSync(stateDir, { recursive: true });
    } catch (err) {
      throw new Error(cannotRead(stateDir, err, 'state folder') ?? `cannot create the state folder ${stateDir}: ${(err as Error).message}`, { cause: err });
    }
    path = join(stateDir, 'pxe-pilot.sqlite');
    const denial = denialHere({ path: stateDir, need: 'state folder' }) ?? denialHere({ path, need: 'state file' });
    if (denial) throw new Error(describeDenial(denial));
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // FULL: a committed lease or install flag survives power loss, not just a process crash.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}
