// The stranger bound in a fleet: one appliance's eviction deletes from the shared table, and the
// other appliances' mirrors follow (the delete is announced like any node change).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteLeases } from '../../src/store/leases.ts';
import { WriteBehind } from '../../src/store/batch.ts';
import { PostgresStore } from '../../src/store/postgres/store.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';

const skip = skipUnlessPostgres();
let server: TestPostgres | undefined;

before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.destroy());

async function open(url: string, appliance: string, maxUnknownNodes?: number): Promise<PostgresStore> {
  const db = openDatabase(':memory:');
  return PostgresStore.open({
    store: pgStoreSection(url, { appliance }),
    logger: quietLogger(),
    leases: new SqliteLeases(db, new WriteBehind(db)),
    closeLeases: () => db.close(),
    ...(maxUnknownNodes ? { maxUnknownNodes } : {}),
  });
}

test('strangers evicted by one appliance leave the shared table and the other appliance too', { skip }, async () => {
  const url = await server!.createDatabase('strangers');
  const a = await open(url, 'boot-a', 50);
  const b = await open(url, 'boot-b');
  try {
    for (let i = 0; i < 300; i++) a.sawNode(`06:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, {}, false);
    await a.drain();
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const rows = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM nodes WHERE state = 'seen'");
      assert.equal(rows.rows[0]!.n, 50, 'the shared table holds the bound');
    } finally {
      await db.end();
    }
    const end = Date.now() + 20_000;
    while (b.countNodes() !== 50 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.countNodes(), 50, "B's mirror follows the deletes");
    assert.ok(b.getNode('06:00:00:00:01:2b'), 'the newest stranger is on B too');
  } finally {
    await a.close();
    await b.close();
  }
});
