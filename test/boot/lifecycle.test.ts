// The install lifecycle as a table: what happened × the node's state → the change written, the
// state after, and the reason given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstSight, nextState, seenAgain, type LifecycleEvent, type NodeLifecycle, type NodeState, type StateChange } from '../../src/boot/lifecycle.ts';

const MAC = '52:54:00:12:34:56';

function node(state: NodeLifecycle, extra: Partial<NodeState> = {}): NodeState {
  return { mac: MAC, state, profile: null, localBoot: null, armedAt: null, armedBy: null, consumedAt: null, installedAt: null, ...extra };
}

const served = (fetchesAnswer: boolean): LifecycleEvent => ({ kind: 'script-served', profile: 'debian/13', fetchesAnswer });
const answer: LifecycleEvent = { kind: 'answer-fetched', hostProfile: 'proxmox-ve/9.1-1' };
const reported: LifecycleEvent = { kind: 'install-reported', fqdn: 'pve1.lab', bootMode: 'efi', report: { ok: true } };
const armed: LifecycleEvent = { kind: 'reinstall-armed', profile: 'proxmox-ve/9.0-2' };
const cancelled: LifecycleEvent = { kind: 'reinstall-cancelled' };
const complete: StateChange = { kind: 'complete', fqdn: 'pve1.lab', bootMode: 'efi', report: { ok: true } };
const arm: StateChange = { kind: 'arm', profile: 'proxmox-ve/9.0-2', by: 'admin' };

type Row = [what: string, event: LifecycleEvent, before: NodeState | undefined, change: StateChange | null, after: NodeLifecycle | 'unknown', reason: RegExp];

const TABLE: Row[] = [
  [
    'script served, installer fetches no answer',
    served(false),
    node('install-pending'),
    { kind: 'consume', profile: 'debian/13' },
    'installing',
    /install consumed now \(this installer fetches no answer\)/,
  ],
  [
    'script served, installer fetches an answer',
    served(true),
    node('install-pending'),
    null,
    'install-pending',
    /stays pending until the installer fetches its answer/,
  ],
  ['script served to a machine not pending', served(false), node('installed'), null, 'installed', /^is installed, not install-pending/],
  [
    'answer fetched while pending (admin)',
    answer,
    node('install-pending', { armedBy: 'admin', profile: 'proxmox-ve/9.0-2' }),
    { kind: 'consume', profile: 'proxmox-ve/9.1-1' },
    'installing',
    /install consumed for 52:54:00:12:34:56 \(armed by admin, profile proxmox-ve\/9\.0-2\): its next network boot goes to local disk/,
  ],
  [
    'answer fetched while pending (profile)',
    answer,
    node('install-pending', { armedBy: 'profile' }),
    { kind: 'consume', profile: 'proxmox-ve/9.1-1' },
    'installing',
    /armed by profile, profile proxmox-ve\/9\.1-1/,
  ],
  ['answer fetched while installing', answer, node('installing'), null, 'installing', /^is installing, not install-pending: the installer was started by hand/],
  ['answer fetched for a seen machine', answer, node('seen'), null, 'seen', /^is seen, not install-pending/],
  ['answer fetched for an unknown machine', answer, undefined, null, 'unknown', /^is not known, not install-pending/],
  ['install reported while installing', reported, node('installing'), complete, 'installed', /next network boot goes to local disk/],
  ['install reported for an unknown machine', reported, undefined, complete, 'installed', /next network boot goes to local disk/],
  ['install reported while installed', reported, node('installed'), complete, 'installed', /local disk/],
  ['reinstall armed on an installed machine', armed, node('installed'), arm, 'install-pending', /the next network boot installs, once/],
  ['reinstall armed on an unknown machine', armed, undefined, arm, 'install-pending', /installs, once/],
  ['reinstall armed while already pending', armed, node('install-pending'), arm, 'install-pending', /installs, once/],
  [
    'reinstall cancelled, installed before',
    cancelled,
    node('install-pending', { installedAt: 5 }),
    { kind: 'disarm', to: 'installed' },
    'installed',
    /^back to installed$/,
  ],
  ['reinstall cancelled, never installed', cancelled, node('install-pending'), { kind: 'disarm', to: 'seen' }, 'seen', /^back to seen$/],
  ['reinstall cancelled while installing', cancelled, node('installing'), null, 'installing', /^is installing, not install-pending: nothing to cancel/],
  ['reinstall cancelled for an unknown machine', cancelled, undefined, null, 'unknown', /^is not known/],
];

for (const [what, event, before, change, after, reason] of TABLE) {
  test(`lifecycle: ${what} → ${after}`, () => {
    const t = nextState(event, before);
    assert.deepEqual(t.change, change);
    assert.equal(t.to, after);
    assert.match(t.reason, reason);
  });
}

test('lifecycle: first sight arms an install only when the profile says so', () => {
  assert.deepEqual([firstSight(true).state, firstSight(true).change], ['install-pending', { kind: 'arm', profile: null, by: 'profile' }]);
  assert.deepEqual([firstSight(false).state, firstSight(false).change], ['seen', null]);
});

test('lifecycle: a machine seen again is armed by its [host] section only if it was never armed or installed', () => {
  const armByProfile = { kind: 'arm', profile: null, by: 'profile' };
  assert.deepEqual(seenAgain(node('seen'), true).change, armByProfile);
  assert.match(seenAgain(node('seen'), true).reason, /now has action=install: the next network boot installs, once/);
  assert.equal(seenAgain(node('seen'), false).change, null);
  assert.equal(seenAgain(node('seen', { armedAt: 5 }), true).change, null, 'cancelled installs stay cancelled');
  assert.equal(seenAgain(node('seen', { installedAt: 5 }), true).change, null);
  for (const state of ['install-pending', 'installing', 'installed'] as const) assert.equal(seenAgain(node(state), true).change, null);
});
