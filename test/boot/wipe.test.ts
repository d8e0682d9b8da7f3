// Release wipe (issue 26) in the boot decision: what arms a wipe, how the armed machine's boot gets
// the agent in wipe mode and spends the wipe once, and what it boots after (never a loop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstallImage } from '../../src/boot/catalogue.ts';
import type { BootPorts, ImageCatalogue } from '../../src/boot/ports.ts';
import { agentCmdline, resolveBoot, type BootOutcome } from '../../src/boot/resolve.ts';
import { agentNext } from '../../src/boot/agent-next.ts';
import { decide } from '../../src/boot/policy.ts';
import { nextState } from '../../src/boot/lifecycle.ts';
import { parseProfile } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { testInventory } from '../helpers/inventory.ts';

const MAC = '52:54:00:3e:00:01';
const RULED = '52:54:00:3e:00:02';
const AGENT = 'pxe-pilot-agent/6.1.0-57-amd64';

function image(profile: string): InstallImage {
  const [product, version] = profile.split('/') as [string, string];
  return { profile, product, version, kernel: `${profile}/vmlinuz`, initrds: [`${profile}/initrd`], cmdline: null, integrity: 'verified' };
}

const IMAGES = [image(AGENT), image('debian/12')];
const catalogue: ImageCatalogue = {
  images: () => IMAGES,
  all: () => IMAGES,
  find: (_dir, profile) => IMAGES.find((i) => i.profile === profile),
  invalidate: () => {},
};

function lab(body = '') {
  const store = Store.open(':memory:');
  const sessions = new MemoryAgentSessions();
  const profile = parseProfile(`[server]\naddress = 127.0.0.1\n[https]\nenabled = false\n${body}`, '/etc/pxe-pilot/lab.ini', { offline: true });
  const ports = (replace: Partial<BootPorts> = {}): BootPorts => ({
    getNode: (mac) => store.getNode(mac),
    sawNode: (mac, facts, armed) => store.sawNode(mac, facts, armed),
    applyChange: (mac, change) => store.applyChange(mac, change),
    record: (event) => store.record(event),
    listNodes: (limit, offset) => store.listNodes(limit, offset),
    mint: (mac) => sessions.mint(mac),
    check: (mac, token) => sessions.check(mac, token),
    ...replace,
  });
  const resolve = (mac = MAC, replace: Partial<BootPorts> = {}): Promise<BootOutcome> =>
    resolveBoot(
      {
        client: { mac, ip: '10.0.0.50', firmware: 'uefi', isIpxe: true, platform: 'efi' },
        event: { protocol: 'http', kind: 'GET /boot', detail: { ip: '10.0.0.50' } },
      },
      profile,
      ports(replace),
      catalogue,
    );
  return { store, sessions, profile, resolve };
}

function tagged<T extends BootOutcome['tag']>(outcome: BootOutcome, tag: T): Extract<BootOutcome, { tag: T }> {
  assert.equal(outcome.tag, tag, `expected ${tag}: ${outcome.reason}`);
  return outcome as Extract<BootOutcome, { tag: T }>;
}

test('the agent kernel line says pxe_pilot.mode=wipe in wipe mode, as it says deploy', () => {
  assert.equal(agentCmdline('http://s', MAC, 't', 'wipe'), 'pxe_pilot.url=http://s pxe_pilot.token=t BOOTIF=01-52-54-00-3e-00-01 pxe_pilot.mode=wipe');
  assert.equal(agentCmdline('http://s', MAC, 't'), 'pxe_pilot.url=http://s pxe_pilot.token=t BOOTIF=01-52-54-00-3e-00-01');
});

test('a wipe armed by an admin boots the agent in wipe mode once, spent before it is served; the next boot is local', async () => {
  const { store, sessions, resolve } = lab('[boot]\ndefault_action = local\n');
  store.sawNode(MAC, {}, false);
  await store.applyChange(MAC, nextState({ kind: 'wipe-armed' }, store.getNode(MAC)).change!);
  assert.equal(store.getNode(MAC)?.state, 'wipe-pending');
  const first = tagged(await resolve(), 'inspect');
  assert.equal(first.image.profile, AGENT);
  assert.equal(
    first.cmdline,
    `pxe_pilot.url=http://127.0.0.1 pxe_pilot.token=${sessions.minted.at(-1)!.token} BOOTIF=01-52-54-00-3e-00-01 pxe_pilot.mode=wipe`,
  );
  assert.match(first.reason, /wipe armed by admin at \d\d:\d\d:\d\d \(nodes release --wipe\): booting the inspection agent in wipe mode/);
  assert.equal(store.getNode(MAC)?.state, 'wiping', 'consumed as it was served');
  const event = store.events({ mac: MAC }).at(-1)!;
  assert.equal(event.decision, 'wipe');
  assert.match(event.reason, /wipe consumed/);
  const second = tagged(await resolve(), 'local');
  assert.match(second.reason, /wipe consumed at .* no result reported yet; pxe-pilot nodes release 52:54:00:3e:00:01 to release it/);
});

test('a wipe whose consumption cannot be written is not served (refused), and stays armed', async () => {
  const { store, resolve } = lab();
  store.sawNode(MAC, {}, false);
  await store.applyChange(MAC, { kind: 'arm-wipe' });
  const refused = tagged(
    await resolve(MAC, {
      applyChange: () => Promise.reject(new Error('disk full')),
    }),
    'refused',
  );
  assert.match(refused.reason, /wipe armed by admin/);
  assert.equal(store.getNode(MAC)?.state, 'wipe-pending');
});

