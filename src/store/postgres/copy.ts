// `pxe-pilot store copy`: one appliance's SQLite history (nodes, install history, events) into an
// empty, migrated PostgreSQL database, so a single appliance grows into a fleet without losing
// it. Leases are not copied: they stay with the appliance that handed them out (its own file);
// nor are agent sessions (each lasts one boot of the agent).
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { inTransaction } from './changes.ts';
import { SCHEMA_VERSION, schemaVersion } from './migrations.ts';

const CHUNK = 2000;

const fromJson = (text: unknown): unknown => (typeof text === 'string' ? (JSON.parse(text) as unknown) : null);

export interface CopyProgress {
  (table: string, copied: number, total: number): void;
}

/** A state dir holding pxe-pilot.sqlite, or the file itself. */
export function sqlitePath(path: string): string {
  return existsSync(path) && statSync(path).isDirectory() ? join(path, 'pxe-pilot.sqlite') : path;
}

export class CopyRefused extends Error {}

/** Copies everything in one transaction: a failed copy leaves the target as it was. */
export async function copySqliteToPostgres(file: string, pool: pg.Pool, appliance: string, progress: CopyProgress): Promise<Record<string, number>> {
  if (!existsSync(file)) throw new CopyRefused(`no SQLite store at ${file}`);
  const source = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return await inTransaction(pool, async (db) => {
      const version = await schemaVersion(db);
      if (version !== SCHEMA_VERSION)
        throw new CopyRefused(`the target's schema is version ${version}, not ${SCHEMA_VERSION}: run pxe-pilot store migrate first`);
      const existing = await db.query<{ n: number }>('SELECT (SELECT count(*) FROM nodes) + (SELECT count(*) FROM events) AS n');
      if (Number(existing.rows[0]!.n) > 0)
        throw new CopyRefused('the target already holds nodes or events: copy into an empty database only (nothing was written)');
      const copied: Record<string, number> = {};
      const tables: [string, string, (row: Record<string, unknown>) => Record<string, unknown>][] = [
        [
          'nodes',
          'SELECT * FROM nodes',
          // JSON text in SQLite, jsonb here (a file of an older schema has no inventory nor enrolment: NULL).
          (r) => ({ ...r, install_report: fromJson(r.install_report), inventory: fromJson(r.inventory), enrolment: fromJson(r.enrolment) }),
        ],
        ['installs', 'SELECT * FROM installs ORDER BY id', (r) => r],
        [
          'events',
          'SELECT * FROM events ORDER BY id',
          (r) => ({ ...r, appliance, detail: typeof r.detail === 'string' ? (JSON.parse(r.detail) as unknown) : null }),
        ],
      ];
      for (const [table, select, convert] of tables) {
        const total = (source.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        let done = 0;
        let chunk: Record<string, unknown>[] = [];
        const write = async (): Promise<void> => {
          await db.query(`INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(NULL::${table}, $1::jsonb)`, [JSON.stringify(chunk)]);
          done += chunk.length;
          chunk = [];
          progress(table, done, total);
        };
        for (const row of source.prepare(select).iterate() as Iterable<Record<string, unknown>>) {
          chunk.push(convert(row));
          if (chunk.length >= CHUNK) await write();
        }
        if (chunk.length) await write();
        if (table !== 'nodes') await db.query(`SELECT setval(pg_get_serial_sequence('${table}', 'id'), GREATEST((SELECT max(id) FROM ${table}), 1))`);
        copied[table] = done;
      }
      return copied;
    });
  } finally {
    source.close();
  }
}
