// The deploy's decisions, pure: the lifecycle (the plan consumes it once, a failure waits in
// deploy-failed), the policy (a failed deploy boots local with its reason, never again by itself),
// the plan's disk (install_disk, else the smallest that holds the image; or a refusal naming the
// sizes), and the store keeps deploy-failed across a reopen (SQLite's schema allows it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { nextState, profileArmsInstall, type NodeState } from '../../src/boot/lifecycle.ts';
import { decide } from '../../src/boot/policy.ts';
import { deployPlan } from '../../src/boot/deploy-plan.ts';
import type { DiskImage } from '../../src/boot/catalogue.ts';
import { agentCmdline } from '../../src/boot/resolve.ts';
import { Store } from '../../src/store/store.ts';
import { NETWORK_KEYS, readNetworkKeys } from '../../src/deploy/network-keys.ts';
import { renderNetworkConfig } from '../../src/deploy/seed.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import { testDisk, testInventory } from '../helpers/inventory.ts';

const MAC = '52:54:00:de:01:01';
const GIB = 1024 ** 3;
const node = (state: NodeState['state'], extra: Partial<NodeState> = {}): NodeState => ({
  mac: MAC,
  state,
  profile: 'cloud/1',
  localBoot: null,
  armedAt: 1000,
  armedBy: 'profile',
  consumedAt: null,
  installedAt: null,
  ...extra,
});
const image: DiskImage = {
  profile: 'cloud/1',
  path: 'cloud/1/disk.raw.zst',
  compression: 'zstd',
  sha256: 'a'.repeat(64),
  compressedBytes: 300 * 1024 ** 2,
  sizeBytes: 40 * GIB,
  integrity: 'verified',
};

test('action = deploy arms like an install; fetching the plan consumes it once; a second fetch consumes nothing', () => {
  assert.equal(profileArmsInstall({ action: 'deploy' }), true);
  const first = nextState({ kind: 'deploy-plan-fetched', profile: 'cloud/1' }, node('install-pending'));
  assert.equal(first.to, 'installing');
  assert.equal(first.change?.kind, 'consume');
  const again = nextState({ kind: 'deploy-plan-fetched', profile: 'cloud/1' }, node('installing'));
  assert.equal(again.change, null);
});

test('a deploy result: success is installed, failure is deploy-failed with the reason; nothing when no deploy is under way', () => {
  const ok = nextState({ kind: 'deploy-reported', ok: true, reason: 'wrote it', report: {} }, node('installing'));
  assert.equal(ok.to, 'installed');
  const bad = nextState({ kind: 'deploy-reported', ok: false, reason: 'digest mismatch', report: {} }, node('installing'));
  assert.deepEqual([bad.to, bad.change?.kind], ['deploy-failed', 'fail']);
  assert.match(bad.reason, /deploy failed: digest mismatch; next network boot goes to local disk/);
  assert.equal(nextState({ kind: 'deploy-reported', ok: false, reason: 'x', report: {} }, node('installed')).change, null);
  assert.equal(nextState({ kind: 'deploy-reported', ok: true, reason: 'x', report: {} }, node('deploy-failed')).change, null);
});

test('a deploy-failed machine boots local with the reason, even with action = deploy still in its [host]', () => {
  const profile = testProfile({ hosts: [hostEntry(MAC, { action: 'deploy', profile: 'cloud/1' })] });
  const failed = { ...node('deploy-failed', { consumedAt: Date.parse('2026-12-07T06:00:00Z') }), installReport: { reason: 'no disk fits' } };
  const d = decide({ mac: MAC, firmware: 'uefi', isIpxe: true }, profile, failed);
  assert.equal(d.action, 'local');
  assert.match(d.reason, /deploy of cloud\/1 failed \(consumed at 06:00:00\): no disk fits; reinstall through the admin API to deploy again/);
  const pending = decide({ mac: MAC, firmware: 'uefi', isIpxe: true }, profile, node('install-pending'));
  assert.deepEqual([pending.action, pending.profile], ['install', 'cloud/1']);
  assert.match(pending.reason, /has action=deploy/);
});

test("the agent's kernel line says deploy mode only for a deploy", () => {
  assert.match(agentCmdline('http://10.0.0.1', MAC, 't', 'deploy'), / pxe_pilot\.mode=deploy$/);
  assert.doesNotMatch(agentCmdline('http://10.0.0.1', MAC, 't'), /mode=/);
});

