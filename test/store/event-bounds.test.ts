// One machine in a boot loop keeps only its newest events; other machines keep theirs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from '../../src/store/store.ts';

test('events per machine are bounded; the newest stay, and other machines are untouched', () => {
  const store = Store.open(':memory:', { maxEventsPerMachine: 50 });
  const LOOP = '52:54:00:00:00:01';
  const QUIET = '52:54:00:00:00:02';
  for (let i = 0; i < 10; i++) store.record({ mac: QUIET, protocol: 'http', kind: 'GET /boot', decision: 'menu', reason: `quiet ${i}` });
  for (let i = 0; i < 500; i++) {
    store.record({ mac: LOOP, protocol: 'dhcp', kind: 'DISCOVER', decision: 'offer', reason: `loop ${i}` });
    if (i % 37 === 0) store.flushEvents();
  }
  store.flushEvents();
  const loop = store.events({ mac: LOOP, limit: 10_000 });
  assert.ok(loop.length >= 50 && loop.length < 60, `kept ${loop.length}`);
  assert.equal(loop.at(-1)!.reason, 'loop 499');
  assert.equal(store.events({ mac: QUIET, limit: 10_000 }).length, 10);
  store.close();
});
