import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.ts';

test('strangers cannot grow the node table without bound: the oldest never-installed nodes go first', async () => {
  let t = 1000;
  const store = Store.open(':memory:', { maxUnknownNodes: 50, now: () => t++ });
  await store.applyChange('02:00:00:00:00:00', { kind: 'complete', fqdn: 'keep.lab', bootMode: null, report: null });
  await store.applyChange('02:00:00:00:00:01', { kind: 'arm', profile: 'proxmox-ve/9.1-1', by: 'admin' });
  const stranger = (i: number): string => `06:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  for (let i = 0; i < 500; i++) store.sawNode(stranger(i), {}, false);
  assert.equal(store.getNode(stranger(0)), undefined, 'the oldest stranger is evicted');
  assert.ok(store.countNodes() <= 52, `nodes: ${store.countNodes()}`);
  assert.equal(store.getNode('02:00:00:00:00:00')?.state, 'installed', 'installed nodes are never evicted');
  assert.equal(store.getNode('02:00:00:00:00:01')?.state, 'install-pending', 'armed nodes are never evicted');
  assert.ok(store.getNode(stranger(499)), 'the newest stranger is kept');
  store.close();
});

test('committed state survives a reopen; last-seen facts are flushed with the events', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-store-'));
  try {
    const a = Store.open(dir);
    a.sawNode('52:54:00:00:00:01', { ip: '10.0.0.5' }, true);
    await a.applyChange('52:54:00:00:00:01', { kind: 'consume', profile: 'proxmox-ve/9.1-1' });
    a.sawNode('52:54:00:00:00:01', { ip: '10.0.0.6', arch: 7 }, true);
    assert.equal(a.getNode('52:54:00:00:00:01')?.lastIp, '10.0.0.6', 'a read sees a touch not yet flushed');
    a.record({ mac: '52:54:00:00:00:01', protocol: 'http', kind: 'GET /boot', decision: 'local', reason: 'r' });
    a.close();
    const b = Store.open(dir);
    const n = b.getNode('52:54:00:00:00:01');
    assert.equal(n?.state, 'installing');
    assert.equal(n?.lastIp, '10.0.0.6');
    assert.equal(n?.arch, 7);
    assert.equal(b.events({ mac: '52:54:00:00:00:01' }).length, 1);
    assert.deepEqual(
      b.installHistory('52:54:00:00:00:01').map((i) => [i.armedBy, i.profile, i.consumedAt !== null]),
      [['profile', 'proxmox-ve/9.1-1', true]],
    );
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events are capped, oldest dropped', () => {
  const store = Store.open(':memory:', { maxEvents: 100 });
  for (let i = 0; i < 2500; i++) store.record({ mac: null, protocol: 'tftp', kind: 'RRQ', decision: 'served', reason: `n${i}` });
  store.flushEvents();
  const all = store.events({ limit: 10_000 });
  assert.ok(all.length <= 1100, `kept ${all.length}`);
  assert.equal(all.at(-1)?.reason, 'n2499');
  store.close();
});

test('reads come from memory and never wait: a read right after a write sees it, before any flush', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-store-'));
  try {
    const a = Store.open(dir);
    const mac = '52:54:00:00:00:07';
    a.sawNode(mac, { ip: '10.0.0.7', serial: 'SN7' }, true);
    assert.equal(a.getNode(mac)?.state, 'install-pending', 'the first sight arms the install at once');
    assert.equal(a.findNodeByHardware('sn7', null)?.mac, mac, 'found by serial before the batch is written');
    assert.equal(a.countNodesInState('install-pending'), 1);
    a.record({ mac, protocol: 'http', kind: 'GET /boot', decision: 'install', reason: 'r1' });
    assert.deepEqual(
      a.events({ mac }).map((e) => e.reason),
      ['r1'],
      'a queued event is read without a flush',
    );
    // Concurrent consumptions of one machine share one commit; only the first applies (the
    // second resolves undefined: nothing left to consume, so its reply must not install).
    const [first, second] = await Promise.all([
      a.applyChange(mac, { kind: 'consume', profile: 'p/1' }),
      a.applyChange(mac, { kind: 'consume', profile: 'p/1' }),
    ]);
    assert.equal(first?.state, 'installing');
    assert.equal(second, undefined, 'the second consumption does not apply');
    assert.equal(a.installHistory(mac).filter((i) => i.consumedAt !== null).length, 1, 'consumed once');
    // On disk once resolved: a second process reading the file sees it although `a` stays open.
    const b = Store.open(dir);
    assert.equal(b.getNode(mac)?.state, 'installing');
    b.close();
    a.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a sighting that only moves the clock is exact in memory, reaches the disk within 30 s, and close() writes the rest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-store-'));
  const mac = '52:54:00:00:00:07';
  const onDisk = (): number => {
    const reader = new Database(join(dir, 'pxe-pilot.sqlite'), { readonly: true });
    const row = reader.prepare('SELECT last_seen FROM nodes WHERE mac = ?').get(mac) as { last_seen: number };
    reader.close();
    return row.last_seen;
  };
  try {
    let t = 1_000_000;
    const a = Store.open(dir, { now: () => t });
    a.sawNode(mac, { ip: '10.0.0.5' }, false);
    a.flushEvents();
    t += 5_000;
    a.sawNode(mac, { ip: '10.0.0.5' }, false);
    a.flushEvents();
    assert.equal(a.getNode(mac)?.lastSeen, t, 'the API shows the newest sighting at once');
    assert.equal(onDisk(), t - 5_000, 'the row is not rewritten for the clock alone');
    t += 30_000;
    a.sawNode(mac, { ip: '10.0.0.5' }, false);
    a.flushEvents();
    assert.equal(onDisk(), t, 'written once the disk is 30 s behind');
    t += 1_000;
    a.sawNode(mac, { ip: '10.0.0.6' }, false);
    a.flushEvents();
    assert.equal(onDisk(), t, 'a changed fact is written at once');
    t += 1_000;
    a.sawNode(mac, { ip: '10.0.0.6' }, false);
    a.close();
    const b = Store.open(dir);
    assert.equal(b.getNode(mac)?.lastSeen, t, 'close() writes the last sighting');
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