test('the plan: install_disk when set, refused when it is too small; else the smallest disk that holds the image', () => {
  const inv = testInventory({
    disks: [
      testDisk('sda', { sizeBytes: 100 * GIB, rotational: true }),
      testDisk('nvme0n1', { sizeBytes: 50 * GIB, rotational: false }),
      testDisk('vdc', { sizeBytes: 20 * GIB }),
    ],
  });
  const auto = deployPlan(image, inv, null, 'http://10.0.0.1:8080');
  assert.ok(auto.ok);
  assert.equal(auto.plan.device, '/dev/nvme0n1');
  assert.equal(auto.plan.url, 'http://10.0.0.1:8080/assets/cloud/1/disk.raw.zst');
  const largest = deployPlan(image, inv, { kind: 'largest' }, 'http://s');
  assert.ok(largest.ok);
  assert.equal(largest.plan.device, '/dev/sda');
  const tooSmall = deployPlan(image, inv, { kind: 'serial', serial: 'VDC' }, 'http://s');
  assert.equal(tooSmall.ok, false);
  const none = deployPlan({ ...image, sizeBytes: 200 * GIB }, inv, null, 'http://s');
  assert.ok(!none.ok);
  assert.match(
    none.reason,
    /no non-removable disk holds cloud\/1 \(200\.0 GiB .*\): sda 100\.0 GiB .*, nvme0n1 50\.0 GiB .*, vdc 20\.0 GiB .*; nothing written/,
  );
  assert.equal(deployPlan(image, null, null, 'http://s').ok, false);
});

test('property: the plan never picks a disk smaller than the image, a removable one, or a larger one when a smaller fits', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ size: fc.integer({ min: 1, max: 1 << 20 }), removable: fc.boolean() }), { maxLength: 6 }),
      fc.integer({ min: 1, max: 1 << 20 }),
      (disks, need) => {
        const inv = testInventory({ disks: disks.map((d, i) => testDisk(`vd${String.fromCharCode(97 + i)}`, { sizeBytes: d.size, removable: d.removable })) });
        const plan = deployPlan({ ...image, sizeBytes: need }, inv, null, 'http://s');
        const fitting = disks.filter((d) => !d.removable && d.size >= need);
        if (fitting.length === 0) return !plan.ok;
        if (!plan.ok) return false;
        const chosen = disks[plan.plan.device.charCodeAt(7) - 97]!;
        return !chosen.removable && chosen.size >= need && chosen.size === Math.min(...fitting.map((d) => d.size));
      },
    ),
    { numRuns: 300 },
  );
});

test('the store keeps deploy-failed and its reason across a reopen, and an admin can arm it again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-deploy-store-'));
  try {
    const a = Store.open(dir);
    a.sawNode(MAC, {}, true);
    await a.applyChange(MAC, { kind: 'consume', profile: 'cloud/1' });
    assert.ok(await a.applyChange(MAC, { kind: 'fail', reason: 'digest mismatch', report: { reason: 'digest mismatch' } }));
    a.close();
    const b = Store.open(dir);
    assert.equal(b.getNode(MAC)?.state, 'deploy-failed');
    assert.deepEqual(b.getNode(MAC)?.installReport, { reason: 'digest mismatch' });
    assert.equal(b.countNodesInState('deploy-failed'), 1);
    await b.applyChange(MAC, { kind: 'arm', profile: null, by: 'admin' });
    assert.equal(b.getNode(MAC)?.state, 'install-pending');
    b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('property: the net_* keys never throw; any value is read or refused naming one of them', () => {
  const value = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('10.0.1.21/24', '10.0.1.1', '42', '9000', 'eno1,eno2', ''));
  fc.assert(
    fc.property(
      fc.record({ netAddress: value, netGateway: value, netDns: value, netBond: value, netVlan: value, netMtu: value }, { requiredKeys: [] }),
      (keys) => {
        const read = readNetworkKeys(keys);
        if (read.ok) return renderNetworkConfig({ ...read.settings, bond: [] }, [], '02:00:00:00:00:01').ok;
        return (Object.values(NETWORK_KEYS) as string[]).includes(read.key) && NETWORK_KEYS[read.field] === read.key && read.reason.length > 0;
      },
    ),
    { numRuns: 500 },
  );
});
