// The node mirror both stores share (src/store/mirror.ts), on its own: sightings, the one
// applyChange, and the stranger bound under random sequences of what machines and admins do
// (fast-check prints the seed of a failing run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyChange, blankNode, isStranger, mergeFacts, NodeMirror, withFacts } from '../../src/store/mirror.ts';
import type { StateChange } from '../../src/boot/lifecycle.ts';
import type { NodeRecord } from '../../src/boot/ports.ts';

const MAC = '52:54:00:ab:00:01';

test('a sighting keeps known facts it does not bring, and merged sightings keep the later facts', () => {
  const node = withFacts(blankNode(MAC, 1), { ip: '10.0.0.5', serial: 'SN1' }, 1);
  const later = withFacts(node, { arch: 7, ip: undefined }, 2);
  assert.deepEqual([later.lastIp, later.serial, later.arch, later.lastSeen], ['10.0.0.5', 'SN1', 7, 2]);
  assert.deepEqual(mergeFacts({ ip: '10.0.0.5', serial: 'SN1' }, { ip: '10.0.0.6', serial: undefined }), { ip: '10.0.0.6', serial: 'SN1' });
});

test('applyChange: only a pending install is consumed or cancelled; a cancel keeps armedAt; each arm is one install record', () => {
  let id = 0;
  const next = () => ++id;
  assert.equal(applyChange(MAC, blankNode(MAC, 1), { kind: 'consume', profile: 'p/1' }, 2, [], next), undefined);
  assert.equal(applyChange(MAC, undefined, { kind: 'disarm', to: 'seen' }, 2, [], next), undefined);
  const armed = applyChange(MAC, undefined, { kind: 'arm', profile: null, by: 'profile' }, 3, [], next)!;
  assert.deepEqual([armed.node.state, armed.node.armedAt, armed.history.length], ['install-pending', 3, 1]);
  const cancelled = applyChange(MAC, armed.node, { kind: 'disarm', to: 'seen' }, 4, armed.history, next)!;
  assert.deepEqual([cancelled.node.state, cancelled.node.armedAt, isStranger(cancelled.node)], ['seen', 3, false]);
  const consumed = applyChange(MAC, armed.node, { kind: 'consume', profile: 'p/1' }, 5, armed.history, next)!;
  assert.deepEqual([consumed.node.state, consumed.history[0]!.consumedAt, consumed.history[0]!.profile], ['installing', 5, 'p/1']);
  assert.equal(armed.history[0]!.consumedAt, null, 'the history given is left as it was');
});

const CHANGES: StateChange[] = [
  { kind: 'arm', profile: null, by: 'admin' },
  { kind: 'consume', profile: 'p/1' },
  { kind: 'complete', fqdn: null, bootMode: null, report: null },
  { kind: 'disarm', to: 'seen' },
];

test('property: strangers stay within the cap, the least recently seen go first, and an armed, installed or cancelled node is never evicted', () => {
  const step = fc.oneof(
    fc.record({ sight: fc.integer({ min: 0, max: 7 }), armed: fc.boolean() }),
    fc.record({ change: fc.integer({ min: 0, max: 7 }), which: fc.integer({ min: 0, max: CHANGES.length - 1 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(step, { minLength: 20, maxLength: 200, size: 'max' }), (max, steps) => {
      const evicted: string[] = [];
      const mirror = new NodeMirror({ maxStrangers: max, evicted: (mac) => evicted.push(mac), newInstallId: () => 0 });
      /** Strangers in the order they were last seen, as the cap must evict them. */
      let order: string[] = [];
      /** Every node as last written, to judge an eviction independently of isStranger. */
      const known = new Map<string, NodeRecord>();
      const mac = (i: number): string => `06:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
      steps.forEach((s, now) => {
        evicted.length = 0;
        const before = 'sight' in s ? mirror.getNode(mac(s.sight)) : mirror.getNode(mac(s.change));
        const strangersBefore = [...order];
        let node: NodeRecord;
        if ('sight' in s) node = mirror.sight(mac(s.sight), {}, now, s.armed).node;
        else {
          const applied = applyChange(mac(s.change), before, CHANGES[s.which]!, now, mirror.historyOf(mac(s.change)), () => 0);
          if (!applied) return;
          node = applied.node;
          mirror.put(node);
        }
        order = order.filter((m) => m !== node.mac);
        if (isStranger(node)) order.push(node.mac);
        const expected = order.slice(0, Math.max(0, order.length - max));
        order = order.slice(expected.length);
        assert.deepEqual(evicted, expected, 'the least recently seen strangers, past the cap');
        for (const m of evicted) {
          assert.ok(strangersBefore.includes(m) || m === node.mac, `${m} was a stranger`);
          const last = known.get(m)!;
          assert.deepEqual([last.state, last.armedAt, last.installedAt], ['seen', null, null], `${m} was never armed nor installed`);
          assert.equal(mirror.getNode(m), undefined);
          known.delete(m);
        }
        known.set(node.mac, node);
        assert.ok(mirror.listNodesInState('seen').filter(isStranger).length <= max, 'the cap holds');
      });
    }),
  );
});
