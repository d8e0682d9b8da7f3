// The install lifecycle as a table: what happened × the node's state → the change written, the
// state after, and the reason given; and the policy against it: for every state × [host] action
// × armedAt/installedAt, decide answers "install" exactly for a node the lifecycle consumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NODE_LIFECYCLES,
  nextState,
  profileArmsInstall,
  sighted,
  type LifecycleEvent,
  type NodeLifecycle,
  type NodeState,
  type StateChange,
} from '../../src/boot/lifecycle.ts';
import { decide } from '../../src/boot/policy.ts';
import type { ClientDescription } from '../../src/boot/client.ts';
import type { HostEntry } from '../../src/config/profile.ts';
import { blankNode, NodeMirror } from '../../src/store/mirror.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';

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

test('lifecycle: a sighting arms an install only for a [host] with action=install, and only a machine never armed nor installed', () => {
  const armByProfile = { kind: 'arm', profile: null, by: 'profile' };
  assert.deepEqual([sighted(undefined, true).change, sighted(undefined, true).to], [armByProfile, 'install-pending'], 'at first sight');
  assert.deepEqual([sighted(undefined, false).change, sighted(undefined, false).to], [null, 'seen']);
  assert.deepEqual(sighted(node('seen'), true).change, armByProfile, 'later, once its [host] section gained action=install');
  assert.match(sighted(node('seen'), true).reason, /now has action=install: the next network boot installs, once/);
  assert.equal(sighted(node('seen'), false).change, null);
  assert.equal(sighted(node('seen', { armedAt: 5 }), true).change, null, 'cancelled installs stay cancelled');
  assert.equal(sighted(node('seen', { installedAt: 5 }), true).change, null);
  for (const state of ['install-pending', 'installing', 'installed'] as const) assert.equal(sighted(node(state), true).change, null);
});

// ---- The policy against the lifecycle: decide answers "install" only for a node nextState consumes ----

const IMAGE = 'proxmox-ve/9.1-1';
const HOSTS: [label: string, host: HostEntry | undefined][] = [
  ['no [host]', undefined],
  ['[host] action=install', hostEntry(MAC, { action: 'install', profile: IMAGE })],
  ['[host] action=install, no profile', hostEntry(MAC, { action: 'install', profile: '' })],
  ['[host] action=local', hostEntry(MAC, { action: 'local', profile: IMAGE })],
  ['[host] action=menu', hostEntry(MAC, { action: 'menu', profile: IMAGE })],
];
const STATES: (NodeLifecycle | undefined)[] = [undefined, ...NODE_LIFECYCLES];
/** Every armedAt × installedAt × armedBy × admin profile a node may carry. */
const VARIANTS: Partial<NodeState>[] = [null, 7].flatMap((armedAt) =>
  [null, 9].flatMap((installedAt) =>
    (['profile', 'admin'] as const).flatMap((armedBy) => [null, 'debian/13'].map((profile) => ({ armedAt, installedAt, armedBy, profile }))),
  ),
);
const NOW = 1_000;

/** A boot's sighting as both stores take it (src/store/mirror.ts): the node as it leaves it. */
function sightedNode(before: NodeState | undefined, armedByProfile: boolean): NodeState {
  const mirror = new NodeMirror({ maxStrangers: 10, evicted: () => undefined, newInstallId: () => 1 });
  if (before) mirror.put({ ...blankNode(MAC, 0), ...before });
  return mirror.sight(MAC, {}, NOW, armedByProfile).node;
}

/** Whether the lifecycle consumes an install of `n`: at its answer fetch and at a script for an installer that fetches none. */
function consumes(n: NodeState | undefined): boolean {
  const atAnswer = nextState(answer, n).change?.kind === 'consume';
  const atScript = nextState(served(false), n).change?.kind === 'consume';
  assert.equal(atAnswer, atScript, 'both consumptions agree');
  return atAnswer;
}

for (const [label, host] of HOSTS) {
  for (const state of STATES) {
    test(`policy × lifecycle: ${state ?? 'unknown'} node, ${label}: decide installs exactly what nextState consumes, before and after the sighting`, () => {
      const profile = testProfile({ hosts: host ? [host] : [] });
      const client: ClientDescription = { mac: MAC, firmware: 'uefi', isIpxe: true };
      for (const variant of state ? VARIANTS : [{}]) {
        const before = state ? node(state, variant) : undefined;
        const what = `${state ?? 'unknown'} ${JSON.stringify(variant)}`;
        // The node as it is.
        const d = decide(client, profile, before);
        if (d.action === 'install') assert.ok(consumes(before), `${what}: decide installs what the lifecycle would not consume (${d.reason})`);
        if (consumes(before)) {
          const named = before!.profile ?? (host?.profile || null);
          assert.equal(d.action, named ? 'install' : 'menu', `${what}: pending installs, or asks for a profile (${d.reason})`);
        }
        // The node as a boot leaves it: the sighting (lifecycle.sighted) first, then the policy.
        const sight = sighted(before, profileArmsInstall(host));
        const after = sightedNode(before, profileArmsInstall(host));
        assert.equal(after.state, sight.to, `${what}: the store leaves the state sighted says`);
        if (sight.change) assert.deepEqual([after.armedAt, after.armedBy], [NOW, 'profile'], `${what}: armed now by the profile`);
        const boot = decide(client, profile, after);
        if (boot.action === 'install') assert.ok(consumes(after), `${what}: after the sighting, decide installs what the lifecycle would not consume`);
        const neverArmed = !before || (before.state === 'seen' && before.armedAt === null && before.installedAt === null);
        const installs =
          before?.state === 'install-pending' ? Boolean(before.profile ?? host?.profile) : neverArmed && host?.action === 'install' && Boolean(host.profile);
        assert.equal(boot.action === 'install', installs, `${what}: ${boot.action} (${boot.reason})`);
        if (before?.state === 'seen' && before.armedAt !== null && host?.action === 'install' && host.profile)
          assert.match(boot.reason, /install was cancelled through the admin API/, `${what}: a cancel says so`);
      }
    });
  }
}
