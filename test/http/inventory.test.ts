// POST /inventory/<mac> as the agent uses it, GET /nodes/<mac> and `pxe-pilot nodes show` showing
// what it stored, and every refusal (no, wrong, expired or another boot's token, the [answers]
// token, a replay, an oversized or malformed document) leaving the node as it was.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { makeAnswerTree, type AnswerTree } from '../helpers/answer-tree.ts';
import { inventoryBody } from '../helpers/inventory-doc.ts';
import { Store } from '../../src/store/store.ts';
import { runCommandLine } from '../../src/cli/commands.ts';

const MAC = '52:54:00:1e:10:01';
const ANSWERS_TOKEN = 'fleet-wide-answers-token';

async function postInventory(h: RunningHttp, mac: string, token: string | null, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${h.base}/inventory/${mac}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function getNode(h: RunningHttp, mac: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${h.base}/nodes/${mac}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

async function cli(args: string[]): Promise<{ code: number | 'running'; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(args, { out: { write: (s: string) => (stdout += s) }, err: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

const agentEvents = (h: RunningHttp) => h.store.events({ mac: MAC, protocol: 'agent' });

describe('POST /inventory/<mac>', () => {
  let h: RunningHttp;
  let store: Store;
  let now: number;

  beforeEach(async () => {
    now = Date.now();
    store = Store.open(':memory:', { now: () => now });
    h = await startHttp({ answers: { token: ANSWERS_TOKEN } }, store);
  });
  afterEach(async () => {
    await h.stop();
    store.close();
  });

  test('a good post is stored (201) and shown by GET /nodes/<mac> and `nodes show`, sizes in bytes', async () => {
    const { token, session } = store.agentSessions.mint(MAC);
    const r = await postInventory(h, MAC, token, inventoryBody());
    assert.equal(r.status, 201);
    assert.deepEqual(r.body, { stored: true, changes: [] });

    const node = await getNode(h, MAC);
    const inventory = node.inventory as {
      document: { system: { serial: string }; disks: { serial: string; sizeBytes: number }[] };
      session: string;
      reportedAt: number;
    };
    assert.equal(inventory.session, session);
    assert.equal(inventory.reportedAt, now);
    assert.equal(inventory.document.system.serial, 'RR-0042');
    assert.deepEqual(
      inventory.document.disks.map((d) => [d.serial, d.sizeBytes]),
      [
        ['VIRTSER1', 68719476736],
        ['NVMESER2', 34359738368],
      ],
    );
    assert.equal(node.discovered, true, 'inspected, and no [host] section or enrolment');
    assert.equal(node.enrolment, null);

    const shown = await cli(['nodes', 'show', MAC, '--url', h.base]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /system +Acme Roadrunner-9, serial RR-0042/);
    assert.match(shown.stdout, /memory +8589934592 bytes/);
    assert.match(shown.stdout, /^DISK +BYTES +MODEL +SERIAL/m);
    assert.match(shown.stdout, /^nvme0n1 +34359738368 +QEMU NVMe Ctrl +NVMESER2 +nvme/m);
    assert.match(shown.stdout, /^eth0 +52:54:00:aa:bb:01 +virtio_net +up +10000 +leaf-1 +Ethernet12/m);
    assert.match(shown.stdout, /discovered +yes/);

    const stored = agentEvents(h).find((e) => e.kind === 'inventory');
    assert.match(stored?.reason ?? '', /inventory stored \(first inventory\): Acme Roadrunner-9, serial RR-0042/);
    const explained = await (await fetch(`${h.base}/nodes/${MAC}/explain`)).text();
    assert.match(explained, /^.*Agent.*inventory stored \(first inventory\).*$/m, 'explain tells the report');
  });

  test('a later inspection that differs is stored (200) with an event naming what changed', async () => {
    await postInventory(h, MAC, store.agentSessions.mint(MAC).token, inventoryBody());
    const { token } = store.agentSessions.mint(MAC);
    const smaller = inventoryBody({ memoryBytes: 4294967296, disks: [{ name: 'vda', sizeBytes: 68719476736, serial: 'VIRTSER1' }] });
    const r = await postInventory(h, MAC, token, smaller);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.changes, ['disk nvme0n1 (serial NVMESER2) removed', 'memory 8589934592 → 4294967296 bytes']);
    const changed = agentEvents(h).find((e) => e.kind === 'inventory-changed');
    assert.equal(changed?.reason, 'disk nvme0n1 (serial NVMESER2) removed; memory 8589934592 → 4294967296 bytes');

    const replaced = inventoryBody({ memoryBytes: 4294967296, disks: [{ name: 'vda', sizeBytes: 68719476736, serial: 'NEWDISK9' }] });
    const third = await postInventory(h, MAC, store.agentSessions.mint(MAC).token, replaced);
    assert.deepEqual(third.body.changes, ['disk vda (serial VIRTSER1) replaced by serial NEWDISK9 (68719476736 bytes)']);
  });

  describe('refused posts change nothing', () => {
    /** The node as stored, then the post, then the node must be the same. */
    async function refused(mac: string, token: string | null, body: unknown, status: number): Promise<Record<string, unknown>> {
      const before = JSON.stringify(store.getNode(mac) ?? null);
      const r = await postInventory(h, mac, token, body);
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(typeof r.body.error, 'string');
      assert.equal(JSON.stringify(store.getNode(mac) ?? null), before, 'the node is unchanged');
      const event = agentEvents(h).at(-1);
      assert.equal(event?.kind, 'inventory-refused');
      assert.equal(event?.decision, 'refused');
      return r.body;
    }

    test('no token, a wrong token, another machine’s token, the [answers] token: 403', async () => {
      const { token } = store.agentSessions.mint(MAC);
      await refused(MAC, null, inventoryBody(), 403);
      assert.match(String((await refused(MAC, 'not-the-token', inventoryBody(), 403)).error), /not 52:54:00:1e:10:01's current agent session/);
      await refused(MAC, ANSWERS_TOKEN, inventoryBody(), 403);
      const other = '52:54:00:1e:10:02';
      store.agentSessions.mint(other);
      await refused(other, token, inventoryBody(), 403);
      assert.equal(store.getNode(MAC), undefined, 'nothing was created');
    });

    test('an expired token, and the token of an earlier boot: 403', async () => {
      const first = store.agentSessions.mint(MAC);
      await postInventory(h, MAC, first.token, inventoryBody());
      const earlier = store.agentSessions.mint(MAC).token;
      store.agentSessions.mint(MAC);
      await refused(MAC, earlier, inventoryBody({ memoryBytes: 1 }), 403);
      const { token } = store.agentSessions.mint(MAC);
      now += 3 * 60 * 60 * 1000;
      assert.match(String((await refused(MAC, token, inventoryBody({ memoryBytes: 1 }), 403)).error), /expired/);
    });

    test('a second inventory in the same session (a replay): 409', async () => {
      const { token } = store.agentSessions.mint(MAC);
      assert.equal((await postInventory(h, MAC, token, inventoryBody())).status, 201);
      assert.match(String((await refused(MAC, token, inventoryBody({ memoryBytes: 1 }), 409)).error), /already delivered its inventory/);
      assert.equal(store.getNode(MAC)?.inventory?.document.memory.totalBytes, 8589934592);
    });

    test('a body over 1 MiB: 413', async () => {
      const { token } = store.agentSessions.mint(MAC);
      const huge = { ...inventoryBody(), padding: 'x'.repeat(1024 * 1024) };
      await refused(MAC, token, huge, 413);
      // The session was not used up: the real inventory still goes in.
      assert.equal((await postInventory(h, MAC, token, inventoryBody())).status, 201);
    });

    test('a malformed document: 400 naming the field', async () => {
      const { token } = store.agentSessions.mint(MAC);
      const body = inventoryBody();
      (body.disks as Record<string, unknown>[])[1]!.sizeBytes = -5;
      const r = await refused(MAC, token, body, 400);
      assert.equal(r.field, 'disks[1].sizeBytes');
      assert.match(String(r.error), /disks\[1\]\.sizeBytes/);
      assert.equal((await refused(MAC, token, '{"schema": 1, ', 400)).field !== undefined, true);
      assert.equal(agentEvents(h).at(-1)?.detail && (agentEvents(h).at(-1)!.detail as { field?: string }).field !== undefined, true);
    });
  });
});

describe('enrolment through the API and the CLI', () => {
  let tree: AnswerTree;
  let h: RunningHttp;

  before(() => {
    tree = makeAnswerTree({ 'default.toml': '[global]\n' }, ['proxmox-ve/9.1-1']);
  });
  after(() => tree.remove());
  beforeEach(async () => {
    h = await startHttp({ answers: { dir: tree.answers }, assets: { dir: tree.assets } });
  });
  afterEach(async () => {
    await h.stop();
  });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(h.base + path, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  async function inspected(mac: string): Promise<void> {
    const r = await postInventory(h, mac, h.store.agentSessions.mint(mac).token, inventoryBody());
    assert.equal(r.status, 201);
  }

  test('an inspected machine is discovered until enrolled; unenrol brings it back', async () => {
    await inspected(MAC);
    h.store.ensureNode('52:54:00:1e:10:09');
    const listed = await call('GET', '/nodes?state=discovered');
    assert.equal(listed.status, 200);
    assert.deepEqual(
      (listed.body.nodes as { mac: string }[]).map((n) => n.mac),
      [MAC],
    );
    const hardware = (listed.body.nodes as { hardware: Record<string, unknown> }[])[0]!.hardware;
    assert.deepEqual(hardware, {
      vendor: 'Acme',
      product: 'Roadrunner-9',
      serial: 'RR-0042',
      cpuThreads: 16,
      memoryBytes: 8589934592,
      disks: 2,
      diskBytes: 103079215104,
      switchPort: 'leaf-1 Ethernet12',
    });

    const enrolled = await call('PUT', `/nodes/${MAC}/enrolment`, { hostname: 'rr-0042', profile: 'proxmox-ve/9.1-1', bmc: 'ipmi://10.0.0.5' });
    assert.equal(enrolled.status, 200, JSON.stringify(enrolled.body));
    const enrolment = enrolled.body.enrolment as Record<string, unknown>;
    assert.equal(enrolment.hostname, 'rr-0042');
    assert.equal(enrolment.action, 'install');
    assert.equal(enrolment.enrolledBy, 'admin');
    assert.equal(typeof enrolment.enrolledAt, 'number', 'ms since the epoch, like the inventory’s reportedAt');
    assert.match(String(enrolment.bmc), /^ipmi:\/\/10\.0\.0\.5/);
    assert.equal(enrolled.body.discovered, false);
    assert.equal(enrolled.body.state, 'seen', 'enrolling alone arms nothing');
    assert.deepEqual((await call('GET', '/nodes?state=discovered')).body.nodes, []);

    const removed = await call('DELETE', `/nodes/${MAC}/enrolment`);
    assert.equal(removed.status, 200);
    assert.equal(removed.body.enrolment, null);
    assert.equal(removed.body.discovered, true);
  });

  test('install: true arms the install as a reinstall does', async () => {
    await inspected(MAC);
    const r = await call('PUT', `/nodes/${MAC}/enrolment`, { hostname: 'rr-0042', profile: 'proxmox-ve/9.1-1', action: 'install', install: true });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.state, 'install-pending');
    assert.equal(r.body.profile, 'proxmox-ve/9.1-1');
    assert.equal(r.body.armedBy, 'admin');
  });

  test('bad enrolments: 400 with the reason, an unknown node 404, and nothing changes', async () => {
    await inspected(MAC);
    const cases: [unknown, RegExp][] = [
      [{ profile: 'proxmox-ve/9.1-1' }, /hostname must be a host name/],
      [{ hostname: 'bad name!', profile: 'proxmox-ve/9.1-1' }, /hostname must be a host name/],
      [{ hostname: 'h1', profile: 'proxmox-ve/9.1-1', action: 'explode' }, /action must be one of install, deploy, local, menu, inspect, wipe/],
      [{ hostname: 'h1' }, /action install needs a profile/],
      [{ hostname: 'h1', profile: 'debian/99' }, /no install image debian\/99 under .* \(available: proxmox-ve\/9\.1-1\)/],
      [{ hostname: 'h1', profile: 'proxmox-ve/9.1-1', bmc: 'telnet://x' }, /bmc: /],
      [{ hostname: 'h1', action: 'local', install: true }, /install: true arms an install or a deploy, but the action is local/],
      [{ hostname: 'h1', profile: 'proxmox-ve/9.1-1', colour: 'red' }, /unknown key "colour"/],
      ['[1, 2]', /expected a JSON object/],
      ['{"hostname":', /not valid JSON/],
    ];
    for (const [body, reason] of cases) {
      const before = JSON.stringify(h.store.getNode(MAC));
      const r = await call('PUT', `/nodes/${MAC}/enrolment`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(String(r.body.error), reason);
      assert.equal(JSON.stringify(h.store.getNode(MAC)), before);
    }
    assert.equal((await call('PUT', '/nodes/52:54:00:1e:10:99/enrolment', { hostname: 'h1', action: 'local' })).status, 404);
    assert.equal((await call('DELETE', '/nodes/52:54:00:1e:10:99/enrolment')).status, 404);
  });

  test('a deploy’s net_* keys and install_disk: enrolled by the CLI and the API, shown by `nodes show`; a wrong one names its key', async () => {
    await inspected(MAC);
    const url = ['--url', h.base];
    const enrol = await cli([
      'nodes',
      'enrol',
      MAC,
      '--hostname',
      'web7',
      '--action',
      'local',
      '--net-address',
      '10.0.1.27/24',
      '--net-gateway',
      '10.0.1.1',
      '--net-vlan',
      '42',
      '--install-disk',
      'serial:NVMESER2',
      ...url,
    ]);
    assert.equal(enrol.code, 0, enrol.stderr);
    assert.deepEqual(h.store.getNode(MAC)?.enrolment?.network, { netAddress: '10.0.1.27/24', netGateway: '10.0.1.1', netVlan: '42' });
    assert.equal(h.store.getNode(MAC)?.enrolment?.installDisk, 'serial:NVMESER2');
    const shown = await cli(['nodes', 'show', MAC, ...url]);
    assert.match(
      shown.stdout,
      /enrolment +local as web7 .*\n +net_address = 10\.0\.1\.27\/24\n +net_gateway = 10\.0\.1\.1\n +net_vlan = 42\n +install_disk = serial:NVMESER2\n/,
    );
    assert.match(
      h.store.events({ mac: MAC }).at(-1)?.reason ?? '',
      /net_address = 10\.0\.1\.27\/24, net_gateway = 10\.0\.1\.1, net_vlan = 42, install_disk = serial:NVMESER2/,
    );

    const enrolled = JSON.stringify(h.store.getNode(MAC)?.enrolment);
    for (const [args, message] of [
      [['--net-vlan', '5000'], /--net-vlan "5000": vlan 5000 is not a VLAN id/],
      [['--net-gateway', '10.0.1.1'], /--net-gateway "10\.0\.1\.1": a gateway without an address/],
      [['--net-bond', 'eno1'], /--net-bond "eno1": a bond needs at least two NICs/],
      [['--install-disk', 'fastest'], /--install-disk "fastest": expected smallest-ssd, largest, serial:/],
    ] as [string[], RegExp][]) {
      const r = await cli(['nodes', 'enrol', MAC, '--hostname', 'web7', '--action', 'local', ...args, ...url]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    for (const [body, reason] of [
      [{ netMtu: '100' }, /^enrolment: netMtu \(net_mtu\): mtu 100 is out of range/],
      [{ netAddress: '10.0.1.300/24' }, /^enrolment: netAddress \(net_address\): address "10\.0\.1\.300\/24" is not an IPv4 address/],
      [{ netDns: 42 }, /^enrolment: netDns \(net_dns\): expected text/],
      [{ installDisk: 'fastest' }, /^enrolment: installDisk \(install_disk\): expected smallest-ssd, largest/],
    ] as [Record<string, unknown>, RegExp][]) {
      const r = await call('PUT', `/nodes/${MAC}/enrolment`, { hostname: 'web7', action: 'local', ...body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(String(r.body.error), reason);
    }
    assert.equal(JSON.stringify(h.store.getNode(MAC)?.enrolment), enrolled, 'a refused enrolment changes nothing');
  });

  test('`nodes enrol`, `nodes unenrol` and `nodes ls --discovered`; usage errors exit 2', async () => {
    await inspected(MAC);
    const url = ['--url', h.base];
    const discovered = await cli(['nodes', 'ls', '--discovered', ...url]);
    assert.equal(discovered.code, 0, discovered.stderr);
    assert.match(discovered.stdout, new RegExp(`^${MAC}`, 'm'));
    assert.match(discovered.stdout, /1 node discovered/);

    const enrol = await cli(['nodes', 'enrol', MAC, '--hostname', 'rr-0042', '--profile', 'proxmox-ve/9.1-1', '--install', ...url]);
    assert.equal(enrol.code, 0, enrol.stderr);
    assert.match(enrol.stdout, /enrolment +install proxmox-ve\/9\.1-1 as rr-0042 \(by admin/);
    assert.equal(h.store.getNode(MAC)?.state, 'install-pending');
    assert.match((await cli(['nodes', '--discovered', ...url])).stdout, /0 nodes discovered/);

    const unenrol = await cli(['nodes', 'unenrol', MAC, ...url]);
    assert.equal(unenrol.code, 0, unenrol.stderr);
    assert.match(unenrol.stdout, /enrolment +-/);
    assert.equal(h.store.getNode(MAC)?.enrolment, null);

    for (const [args, message] of [
      [['nodes', 'enrol', MAC, '--profile', 'proxmox-ve/9.1-1'], /needs --hostname/],
      [['nodes', 'enrol', MAC, '--hostname', 'h1'], /needs --profile/],
      [['nodes', 'enrol', MAC, '--hostname', 'h1', '--action', 'explode'], /--action must be one of/],
      [['nodes', 'enrol', MAC, '--hostname', 'h1', '--action', 'local', '--install'], /--install arms an install/],
      [['nodes', 'enrol', 'not-a-mac', '--hostname', 'h1', '--action', 'local'], /not a MAC address/],
      [['nodes', '--discovered', '--state', 'seen'], /not both/],
    ] as [string[], RegExp][]) {
      const r = await cli([...args, ...url]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    // The daemon's refusal (an image it does not have) is the user's input too: said, exit 2.
    const refused = await cli(['nodes', 'enrol', MAC, '--hostname', 'h1', '--profile', 'debian/99', ...url]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /no install image debian\/99/);
  });
});