test('[host] and [rule] action = wipe wipe a machine never armed, once; an installed or once-armed machine boots local with how to wipe it', async () => {
  const { store, resolve } = lab(`[host ${MAC}]\naction = wipe\n[rule old]\nvendor = *\naction = wipe\n[boot]\ndefault_action = local\n`);
  const first = tagged(await resolve(), 'inspect');
  assert.match(first.cmdline, / pxe_pilot\.mode=wipe$/);
  assert.match(first.reason, /host 52:54:00:3e:00:01 has action=wipe: booting the inspection agent in wipe mode, once/);
  assert.equal(store.getNode(MAC)?.state, 'wiping');
  assert.equal(store.getNode(MAC)?.armedBy, 'profile');
  await store.applyChange(MAC, nextState({ kind: 'wipe-reported', ok: true, reason: 'vda: wipefs+discard', report: {} }, store.getNode(MAC)).change!);
  assert.equal(store.getNode(MAC)?.state, 'seen');
  const after = tagged(await resolve(), 'local');
  assert.match(
    after.reason,
    /host 52:54:00:3e:00:01 has action=wipe, but it was armed or wiped at .*: a wipe is done once; pxe-pilot nodes release 52:54:00:3e:00:01 --wipe/,
  );
  assert.equal(store.getNode(MAC)?.state, 'seen', 'not armed again');

  store.sawNode(RULED, {}, false);
  await store.setInventory(RULED, testInventory(), 's1');
  const ruled = tagged(await resolve(RULED), 'inspect');
  assert.match(ruled.reason, /\[rule old\] matches.*: action=wipe: booting the inspection agent in wipe mode, once/);
  assert.equal(store.getNode(RULED)?.state, 'wiping');

  await store.applyChange(RULED, { kind: 'release', wiped: false, report: null });
  await store.applyChange(RULED, { kind: 'complete', fqdn: null, bootMode: null, report: null });
  assert.match(tagged(await resolve(RULED), 'local').reason, /installed at/);
});

test('an enrolment with action = wipe wipes once after it was made, even a machine armed before; the wipe unenrols it', async () => {
  const { store, profile, resolve } = lab('[boot]\nunknown = inspect\nafter_inspect = wait\n');
  store.sawNode(MAC, {}, false);
  await store.applyChange(MAC, { kind: 'arm', profile: 'debian/12', by: 'admin' });
  await store.applyChange(MAC, { kind: 'disarm', to: 'seen' });
  await store.setInventory(MAC, testInventory(), 's1');
  const enrolledAt = (store.getNode(MAC)!.armedAt ?? 0) + 1;
  await store.setEnrolment(MAC, { hostname: 'old1', profile: null, action: 'wipe', bmc: null, enrolledAt, enrolledBy: 'admin' });
  // An agent waiting after its inspection is told to reboot into the wipe.
  const next = agentNext(MAC, store.getNode(MAC), profile);
  assert.equal(next.next, 'reboot');
  assert.match(next.reason, /action=wipe: booting the inspection agent in wipe mode, once: rebooting into the wipe now/);
  const decision = decide({ mac: MAC, firmware: 'uefi', isIpxe: true }, profile, store.getNode(MAC));
  assert.deepEqual(decision.wipe, { by: 'profile', since: enrolledAt });
  tagged(await resolve(), 'inspect');
  assert.equal(store.getNode(MAC)?.state, 'wiping');
  await store.applyChange(
    MAC,
    nextState({ kind: 'wipe-reported', ok: false, reason: 'vdb: wipefs failed', report: { reason: 'vdb: wipefs failed' } }, store.getNode(MAC)).change!,
  );
  assert.equal(store.getNode(MAC)?.enrolment, null, 'released: unenrolled');
  assert.ok(store.getNode(MAC)?.inventory, 'inventory kept');
  const after = tagged(await resolve(), 'local');
  assert.match(after.reason, /\[boot\] after_inspect = wait/, 'discovered again: [boot] unknown = inspect, already inspected');
});

test('the lifecycle: a wipe result only for a wipe under way; a release from any state; reasons name the state', () => {
  const node = (state: 'seen' | 'wipe-pending' | 'wiping' | 'installed') => ({
    mac: MAC,
    state,
    profile: null,
    localBoot: null,
    armedAt: 1,
    armedBy: 'admin' as const,
    consumedAt: null,
    installedAt: null,
  });
  const report = { kind: 'wipe-reported', ok: true, reason: 'ok', report: {} } as const;
  assert.equal(nextState(report, node('wipe-pending')).change, null);
  assert.match(nextState(report, node('installed')).reason, /^is installed, not wiping: no wipe is armed/);
  assert.deepEqual(nextState(report, node('wiping')).change, { kind: 'release', wiped: true, report: {} });
  assert.match(
    nextState({ ...report, ok: false, reason: 'vdb: no' }, node('wiping')).reason,
    /^wipe failed: vdb: no; released all the same \(not armed again\)/,
  );
  assert.deepEqual(nextState({ kind: 'released' }, node('installed')).change, { kind: 'release', wiped: false, report: null });
  assert.match(nextState({ kind: 'released' }, node('installed')).reason, /^released from installed: unenrolled/);
  assert.equal(nextState({ kind: 'wipe-served', by: 'admin', since: null }, node('seen')).change, null, 'an admin wipe must be armed');
  assert.equal(nextState({ kind: 'wipe-served', by: 'profile', since: null }, node('installed')).change, null);
  assert.deepEqual(nextState({ kind: 'wipe-armed' }, node('installed')).change, { kind: 'arm-wipe' });
});
