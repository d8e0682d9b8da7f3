// What every store behind the ports of src/boot/ports.ts does, whatever it runs on. Run by
// test/store/contract.test.ts against SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeStore } from '../../src/boot/ports.ts';
import type { NodeImports } from '../../src/store/import-nodes.ts';
import { decide, type BootAction } from '../../src/boot/policy.ts';
import { nextState, profileArmsInstall, type LifecycleEvent } from '../../src/boot/lifecycle.ts';
import type { Profile } from '../../src/config/profile.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import { inventoryDoc } from '../helpers/inventory-doc.ts';

export interface ContractStore extends NodeStore, NodeImports {
  /** Resolves once queued writes are stored (no-op where they are written at once). */
  settle(): Promise<void>;
  close(): Promise<void>;
  /** Closes this store and opens it again on the same data (a daemon restart). */
  reopen(): Promise<ContractStore>;
}

const MAC = '52:54:00:aa:00:01';
const OTHER = '52:54:00:aa:00:02';

/** What a contract check may ask of the store it opens. */
export interface ContractOptions {
  /** Never-installed nodes kept; the least recently seen are evicted past this. */
  maxUnknownNodes?: number;
}

const IMAGE = 'proxmox-ve/9.1-1';
/** The profile before its [host] section was written, and after it gained action = install. */
const NO_HOST = testProfile();
const INSTALL_HOST = testProfile({ hosts: [hostEntry(MAC, { action: 'install', profile: IMAGE })] });

/** A network boot as the transports make it: the sighting, then the policy's answer. */
function boot(store: NodeStore, profile: Profile): { action: BootAction; reason: string } {
  const node = store.sawNode(MAC, {}, profileArmsInstall(profile.hosts.get(MAC)));
  return decide({ mac: MAC, firmware: 'uefi', isIpxe: true }, profile, node);
}

/** What the lifecycle says `event` does to the node, written to the store; the node after it. */
async function happen(store: NodeStore, event: LifecycleEvent): Promise<ReturnType<NodeStore['getNode']>> {
  const change = nextState(event, store.getNode(MAC)).change;
  assert.ok(change, `${event.kind} changes ${MAC}`);
  return store.applyChange(MAC, change);
}

const ANSWER_FETCHED: LifecycleEvent = { kind: 'answer-fetched', hostProfile: IMAGE };

