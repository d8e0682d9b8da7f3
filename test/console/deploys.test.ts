// Which deploys the dashboard shows as under way (src/live/deploys.ts): the newest progress after
// the plan, for an installing node, not after its result, not when the agent fell quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEPLOY_QUIET_MS, deployProgress } from '../../src/live/deploys.ts';
import type { StoredEvent } from '../../src/boot/ports.ts';
import { NODE_LIFECYCLES } from '../../src/boot/lifecycle.ts';

const MAC = '52:54:00:aa:00:01';
let id = 0;
const agent = (time: number, kind: string, decision: string, detail: Record<string, unknown> = {}, mac = MAC): StoredEvent => ({
  id: ++id,
  time,
  mac,
  protocol: 'agent',
  kind,
  decision,
  reason: '',
  detail,
});
const plan = (t: number) => agent(t, 'GET /agent/deploy', 'deploy', { profile: 'cloud/1', device: '/dev/vda' });
const progress = (t: number, phase: string, bytes: number) => agent(t, 'deploy-progress', phase, { phase, bytes, total: 100, mbps: 12.5 });
const installing = { mac: MAC, state: 'installing' as const };

test('the newest progress after the plan, with the plan’s image and disk', () => {
  const got = deployProgress(installing, [plan(1000), progress(2000, 'download', 10), progress(4000, 'download', 40)], 5000);
  assert.deepEqual(got, { mac: MAC, profile: 'cloud/1', device: '/dev/vda', phase: 'download', bytes: 40, total: 100, mbps: 12.5, at: 4000 });
});

test('nothing before the first report, after the result, from an earlier deploy, or from a quiet agent', () => {
  assert.equal(deployProgress(installing, [plan(1000)], 2000), null);
  assert.equal(deployProgress(installing, [plan(1000), progress(2000, 'seed', 100), agent(3000, 'deploy-result', 'installed')], 4000), null);
  // A progress of an earlier deploy does not belong to the plan fetched since.
  assert.equal(deployProgress(installing, [plan(1000), progress(2000, 'download', 50), plan(3000)], 4000), null);
  assert.equal(deployProgress(installing, [plan(1000), progress(2000, 'download', 50)], 2000 + DEPLOY_QUIET_MS + 1), null);
  // Another machine's events are not this one's.
  assert.equal(deployProgress(installing, [plan(1000), agent(2000, 'deploy-progress', 'download', { bytes: 1 }, '52:54:00:aa:00:02')], 3000), null);
});

test('only an installing node is shown as deploying, whatever its events say (property)', () => {
  const kinds = fc.constantFrom('GET /agent/deploy', 'deploy-progress', 'deploy-result', 'POST /inventory');
  const event = fc.record({ t: fc.nat(10_000), kind: kinds, phase: fc.constantFrom('download', 'verify', 'seed', 'reboot'), bytes: fc.nat() });
  fc.assert(
    fc.property(fc.constantFrom(...NODE_LIFECYCLES), fc.array(event, { maxLength: 12 }), (state, list) => {
      const events = list.map((e) =>
        agent(e.t, e.kind, e.kind === 'GET /agent/deploy' ? 'deploy' : e.phase, { phase: e.phase, bytes: e.bytes, total: 100, mbps: 1 }),
      );
      const got = deployProgress({ mac: MAC, state }, events, 10_000);
      if (state !== 'installing') assert.equal(got, null);
      else if (got) assert.ok(events.some((e) => e.kind === 'deploy-progress' && e.time === got.at));
    }),
  );
});
