// Inventory, enrolment and agent sessions in both stores: written durably, read back after a
// reopen, one inventory per agent session, never evicted as a stranger, and (PostgreSQL) seen by
// another appliance at once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Enrolment, NodeStore, AgentSessions } from '../../src/boot/ports.ts';
import { Store } from '../../src/store/store.ts';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteLeases } from '../../src/store/leases.ts';
import { WriteBehind } from '../../src/store/batch.ts';
import { PostgresStore } from '../../src/store/postgres/store.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';
import { inventoryDoc } from '../helpers/inventory-doc.ts';

const MAC = '52:54:00:1e:00:01';
const ENROLMENT: Enrolment = {
  hostname: 'rr-0042',
  profile: 'proxmox-ve/9.1-1',
  action: 'install',
  bmc: null,
  enrolledAt: 1_700_000_000_000,
  enrolledBy: 'admin',
};

type Opened = NodeStore & { agentSessions: AgentSessions; close(): void | Promise<void> };

interface Backend {
  name: string;
  skip: false | string;
  /** A fresh store; `again` reopens the same one (SQLite: the file; PostgreSQL: another appliance on the database). */
  open(key: string, options?: { maxUnknownNodes?: number; now?: () => number; agentSessionMs?: number }): Promise<Opened>;
  settle(store: Opened): Promise<void>;
}

const pgSkip = skipUnlessPostgres();
let server: TestPostgres | undefined;
const dirs: string[] = [];
const databases = new Map<string, string>();

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
        store: pgStoreSection(url, { appliance: `a${Math.random()}` }),
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

for (const backend of BACKENDS) {
  describe(`inventory and enrolment in ${backend.name}`, { skip: backend.skip }, () => {
    test('an inventory is stored durably, one per agent session, and read back after a reopen', async () => {
      const store = await backend.open('durable');
      const first = await store.setInventory(MAC, inventoryDoc(), 'session-1');
      assert.equal(first.duplicate, false);
      assert.equal(first.duplicate === false && first.previous, null, 'nothing before the first');
      assert.equal(store.getNode(MAC)?.inventory?.session, 'session-1');
      assert.equal(store.getNode(MAC)?.inventory?.document.disks[1]?.serial, 'NVMESER2');

      const replay = await store.setInventory(MAC, inventoryDoc({ memoryBytes: 1 }), 'session-1');
      assert.equal(replay.duplicate, true, 'a second inventory in the same session is refused');
      assert.equal(store.getNode(MAC)?.inventory?.document.memory.totalBytes, 8589934592, 'and changes nothing');

      const later = await store.setInventory(MAC, inventoryDoc({ memoryBytes: 4294967296 }), 'session-2');
      assert.equal(later.duplicate === false && later.previous?.session, 'session-1', 'the replaced inventory is handed back');
      await backend.settle(store);
      await store.close();

      const again = await backend.open('durable');
      try {
        const node = again.getNode(MAC);
        assert.equal(node?.inventory?.session, 'session-2');
        assert.equal(node?.inventory?.document.memory.totalBytes, 4294967296);
        assert.deepEqual(node?.inventory?.document, inventoryDoc({ memoryBytes: 4294967296 }));
      } finally {
        await again.close();
      }
    });

    test('two posts of one session racing: exactly one is stored', async () => {
      const store = await backend.open('race');
      try {
        const results = await Promise.all([1, 2, 3].map((m) => store.setInventory(MAC, inventoryDoc({ memoryBytes: m }), 'same')));
        assert.equal(results.filter((r) => !r.duplicate).length, 1);
      } finally {
        await store.close();
      }
    });

    test('an enrolment is set, read back after a reopen, and removed; an unknown node is not enrolled', async () => {
      const store = await backend.open('enrol');
      store.ensureNode(MAC);
      assert.deepEqual((await store.setEnrolment(MAC, ENROLMENT))?.enrolment, ENROLMENT);
      assert.equal(await store.setEnrolment('52:54:00:1e:00:99', ENROLMENT), undefined);
      assert.equal(store.getNode('52:54:00:1e:00:99'), undefined);
      await backend.settle(store);
      await store.close();
      const again = await backend.open('enrol');
      try {
        assert.deepEqual(again.getNode(MAC)?.enrolment, ENROLMENT);
        assert.equal((await again.setEnrolment(MAC, null))?.enrolment, null);
      } finally {
        await again.close();
      }
    });

    test('an inspected or enrolled machine is never evicted as a stranger', async () => {
      const store = await backend.open('strangers', { maxUnknownNodes: 5 });
      try {
        await store.setInventory('52:54:00:1e:01:01', inventoryDoc(), 's');
        store.ensureNode('52:54:00:1e:01:02');
        await store.setEnrolment('52:54:00:1e:01:02', ENROLMENT);
        for (let i = 0; i < 20; i++) store.sawNode(`06:00:00:00:00:${i.toString(16).padStart(2, '0')}`, {}, false);
        await backend.settle(store);
        assert.ok(store.getNode('52:54:00:1e:01:01'), 'the inspected machine stays');
        assert.ok(store.getNode('52:54:00:1e:01:02'), 'the enrolled machine stays');
        assert.equal(store.getNode('06:00:00:00:00:00'), undefined, 'a plain stranger is evicted');
      } finally {
        await store.close();
      }
    });

    test('agent sessions: a new mint revokes the earlier one, a wrong token is refused, a session expires and survives a reopen', async () => {
      let now = 1_800_000_000_000;
      const store = await backend.open('sessions', { now: () => now, agentSessionMs: 60_000 });
      const first = store.agentSessions.mint(MAC);
      assert.deepEqual(store.agentSessions.check(MAC, first.token), { ok: true, session: first.session });
      const second = store.agentSessions.mint(MAC);
      assert.notEqual(second.token, first.token);
      assert.notEqual(second.session, first.session);
      const revoked = store.agentSessions.check(MAC, first.token);
      assert.equal(revoked.ok, false, 'the earlier boot’s token no longer works');
      assert.match(!revoked.ok ? revoked.reason : '', /not .*current agent session/);
      assert.equal(store.agentSessions.check('52:54:00:1e:00:77', second.token).ok, false, 'another machine’s token is refused');
      assert.equal(store.agentSessions.check(MAC, 'x').ok, false);
      await backend.settle(store);
      await store.close();

      const again = await backend.open('sessions', { now: () => now, agentSessionMs: 60_000 });
      try {
        assert.deepEqual(again.agentSessions.check(MAC, second.token), { ok: true, session: second.session }, 'the session survives a restart');
        now += 60_000;
        const expired = again.agentSessions.check(MAC, second.token);
        assert.equal(expired.ok, false);
        assert.match(!expired.ok ? expired.reason : '', /expired/);
      } finally {
        await again.close();
      }
    });
  });
}

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
