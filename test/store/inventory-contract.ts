// Inventory, enrolment and agent sessions as both stores must keep them (test/store/inventory.test.ts
// runs this against SQLite and PostgreSQL, as contract.ts does for the lifecycle).
import assert from 'node:assert/strict';
import type { AgentSessions, Enrolment, NodeStore } from '../../src/boot/ports.ts';
import { inventoryDoc } from '../helpers/inventory-doc.ts';

export const MAC = '52:54:00:1e:00:01';
export const ENROLMENT: Enrolment = {
  hostname: 'rr-0042',
  profile: 'proxmox-ve/9.1-1',
  action: 'install',
  bmc: null,
  enrolledAt: 1_700_000_000_000,
  enrolledBy: 'admin',
  // The agent-created BMC user's request and outcome are kept with it (docs/power.md).
  createBmcUser: true,
  bmcUser: { at: 1_700_000_100_000, error: null },
  // A deploy's network-config and disk (docs/deploy.md), kept as given.
  network: { netAddress: '10.0.1.27/24', netGateway: '10.0.1.1', netBond: 'eno1, eno2', netVlan: '42' },
  installDisk: 'model:*NVMe*',
};

export type Opened = NodeStore & { agentSessions: AgentSessions; close(): void | Promise<void> };

export interface Backend {
  name: string;
  skip: false | string;
  /** A store on the data named `key`: the same key opens the same data again (a restart, or another appliance). */
  open(key: string, options?: { maxUnknownNodes?: number; now?: () => number; agentSessionMs?: number }): Promise<Opened>;
  /** Everything written behind is written. */
  settle(store: Opened): Promise<void>;
}

/** Each case, run against one backend by a test of test/store/inventory.test.ts. */
export const inventoryCases = {
  /** An inventory is stored durably, one per agent session, and read back after a reopen. */
  async durable(backend: Backend): Promise<void> {
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
  },

  /** Two posts of one session racing: exactly one is stored. */
  async race(backend: Backend): Promise<void> {
    const store = await backend.open('race');
    try {
      const results = await Promise.all([1, 2, 3].map((m) => store.setInventory(MAC, inventoryDoc({ memoryBytes: m }), 'same')));
      assert.equal(results.filter((r) => !r.duplicate).length, 1);
    } finally {
      await store.close();
    }
  },

  /** An enrolment is set, read back after a reopen, and removed; an unknown node is not enrolled. */
  async enrolment(backend: Backend): Promise<void> {
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
  },

  /** An inspected or enrolled machine is never evicted as a stranger. */
  async strangers(backend: Backend): Promise<void> {
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
  },

  /** Agent sessions: a new mint revokes the earlier one, a wrong token is refused, a session expires and survives a reopen. */
  async sessions(backend: Backend): Promise<void> {
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
  },
};
