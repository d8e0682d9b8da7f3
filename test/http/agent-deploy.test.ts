// A disk image deploy through a real socket and a real assets folder: a [host] with action = deploy
// boots the agent in deploy mode (install armed, not consumed); the agent's plan names the image
// and the smallest disk that holds it, and fetching it consumes the install; progress becomes
// events; the result moves the node to installed, or to deploy-failed with the digests, and the
// next boot is local either way (never a loop). A disk too small is refused before anything is written.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { AGENT_RELEASE, deployAssets, GIB } from '../helpers/deploy-assets.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { testDisk, testInventory } from '../helpers/inventory.ts';
import type { Profile } from '../../src/config/profile.ts';

describe('deploying a disk image', () => {
  const root = mkdtempSync(join(tmpdir(), 'pxp-deploy-'));
  const sessions = new MemoryAgentSessions();
  // BIG: vda 64 GiB, nvme0n1 32 GiB (too small for 40 GiB); SMALL: only 32 GiB; BAD: the digest will differ.
  const BIG = '52:54:00:de:00:01';
  const SMALL = '52:54:00:de:00:02';
  const BAD = '52:54:00:de:00:03';
  // PINNED: vda 48 GiB would be taken by default; its [host] install_disk names vdb by serial.
  const PINNED = '52:54:00:de:00:04';
  let store: Store;
  let service: HttpService;
  let profile: Profile;
  let base: string;
  let image: { sha256: string; bytes: number };

  before(async () => {
    image = await deployAssets(root);
    store = Store.open(':memory:');
    const deploy = { action: 'deploy' as const, profile: 'cloud/1' };
    profile = testProfile({
      http: { bind: '127.0.0.1', port: 0 },
      assets: { dir: root },
      hosts: [
        hostEntry(BIG, { hostname: 'web1', ...deploy }),
        hostEntry(SMALL, { hostname: 'web2', ...deploy }),
        hostEntry(BAD, { hostname: 'web3', ...deploy }),
        hostEntry(PINNED, { hostname: 'web4', ...deploy, installDisk: { kind: 'serial', serial: 'PIN2' } }),
      ],
    });
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions });
    await service.start();
    profile.http.port = service.port;
    base = `http://127.0.0.1:${service.port}`;
    const reportedAt = Date.now();
    for (const [mac, disks] of [
      [BIG, undefined],
      [SMALL, [testDisk('vda', { sizeBytes: 32 * GIB })]],
      [BAD, undefined],
      [PINNED, [testDisk('vda', { sizeBytes: 48 * GIB, serial: 'FIRST1' }), testDisk('vdb', { sizeBytes: 64 * GIB, serial: 'PIN2' })]],
    ] as const) {
      await store.setInventory(mac, testInventory(disks ? { disks: [...disks] } : {}), `inspected-${reportedAt}`);
    }
  });
  after(async () => {
    await service.stop();
    store.close();
    rmSync(root, { recursive: true, force: true });
  });

  const boot = async (mac: string): Promise<string> => (await fetch(`${base}/boot?mac=${mac}&arch=x86_64&platform=efi`)).text();
  const tokenIn = (script: string): string => /pxe_pilot\.token=(\S+)/.exec(script)?.[1] ?? '';
  const as = (token: string, body?: unknown): RequestInit => ({
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }),
  });

  test('action = deploy boots the agent in deploy mode; the plan names the image and the smallest disk that holds it, and consumes the install', async () => {
    const script = await boot(BIG);
    assert.match(script, /pxe_pilot\.mode=deploy/);
    assert.match(script, new RegExp(`pxe-pilot-agent/${AGENT_RELEASE}/vmlinuz`));
    assert.equal(store.getNode(BIG)?.state, 'install-pending', 'the boot alone does not spend the deploy');
    assert.match(store.events({ mac: BIG }).at(-1)?.reason ?? '', /deploying disk image cloud\/1/);
    const token = tokenIn(script);

    const denied = await fetch(`${base}/agent/${BIG}/deploy`, as('not-the-token'));
    assert.equal(denied.status, 403);
    assert.equal(store.getNode(BIG)?.state, 'install-pending');

    const r = await fetch(`${base}/agent/${BIG}/deploy`, as(token));
    assert.equal(r.status, 200);
    const plan = (await r.json()) as Record<string, unknown>;
    assert.deepEqual(
      { ...plan, reason: undefined },
      {
        url: `${base}/assets/cloud/1/disk.raw.zst`,
        sha256: image.sha256,
        compressedBytes: image.bytes,
        sizeBytes: 40 * GIB,
        compression: 'zstd',
        device: '/dev/vda',
        reason: undefined,
      },
    );
    assert.match(String(plan.reason), /vda .*smallest non-removable disk that holds cloud\/1/);
    assert.equal(store.getNode(BIG)?.state, 'installing');
    assert.match(await boot(BIG), /exit|sanboot|local/i, 'a boot during the deploy is local: nothing starts it again');
    const file = await fetch(String(plan.url));
    assert.equal(file.status, 200);
    assert.equal((await file.arrayBuffer()).byteLength, image.bytes);

    const progress = async (phase: string, bytes: number): Promise<Response> =>
      fetch(`${base}/agent/${BIG}/progress`, as(token, { phase, bytes, total: 40 * GIB, mbps: 312.5 }));
    const before = store.events({ mac: BIG }).filter((e) => e.kind === 'deploy-progress').length;
    assert.equal((await progress('download', GIB)).status, 202);
    assert.equal((await progress('download', 2 * GIB)).status, 202);
    assert.equal((await progress('verify', 40 * GIB)).status, 202);
    const shown = store.events({ mac: BIG }).filter((e) => e.kind === 'deploy-progress');
    assert.equal(shown.length - before, 2, 'a second report within the interval in the same phase is not an event; a new phase is');
    assert.match(shown.at(-1)!.reason, /verify: 42949672960 of 42949672960 bytes \(100 %\) at 312\.5 MB\/s/);
    assert.equal((await fetch(`${base}/agent/${BIG}/progress`, as(token, { phase: 'dancing', bytes: 1, total: 1, mbps: 1 }))).status, 400);
    assert.equal((await fetch(`${base}/agent/${BIG}/progress`, { ...as(token), method: 'POST', body: '{not json' })).status, 400);

    const done = await fetch(`${base}/agent/${BIG}/deploy-result`, as(token, { ok: true, sha256: image.sha256, reason: '' }));
    assert.equal(done.status, 200);
    assert.equal(store.getNode(BIG)?.state, 'installed');
    const explain = await fetch(`${base}/boot?mac=${BIG}&arch=x86_64&platform=efi`);
    assert.doesNotMatch(await explain.text(), /pxe_pilot\.mode=deploy/, 'the next boot is local');
  });

  test('install_disk in a [host] chooses the disk the plan writes', async () => {
    const token = tokenIn(await boot(PINNED));
    const r = await fetch(`${base}/agent/${PINNED}/deploy`, as(token));
    assert.equal(r.status, 200);
    const plan = (await r.json()) as { device: string; reason: string };
    assert.equal(plan.device, '/dev/vdb', 'the smallest disk that holds it would be vda');
    assert.match(plan.reason, /serial PIN2/i);
  });

  test('a digest mismatch leaves the node deploy-failed with both digests; its next boot is local with that reason, not another deploy', async () => {
    const token = tokenIn(await boot(BAD));
    assert.equal((await fetch(`${base}/agent/${BAD}/deploy`, as(token))).status, 200);
    const received = 'ab'.repeat(32);
    const r = await fetch(`${base}/agent/${BAD}/deploy-result`, as(token, { ok: false, sha256: received, reason: 'wiped the first and last MiB' }));
    assert.equal(r.status, 200);
    const node = store.getNode(BAD);
    assert.equal(node?.state, 'deploy-failed');
    assert.match(JSON.stringify(node?.installReport), new RegExp(`expected sha256 ${image.sha256}, received ${received}`));
    const explain = await (await fetch(`${base}/nodes/${BAD}/explain`)).text();
    assert.match(explain, new RegExp(`deploy failed \\(cloud/1\\): digest mismatch: expected sha256 ${image.sha256}, received ${received}`));
    const again = await boot(BAD);
    assert.doesNotMatch(again, /pxe_pilot\.mode=deploy/);
    const last = store.events({ mac: BAD }).at(-1)!;
    assert.equal(last.decision, 'local');
    assert.match(last.reason, new RegExp(`deploy of cloud/1 failed .*expected sha256 ${image.sha256}, received ${received}`));
  });

  test('no disk large enough: the plan is refused naming the sizes, and the node is deploy-failed before anything is written', async () => {
    const token = tokenIn(await boot(SMALL));
    const r = await fetch(`${base}/agent/${SMALL}/deploy`, as(token));
    assert.equal(r.status, 409);
    const body = (await r.json()) as { error: string; refused: boolean };
    assert.equal(body.refused, true);
    assert.match(body.error, /no non-removable disk holds cloud\/1 \(40\.0 GiB \(42949672960 bytes\)\): vda 32\.0 GiB \(34359738368 bytes\)/);
    assert.equal(store.getNode(SMALL)?.state, 'deploy-failed');
    await boot(SMALL);
    assert.equal(store.events({ mac: SMALL }).at(-1)?.decision, 'local');
  });

  test('a result or a plan with no deploy armed changes nothing', async () => {
    // BIG is installed now: its boot is local and mints no session, so one is made as a stray agent's.
    const minted = sessions.mint(BIG).token;
    const plan = await fetch(`${base}/agent/${BIG}/deploy`, as(minted));
    assert.equal(plan.status, 409);
    const result = await fetch(`${base}/agent/${BIG}/deploy-result`, as(minted, { ok: false, reason: 'late' }));
    assert.equal(result.status, 409);
    assert.equal(store.getNode(BIG)?.state, 'installed');
  });

  test('an enrolment with action deploy and install: true arms its disk image, which the next boot deploys; a profile that is no disk image is refused', async () => {
    const ENROLLED = '52:54:00:de:00:05';
    store.ensureNode(ENROLLED);
    await store.setInventory(ENROLLED, testInventory({}), `inspected-${Date.now()}`);
    const enrol = (body: unknown) =>
      fetch(`${base}/nodes/${ENROLLED}/enrolment`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const refused = await enrol({ hostname: 'web5', action: 'deploy', profile: 'nope/1', install: true });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /action deploy needs a disk image; nope\/1 is none under .*\(disk images: cloud\/1/);
    assert.equal(store.getNode(ENROLLED)?.state, 'seen', 'a refusal arms nothing');

    const enrolled = await enrol({ hostname: 'web5', action: 'deploy', profile: 'cloud/1', install: true });
    assert.equal(enrolled.status, 200, await enrolled.clone().text());
    assert.equal(store.getNode(ENROLLED)?.state, 'install-pending');
    const script = await boot(ENROLLED);
    assert.match(script, /pxe_pilot\.mode=deploy/);
    const plan = await fetch(`${base}/agent/${ENROLLED}/deploy`, as(tokenIn(script)));
    assert.equal(plan.status, 200, await plan.clone().text());
    assert.match(((await plan.json()) as { url: string }).url, /\/assets\/cloud\/1\//);
    assert.equal(store.getNode(ENROLLED)?.state, 'installing', 'the plan consumed the enrolment’s deploy');
  });
});