export function storeContract(backend: string, open: (options?: ContractOptions) => Promise<ContractStore>, skip: false | string = false): void {
  /** `restart` closes the store and opens it again on the same data, and hands back the new one. */
  const check = (name: string, body: (store: ContractStore, restart: () => Promise<ContractStore>) => Promise<void>, options?: ContractOptions): void => {
    test(`${backend}: ${name}`, { skip }, async () => {
      let store = await open(options);
      try {
        await body(store, async () => {
          await store.settle();
          store = await store.reopen();
          return store;
        });
      } finally {
        await store.close();
      }
    });
  };

  const actions = (store: NodeStore, profile: Profile, count: number): BootAction[] => Array.from({ length: count }, () => boot(store, profile).action);

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

  check(
    'a failed deploy is kept as deploy-failed with its report, across a restart; only a deploy under way can fail; an admin re-arms it',
    async (store, restart) => {
      store.sawNode(MAC, {}, true);
      await happen(store, { kind: 'deploy-plan-fetched', profile: 'cloud/1' });
      const report = { ok: false, reason: 'digest mismatch', expected: 'a'.repeat(64), received: 'b'.repeat(64) };
      assert.equal((await happen(store, { kind: 'deploy-reported', ok: false, reason: 'digest mismatch', report }))?.state, 'deploy-failed');
      store = await restart();
      assert.equal(store.getNode(MAC)?.state, 'deploy-failed');
      assert.deepEqual(store.getNode(MAC)?.installReport, report);
      assert.equal(store.countNodesInState('deploy-failed'), 1);
      assert.equal(await store.applyChange(MAC, { kind: 'fail', reason: 'again', report: null }), undefined, 'a failed deploy does not fail twice');
      assert.equal((await store.applyChange(MAC, { kind: 'arm', profile: 'cloud/1', by: 'admin' }))?.state, 'install-pending');
    },
  );

  check(
    'a wipe: armed by an admin, consumed once, released by its result to seen, unenrolled with its inventory kept, across a restart',
    async (store, restart) => {
      store.sawNode(MAC, {}, true);
      await happen(store, { kind: 'deploy-plan-fetched', profile: 'cloud/1' });
      await happen(store, { kind: 'deploy-reported', ok: true, reason: 'wrote', report: { ok: true } });
      await store.setInventory(MAC, inventoryDoc(), 'session-1');
      await store.setEnrolment(MAC, { hostname: 'web1', profile: null, action: 'wipe', bmc: null, enrolledAt: 1, enrolledBy: 'admin' });
      assert.equal(store.getNode(MAC)?.state, 'installed');
      assert.equal((await happen(store, { kind: 'wipe-armed' }))?.state, 'wipe-pending');
      assert.equal(await store.applyChange(MAC, { kind: 'release', wiped: true, report: null }), undefined, 'a pending wipe is not a wipe under way');
      store = await restart();
      assert.equal(store.getNode(MAC)?.state, 'wipe-pending');
      assert.equal(store.countNodesInState('wipe-pending'), 1);
      assert.equal((await happen(store, { kind: 'wipe-served', by: 'admin', since: null }))?.state, 'wiping');
      assert.equal(await store.applyChange(MAC, { kind: 'consume-wipe', by: 'admin', since: null }), undefined, 'a wipe is consumed once');
      assert.equal(
        await store.applyChange(MAC, { kind: 'consume-wipe', by: 'profile', since: null }),
        undefined,
        'a wipe under way is not consumed again by settings',
      );
      const report = { ok: false, reason: 'vdb: wipefs failed', disks: [{ name: 'vdb', ok: false }] };
      const after = await happen(store, { kind: 'wipe-reported', ok: false, reason: 'vdb: wipefs failed', report });
      assert.equal(after?.state, 'seen');
      store = await restart();
      const node = store.getNode(MAC);
      assert.equal(node?.state, 'seen');
      assert.deepEqual(node?.installReport, report);
      assert.equal(node?.enrolment, null);
      assert.equal(node?.installedAt, null);
      assert.equal(node?.consumedAt, null);
      assert.equal(node?.profile, null);
      assert.notEqual(node?.armedAt, null, 'armedAt stays: the settings that asked for the wipe do not arm it again');
      assert.ok(node?.inventory, 'the inventory is kept');
      assert.equal(await store.applyChange(MAC, { kind: 'release', wiped: true, report: null }), undefined, 'a second result changes nothing');
      assert.equal(await store.applyChange(MAC, { kind: 'consume-wipe', by: 'profile', since: null }), undefined, 'settings do not wipe a node armed before');
    },
  );

  check('settings with action = wipe consume the wipe of a node never armed, once; a plain release needs no wipe', async (store) => {
    store.sawNode(MAC, {}, false);
    assert.equal(await store.applyChange(MAC, { kind: 'consume-wipe', by: 'admin', since: null }), undefined, 'an admin wipe must be armed first');
    assert.equal((await store.applyChange(MAC, { kind: 'consume-wipe', by: 'profile', since: null }))?.state, 'wiping');
    assert.equal(await store.applyChange(MAC, { kind: 'consume-wipe', by: 'profile', since: null }), undefined);
    await store.applyChange(MAC, { kind: 'release', wiped: true, report: null });
    const armedAt = store.getNode(MAC)!.armedAt!;
    assert.equal(await store.applyChange(MAC, { kind: 'consume-wipe', by: 'profile', since: armedAt }), undefined, 'an enrolment older than the last wipe');
    assert.equal((await store.applyChange(MAC, { kind: 'consume-wipe', by: 'profile', since: armedAt + 1 }))?.state, 'wiping', 'an enrolment made since');
    store.sawNode(OTHER, {}, true);
    await store.setEnrolment(OTHER, { hostname: null, profile: null, action: 'inspect', bmc: null, enrolledAt: 1, enrolledBy: 'admin' });
    const released = await store.applyChange(OTHER, { kind: 'release', wiped: false, report: null });
    assert.equal(released?.state, 'seen');
    assert.equal(released?.enrolment, null);
    await store.settle();
    assert.equal(store.getNode(OTHER)?.state, 'seen');
  });

  check('a local-boot script is kept per node; an unknown node has none to set', async (store) => {
    store.ensureNode(MAC);
    assert.equal((await store.setLocalBoot(MAC, 'sanboot --no-describe --drive 0x80'))?.localBoot, 'sanboot --no-describe --drive 0x80');
    assert.equal(await store.setLocalBoot(OTHER, 'exit'), undefined);
    await store.settle();
    assert.equal(store.getNode(MAC)?.localBoot, 'sanboot --no-describe --drive 0x80');
  });

  check(
    'strangers cannot grow the node table without bound: the least recently seen never-armed nodes go, installed, armed and cancelled ones stay',
    async (store, restart) => {
      await store.applyChange('02:00:00:00:00:00', { kind: 'complete', fqdn: 'keep.lab', bootMode: null, report: null });
      await store.applyChange('02:00:00:00:00:01', { kind: 'arm', profile: 'proxmox-ve/9.1-1', by: 'admin' });
      await store.applyChange('02:00:00:00:00:02', { kind: 'arm', profile: null, by: 'admin' });
      await store.applyChange('02:00:00:00:00:02', { kind: 'disarm', to: 'seen' });
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
      assert.equal(store.countNodesInState('seen'), 51, 'the cap holds (the cancelled node is no stranger)');
      assert.equal(store.getNode('02:00:00:00:00:00')?.state, 'installed', 'installed nodes are never evicted');
      assert.equal(store.getNode('02:00:00:00:00:01')?.state, 'install-pending', 'armed nodes are never evicted');
      assert.equal(store.getNode('02:00:00:00:00:02')?.state, 'seen', 'nor a cancelled install: seen again, it would be armed again');
      assert.equal(store.countNodes(), 53);
      store = await restart();
      assert.equal(store.getNode(stranger(0)), undefined, 'an evicted stranger stays gone after a restart');
      assert.ok(store.getNode(stranger(1)));
      assert.equal(store.countNodesInState('seen'), 51, 'the cap holds after a restart');
      assert.equal(store.getNode('02:00:00:00:00:02')?.state, 'seen');
      assert.equal(store.countNodes(), 53);
    },
    { maxUnknownNodes: 50 },
  );

  check(
    'a [host] gaining action = install arms once: the next boot installs, a boot before the answer installs again, then local disk',
    async (store, restart) => {
      assert.equal(boot(store, NO_HOST).action, 'menu', 'first seen with no [host] section');
      assert.equal(store.getNode(MAC)?.state, 'seen');
      assert.equal(boot(store, INSTALL_HOST).action, 'install', 'its [host] section now says install');
      assert.equal(store.getNode(MAC)?.armedBy, 'profile');
      assert.equal(boot(store, INSTALL_HOST).action, 'install', 'still pending: the installer has not fetched its answer');
      store = await restart();
      assert.equal(store.getNode(MAC)?.state, 'install-pending', 'the arm survives a restart');
      assert.equal((await happen(store, ANSWER_FETCHED))?.state, 'installing');
      assert.deepEqual(actions(store, INSTALL_HOST, 3), ['local', 'local', 'local']);
      store = await restart();
      assert.deepEqual(actions(store, INSTALL_HOST, 2), ['local', 'local']);
      assert.equal(store.installHistory(MAC).length, 1, 'armed once');
    },
  );

  check('a cancel stays cancelled, also across a restart: the [host] gives the menu, with the reason', async (store, restart) => {
    assert.equal(boot(store, INSTALL_HOST).action, 'install', 'its first sight arms it');
    await store.settle();
    assert.equal((await happen(store, { kind: 'reinstall-cancelled' }))?.state, 'seen');
    for (let i = 0; i < 3; i++) {
      const d = boot(store, INSTALL_HOST);
      assert.equal(d.action, 'menu');
      assert.match(d.reason, /install was cancelled through the admin API/);
    }
    store = await restart();
    assert.deepEqual(actions(store, INSTALL_HOST, 2), ['menu', 'menu']);
    assert.equal(store.getNode(MAC)?.state, 'seen');
    assert.notEqual(store.getNode(MAC)?.armedAt, null, 'the cancel remembers it was armed');
    assert.equal(store.installHistory(MAC).length, 1);
  });

  check('consumed means local disk until re-armed, installed or not, across a restart', async (store, restart) => {
    assert.equal(boot(store, INSTALL_HOST).action, 'install');
    assert.equal((await happen(store, ANSWER_FETCHED))?.state, 'installing');
    assert.equal(await store.applyChange(MAC, { kind: 'consume', profile: IMAGE }), undefined, 'nothing left to consume');
    assert.deepEqual(actions(store, INSTALL_HOST, 3), ['local', 'local', 'local']);
    store = await restart();
    assert.deepEqual(actions(store, INSTALL_HOST, 2), ['local', 'local']);
    await happen(store, { kind: 'install-reported', fqdn: 'pve1.lab', bootMode: 'efi', report: null });
    store = await restart();
    assert.deepEqual(actions(store, INSTALL_HOST, 2), ['local', 'local']);
    await happen(store, { kind: 'reinstall-armed', profile: null });
    assert.equal(boot(store, INSTALL_HOST).action, 'install', 're-armed by the admin');
  });

  check('a re-arm by the admin after a cancel installs once', async (store, restart) => {
    assert.equal(boot(store, INSTALL_HOST).action, 'install');
    await store.settle();
    await happen(store, { kind: 'reinstall-cancelled' });
    assert.equal(boot(store, INSTALL_HOST).action, 'menu');
    assert.equal((await happen(store, { kind: 'reinstall-armed', profile: null }))?.state, 'install-pending');
    assert.equal(boot(store, INSTALL_HOST).action, 'install');
    store = await restart();
    assert.equal(boot(store, INSTALL_HOST).action, 'install', 'still pending after a restart: the answer was not fetched yet');
    assert.equal((await happen(store, ANSWER_FETCHED))?.state, 'installing');
    assert.deepEqual(actions(store, INSTALL_HOST, 3), ['local', 'local', 'local']);
    store = await restart();
    assert.deepEqual(actions(store, INSTALL_HOST, 2), ['local', 'local']);
    assert.deepEqual(
      store.installHistory(MAC).map((i) => [i.armedBy, i.consumedAt !== null]),
      [
        ['profile', false],
        ['admin', true],
      ],
    );
  });

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

  check('an imported machine keeps its first and last sight and its script across a restart; importing again changes nothing', async (store, restart) => {
    const first = Date.UTC(2025, 10, 2, 8, 15);
    const last = Date.UTC(2026, 4, 21, 23, 0, 0, 250);
    const imported = [
      { mac: MAC, firstSeen: first, lastSeen: last, localBoot: 'sanboot --no-describe --drive 0x80' },
      { mac: OTHER, firstSeen: null, lastSeen: null, localBoot: null },
    ];
    assert.deepEqual(
      [...(await store.importNodes(imported))],
      [
        [MAC, 'added'],
        [OTHER, 'added'],
      ],
    );
    store = await restart();
    const node = store.getNode(MAC)!;
    assert.deepEqual([node.state, node.firstSeen, node.lastSeen, node.localBoot], ['seen', first, last, 'sanboot --no-describe --drive 0x80']);
    assert.equal(store.getNode(OTHER)!.state, 'seen');
    assert.deepEqual([...(await store.importNodes(imported)).values()], ['unchanged', 'unchanged']);
    // A machine known here keeps what it has: its later sight and the script set here.
    await store.setLocalBoot(MAC, 'exit');
    assert.deepEqual(
      [...(await store.importNodes([{ mac: MAC, firstSeen: first - 1000, lastSeen: last - 1000, localBoot: 'sanboot --keep' }])).values()],
      ['updated'],
    );
    const merged = store.getNode(MAC)!;
    assert.deepEqual([merged.firstSeen, merged.lastSeen, merged.localBoot], [first - 1000, last, 'exit']);
    assert.equal(store.countNodesInState('install-pending'), 0, 'an import arms nothing');
  });
}
