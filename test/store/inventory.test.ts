// Inventory, enrolment and agent sessions in both stores: written durably, read back after a
// reopen, one inventory per agent session, never evicted as a stranger, and (PostgreSQL) seen by
// another appliance at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/store.ts';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteLeases } from '../../src/store/leases.ts';
import { WriteBehind } from '../../src/store/batch.ts';
import { PostgresStore } from '../../src/store/postgres/store.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';
import { inventoryDoc } from '../helpers/inventory-doc.ts';
import { testProfile } from '../helpers/profile.ts';
import { openStore } from '../../src/store/open.ts';
import { silentLogger } from '../../src/log.ts';
import { ENROLMENT, inventoryCases, MAC, type Backend } from './inventory-contract.ts';

const pgSkip = skipUnlessPostgres();
let server: TestPostgres | undefined;
const dirs: string[] = [];
const databases = new Map<string, string>();
let appliances = 0;

before(async () => {
  if (!pgSkip) server = await startPostgres();
});
after(() => {
  server?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sqliteDirs = new Map<string, string>();
const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    skip: false,
    async open(key, options = {}) {
      let dir = sqliteDirs.get(key);
      if (!dir) {
        dir = mkdtempSync(join(tmpdir(), 'pxp-inventory-'));
        dirs.push(dir);
        sqliteDirs.set(key, dir);
      }
      return Store.open(dir, options);
    },
    async settle() {},
  },
  {
    name: 'PostgreSQL',
    skip: pgSkip,
    async open(key, options = {}) {
      let url = databases.get(key);
      if (!url) {
        url = await server!.createDatabase(`inv_${databases.size}`);
        databases.set(key, url);
      }
      const db = openDatabase(':memory:');
      return PostgresStore.open({
        store: pgStoreSection(url, { appliance: `appliance-${++appliances}` }),
        logger: quietLogger(),
        leases: new SqliteLeases(db, new WriteBehind(db)),
        closeLeases: () => db.close(),
        ...options,
      });
    },
    async settle(store) {
      await (store as PostgresStore).drain();
    },
  },
];

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SQLite: an inventory is stored durably, one per agent session, and read back after a reopen', { skip: BACKENDS[0]!.skip }, () =>
  inventoryCases.durable(BACKENDS[0]!),
);
test('PostgreSQL: an inventory is stored durably, one per agent session, and read back after a reopen', { skip: BACKENDS[1]!.skip }, () =>
  inventoryCases.durable(BACKENDS[1]!),
);
test('SQLite: two posts of one session racing: exactly one is stored', { skip: BACKENDS[0]!.skip }, () => inventoryCases.race(BACKENDS[0]!));
test('PostgreSQL: two posts of one session racing: exactly one is stored', { skip: BACKENDS[1]!.skip }, () => inventoryCases.race(BACKENDS[1]!));
test('SQLite: an enrolment is set, read back after a reopen, and removed; an unknown node is not enrolled', { skip: BACKENDS[0]!.skip }, () =>
  inventoryCases.enrolment(BACKENDS[0]!),
);
test('PostgreSQL: an enrolment is set, read back after a reopen, and removed; an unknown node is not enrolled', { skip: BACKENDS[1]!.skip }, () =>
  inventoryCases.enrolment(BACKENDS[1]!),
);
test('SQLite: an inspected or enrolled machine is never evicted as a stranger', { skip: BACKENDS[0]!.skip }, () => inventoryCases.strangers(BACKENDS[0]!));
test('PostgreSQL: an inspected or enrolled machine is never evicted as a stranger', { skip: BACKENDS[1]!.skip }, () => inventoryCases.strangers(BACKENDS[1]!));
test(
  'SQLite: agent sessions: a new mint revokes the earlier one, a wrong token is refused, a session expires and survives a reopen',
  { skip: BACKENDS[0]!.skip },
  () => inventoryCases.sessions(BACKENDS[0]!),
);
test(
  'PostgreSQL: agent sessions: a new mint revokes the earlier one, a wrong token is refused, a session expires and survives a reopen',
  { skip: BACKENDS[1]!.skip },
  () => inventoryCases.sessions(BACKENDS[1]!),
);

describe('a fleet sees inventories, enrolments and agent sessions at once', { skip: pgSkip }, () => {
  test('minted and stored on appliance A, checked and read on appliance B', async () => {
    const a = await BACKENDS[1]!.open('fleet');
    const b = await BACKENDS[1]!.open('fleet');
    try {
      const minted = a.agentSessions.mint(MAC);
      await waitFor('B to know the session', () => b.agentSessions.check(MAC, minted.token).ok);
      await a.setInventory(MAC, inventoryDoc(), minted.session);
      await waitFor("B's mirror to hold the inventory", () => b.getNode(MAC)?.inventory?.session === minted.session);
      const replay = await b.setInventory(MAC, inventoryDoc(), minted.session);
      assert.equal(replay.duplicate, true, 'B refuses the same session a second inventory');
      await b.setEnrolment(MAC, ENROLMENT);
      await waitFor("A's mirror to hold the enrolment", () => a.getNode(MAC)?.enrolment?.hostname === 'rr-0042');
      const next = b.agentSessions.mint(MAC);
      await waitFor('A to see the new boot revoke the old session', () => !a.agentSessions.check(MAC, minted.token).ok);
      assert.equal(a.agentSessions.check(MAC, next.token).ok, true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

test('[agent] session_minutes is how long a session minted by the daemon’s store lasts', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'pxp-inventory-'));
  dirs.push(stateDir);
  const store = await openStore(testProfile({ server: { stateDir }, agent: { sessionMinutes: 5 } }), silentLogger());
  try {
    const before = Date.now();
    const { expiresAt } = store.agentSessions.mint(MAC);
    assert.ok(expiresAt >= before + 5 * 60_000 && expiresAt <= Date.now() + 5 * 60_000, `expires ${expiresAt - before} ms after the mint`);
  } finally {
    await store.close();
  }
});
