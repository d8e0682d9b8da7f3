// What every store behind the ports of src/boot/ports.ts does, whatever it runs on. Run by
// test/store/contract.test.ts against SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeStore } from '../../src/boot/ports.ts';

export interface ContractStore extends NodeStore {
  /** Resolves once queued writes are stored (no-op where they are written at once). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const MAC = '52:54:00:aa:00:01';
const OTHER = '52:54:00:aa:00:02';

/** What a contract check may ask of the store it opens. */
export interface ContractOptions {
  /** Never-installed nodes kept; the least recently seen are evicted past this. */
  maxUnknownNodes?: number;
}

export function storeContract(backend: string, open: (options?: ContractOptions) => Promise<ContractStore>, skip: false | string = false): void {
  const check = (name: string, body: (store: ContractStore) => Promise<void>, options?: ContractOptions): void => {
    test(`${backend}: ${name}`, { skip }, async () => {
      const store = await open(options);
      try {
        await body(store);
      } finally {
        await store.close();
      }
    });
  };

  check('a machine first heard from is seen, or install-pending when its profile arms it; facts are kept', async (store) => {
    assert.equal(store.getNode(MAC), undefined);
    assert.equal(store.sawNode(MAC, { ip: '10.0.0.5', serial: 'SN-1' }, false).state, 'seen');
    assert.equal(store.sawNode(OTHER, {}, true).state, 'install-pending');
    store.sawNode(MAC, { arch: 7 }, false);
    const node = store.getNode(MAC)!;
    assert.equal(node.lastIp, '10.0.0.5', 'a later sighting without an address keeps the known one');
    assert.equal(node.arch, 7);
    await store.settle();
    assert.equal(store.findNodeByHardware('sn-1', null)?.mac, MAC, 'serials match case-insensitively');
    assert.equal(store.countNodes(), 2);
    assert.equal(store.countNodesInState('install-pending'), 1);
    assert.deepEqual(
      store.listNodesInState('install-pending').map((n) => n.mac),
      [OTHER],
    );
  });

  check('an install is consumed once: the second consume does not apply', async (store) => {
    store.sawNode(MAC, {}, true);
    assert.equal((await store.applyChange(MAC, { kind: 'consume', profile: 'proxmox-ve/9.1-1' }))?.state, 'installing');
    assert.equal(store.getNode(MAC)?.state, 'installing');
    assert.equal(await store.applyChange(MAC, { kind: 'consume', profile: 'proxmox-ve/9.1-1' }), undefined, 'a stale read cannot consume twice');
    assert.equal((await store.applyChange(MAC, { kind: 'complete', fqdn: 'pve1.lab', bootMode: 'efi', report: { ok: true } }))?.state, 'installed');
    const node = store.getNode(MAC)!;
    assert.equal(node.state, 'installed');
    assert.equal(node.fqdn, 'pve1.lab');
    assert.deepEqual(node.installReport, { ok: true });
    const history = store.installHistory(MAC);
    assert.equal(history.length, 1);
    assert.equal(history[0]!.armedBy, 'profile');
    assert.equal(history[0]!.profile, 'proxmox-ve/9.1-1');
    assert.ok(history[0]!.consumedAt !== null && history[0]!.installedAt !== null);
  });

  check('re-arming by an admin starts a new install; cancelling it goes back to installed', async (store) => {
    await store.applyChange(MAC, { kind: 'complete', fqdn: null, bootMode: null, report: null });
    assert.equal((await store.applyChange(MAC, { kind: 'arm', profile: 'proxmox-ve/9.0-2', by: 'admin' }))?.state, 'install-pending');
    assert.equal(store.getNode(MAC)?.state, 'install-pending');
    assert.equal(store.getNode(MAC)?.profile, 'proxmox-ve/9.0-2');
    assert.equal((await store.applyChange(MAC, { kind: 'disarm', to: 'installed' }))?.state, 'installed');
    assert.equal(store.getNode(MAC)?.state, 'installed');
    assert.equal(await store.applyChange(MAC, { kind: 'disarm', to: 'seen' }), undefined, 'nothing to cancel any more');
    assert.equal(store.installHistory(MAC).length, 2);
  });

  check('a local-boot script is kept per node; an unknown node has none to set', async (store) => {
    store.ensureNode(MAC);
    assert.equal((await store.setLocalBoot(MAC, 'sanboot --no-describe --drive 0x80'))?.localBoot, 'sanboot --no-describe --drive 0x80');
    assert.equal(await store.setLocalBoot(OTHER, 'exit'), undefined);
    await store.settle();
    assert.equal(store.getNode(MAC)?.localBoot, 'sanboot --no-describe --drive 0x80');
  });

  check(
    'strangers cannot grow the node table without bound: the least recently seen never-installed nodes go, installed and armed ones stay',
    async (store) => {
      await store.applyChange('02:00:00:00:00:00', { kind: 'complete', fqdn: 'keep.lab', bootMode: null, report: null });
      await store.applyChange('02:00:00:00:00:01', { kind: 'arm', profile: 'proxmox-ve/9.1-1', by: 'admin' });
      const stranger = (i: number): string => `06:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      for (let i = 0; i < 300; i++) {
        store.sawNode(stranger(i), {}, false);
        if (i % 50 === 0) await store.settle();
      }
      // Seen again: no longer among the least recently seen.
      store.sawNode(stranger(1), {}, false);
      for (let i = 300; i < 330; i++) store.sawNode(stranger(i), {}, false);
      await store.settle();
      assert.equal(store.getNode(stranger(0)), undefined, 'the least recently seen stranger is evicted');
      assert.ok(store.getNode(stranger(1)), 'a stranger seen again stays');
      assert.ok(store.getNode(stranger(329)), 'the newest stranger stays');
      assert.equal(store.countNodesInState('seen'), 50, 'the cap holds');
      assert.equal(store.getNode('02:00:00:00:00:00')?.state, 'installed', 'installed nodes are never evicted');
      assert.equal(store.getNode('02:00:00:00:00:01')?.state, 'install-pending', 'armed nodes are never evicted');
      assert.equal(store.countNodes(), 52);
    },
    { maxUnknownNodes: 50 },
  );

  check('events read back newest last, by MAC and protocol', async (store) => {
    for (let i = 0; i < 5; i++) store.record({ mac: i % 2 ? MAC : OTHER, protocol: 'http', kind: 'GET /boot', decision: 'local', reason: `boot ${i}` });
    store.record({ mac: MAC, protocol: 'tftp', kind: 'RRQ', decision: 'served', reason: 'file' });
    await store.settle();
    assert.deepEqual(
      store.events({ mac: MAC, protocol: 'http' }).map((e) => e.reason),
      ['boot 1', 'boot 3'],
    );
    assert.deepEqual(
      store.events({ limit: 2 }).map((e) => e.reason),
      ['boot 4', 'file'],
    );
    const last = store.events({ limit: 1 })[0]!;
    store.record({ mac: null, protocol: 'daemon', kind: 'start', decision: 'started', reason: 'later' });
    assert.deepEqual(
      store.events({ sinceId: last.id }).map((e) => e.reason),
      ['later'],
    );
  });
}
