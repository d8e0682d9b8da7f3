// A durable lease commit (what a DHCP ACK waits for) resolves only once the disk confirmed it;
// the fsync runs off the event loop, and commits made while it runs share the next one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openDatabase } from '../../src/store/database.ts';
import { WriteBehind } from '../../src/store/batch.ts';
import { SqliteLeases } from '../../src/store/leases.ts';
import { WalSync } from '../../src/store/wal-sync.ts';
import { SqliteNodes } from '../../src/store/nodes.ts';
import type { LeaseRecord } from '../../src/boot/ports.ts';

/** A disk whose fsyncs finish when the test says so. */
function controlledDisk() {
  const calls: ((err: NodeJS.ErrnoException | null) => void)[] = [];
  return {
    sync: (_fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void calls.push(done),
    calls,
  };
}

function lease(ip: string): LeaseRecord {
  return { ip, clientKey: `01:${ip}`, mac: '52:54:00:00:00:01', hostname: null, state: 'bound', expiresAt: 2e12, updatedAt: 1 };
}

type Outcome = 'resolved' | 'rejected' | 'pending';

/** Follows a commit's promise without waiting for it. */
function watch(p: Promise<void>): () => Outcome {
  let outcome: Outcome = 'pending';
  p.then(
    () => (outcome = 'resolved'),
    () => (outcome = 'rejected'),
  );
  return () => outcome;
}

/**
 * Still pending once everything already queued has run (promise callbacks, and the write-behind's
 * setImmediate flush): only the disk's answer, which the test holds back, can settle it now.
 */
async function stillPending(p: Promise<void>): Promise<boolean> {
  const outcome = watch(p);
  await new Promise((r) => setImmediate(r));
  return outcome() === 'pending';
}

/** How the commit ends once the disk answered: it must settle, within 5 s. */
async function settled(p: Promise<void>): Promise<Exclude<Outcome, 'pending'>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the commit did not settle within 5 s of the disk answering')), 5000);
  });
  try {
    return await Promise.race([
      p.then(
        () => 'resolved' as const,
        () => 'rejected' as const,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-walsync-'));
  const db = openDatabase(dir);
  const disk = controlledDisk();
  const batch = new WriteBehind(db, new WalSync(`${db.name}-wal`, disk.sync));
  const leases = new SqliteLeases(db, batch);
  const done = (): void => {
    batch.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, db, disk, batch, leases, done };
}

test('a durable lease commit waits for the disk: readable at once, resolved only after the fsync', async () => {
  const f = fixture();
  try {
    const onDisk = f.leases.commit(() => f.leases.put(lease('10.0.0.10')));
    // Committed: another connection (explain, a restart) reads it at once.
    const reader = new Database(join(f.dir, 'pxe-pilot.sqlite'), { readonly: true });
    assert.equal((reader.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n, 1);
    reader.close();
    assert.ok(await stillPending(onDisk), 'no ACK may leave before the disk confirms');
    assert.equal(f.disk.calls.length, 1);
    f.disk.calls[0]!(null);
    assert.equal(await settled(onDisk), 'resolved');
  } finally {
    f.done();
  }
});

test('commits made while an fsync runs wait for the next one, which covers them all', async () => {
  const f = fixture();
  try {
    const first = f.leases.commit(() => f.leases.put(lease('10.0.0.10')));
    const second = f.leases.commit(() => f.leases.put(lease('10.0.0.11')));
    const third = f.leases.commit(() => f.leases.put(lease('10.0.0.12')));
    assert.equal(f.disk.calls.length, 1, 'one fsync at a time');
    f.disk.calls[0]!(null);
    assert.equal(await settled(first), 'resolved');
    assert.ok(await stillPending(second), 'the first fsync may have started before this commit');
    assert.equal(f.disk.calls.length, 2, 'the waiting commits share the next fsync');
    f.disk.calls[1]!(null);
    assert.equal(await settled(second), 'resolved');
    assert.equal(await settled(third), 'resolved');
  } finally {
    f.done();
  }
});

test('a refused fsync rejects the commit, so its ACKs are never sent', async () => {
  const f = fixture();
  try {
    const onDisk = f.leases.commit(() => f.leases.put(lease('10.0.0.10')));
    f.disk.calls[0]!(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }));
    assert.equal(await settled(onDisk), 'rejected');
    const next = f.leases.commit(() => f.leases.put(lease('10.0.0.11')));
    f.disk.calls[1]!(null);
    assert.equal(await settled(next), 'resolved', 'the next commit tries the disk again');
  } finally {
    f.done();
  }
});

test('with an install consumption pending, the lease commit waits for the disk inline (its waiters are told at commit)', async () => {
  const f = fixture();
  try {
    const nodes = new SqliteNodes(f.db, f.batch, () => 1000, 100);
    const consumed = nodes.applyChange('52:54:00:00:00:02', { kind: 'arm', profile: 'proxmox-ve/9.1-1', by: 'admin' });
    const onDisk = f.leases.commit(() => f.leases.put(lease('10.0.0.10')));
    assert.equal(await settled(onDisk), 'resolved');
    assert.equal(f.disk.calls.length, 0, 'synchronous = FULL did the fsync in the commit');
    assert.equal((await consumed)?.state, 'install-pending');
  } finally {
    f.done();
  }
});

test('a non-durable commit (offers, sightings) does not wait for any fsync', async () => {
  const f = fixture();
  try {
    assert.equal(await settled(f.leases.commit(() => f.leases.put(lease('10.0.0.10')), { durable: false })), 'resolved');
    assert.equal(f.disk.calls.length, 0);
  } finally {
    f.done();
  }
});
