// Two appliances (two daemons on loopback, unprivileged ports) sharing one private PostgreSQL:
// install once across the fleet, re-arming seen by both, and PostgreSQL going away in the
// middle of a stream of boots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Daemon } from '../../src/daemon.ts';
import { makeAnswerTree, post, type AnswerTree } from '../helpers/answer-tree.ts';
import { freePort, skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';

const skip = skipUnlessPostgres();
const PENDING = '52:54:00:f1:00:01';
const IMAGE = 'proxmox-ve/9.1-1';

let server: TestPostgres;
let tree: AnswerTree;
const stateDirs: string[] = [];

before(async () => {
  if (skip) return;
  server = await startPostgres();
  tree = makeAnswerTree({ 'default.toml': '[global]\nfqdn = "{{mac}}.fleet.example"\n' }, [IMAGE]);
});
after(() => {
  if (skip) return;
  server.destroy();
  tree.remove();
  for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
});

interface Appliance {
  daemon: Daemon;
  base: string;
}

async function appliance(name: string, url: string, startDegraded = false): Promise<Appliance> {
  const stateDir = mkdtempSync(join(tmpdir(), `pxp-fleet-${name}-`));
  stateDirs.push(stateDir);
  const port = await freePort();
  const profile = testProfile({
    server: { stateDir },
    http: { port, bind: '127.0.0.1' },
    tftp: { enabled: false },
    answers: { dir: tree.answers },
    assets: { dir: tree.assets },
    store: pgStoreSection(url, { appliance: name, startDegraded }),
    hosts: [hostEntry(PENDING, { hostname: 'pve-fleet', action: 'install', profile: IMAGE })],
  });
  const daemon = await Daemon.start(profile, quietLogger());
  return { daemon, base: `http://127.0.0.1:${port}` };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, args: unknown[] = []): Promise<T[]> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    return (await db.query<T>(text, args)).rows;
  } finally {
    await db.end();
  }
}

function answerRequest(mac: string): Record<string, unknown> {
  return { $schema: { version: '1.0' }, product: { product: 'pve' }, iso: { release: '9.1', isorelease: '1' }, network_interfaces: [{ link: 'eno1', mac }] };
}

test('50 answer fetches for one pending machine over two appliances: exactly one consumes it; re-arming on B makes A install it again', { skip }, async () => {
  const url = await server.createDatabase('fleet_race');
  const a = await appliance('boot-a', url);
  const b = await appliance('boot-b', url);
  try {
    // Its [host] arms the first install on A's first sight of it; B learns it by notification.
    assert.match(await (await fetch(`${a.base}/boot?mac=${PENDING}`)).text(), /vmlinuz/);
    await until('appliance B to see the armed node', () => b.daemon.store.getNode(PENDING)?.state === 'install-pending');

    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => post(i % 2 ? b.base : a.base, '/answer', answerRequest(PENDING))));
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [200], 'every installer gets its answer');
    const installs = await sql<{ consumed_by: string | null }>(url, 'SELECT consumed_by FROM installs WHERE mac = $1', [PENDING]);
    assert.equal(installs.length, 1);
    assert.ok(installs[0]!.consumed_by === 'boot-a' || installs[0]!.consumed_by === 'boot-b');
    await Promise.all([a, b].map((x) => (x.daemon.store as unknown as { drain(): Promise<void> }).drain()));
    const consumed = await sql<{ appliance: string }>(url, "SELECT appliance FROM events WHERE kind = 'POST /answer' AND reason LIKE '%install consumed for%'");
    assert.equal(consumed.length, 1, 'exactly one answer fetch consumed the install');
    assert.equal(consumed[0]!.appliance, installs[0]!.consumed_by);
    await until(
      'both appliances to see it installing',
      () => a.daemon.store.getNode(PENDING)?.state === 'installing' && b.daemon.store.getNode(PENDING)?.state === 'installing',
    );
    assert.doesNotMatch(await (await fetch(`${a.base}/boot?mac=${PENDING}`)).text(), /vmlinuz/, 'its next boot goes to local disk');

    const rearm = await post(b.base, `/nodes/${PENDING}/reinstall`, {});
    assert.equal(rearm.status, 200);
    await until('appliance A to see the re-arm', () => a.daemon.store.getNode(PENDING)?.state === 'install-pending');
    assert.match(await (await fetch(`${a.base}/boot?mac=${PENDING}`)).text(), /vmlinuz/, 'A installs it again');

    // The install path re-reads the node: a consumption A was not told about (no notification) still counts.
    await sql(url, 'ALTER TABLE nodes DISABLE TRIGGER nodes_changed');
    await sql(url, "UPDATE nodes SET state = 'installing', consumed_at = 1 WHERE mac = $1", [PENDING]);
    await sql(url, 'ALTER TABLE nodes ENABLE TRIGGER nodes_changed');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.daemon.store.getNode(PENDING)?.state, 'install-pending', 'A was not told');
    assert.doesNotMatch(await (await fetch(`${a.base}/boot?mac=${PENDING}`)).text(), /vmlinuz/, 'consumed elsewhere: local disk, not a second install');
    assert.equal(a.daemon.store.getNode(PENDING)?.state, 'installing');
  } finally {
    await a.daemon.stop();
    await b.daemon.stop();
  }
});

test(
  'PostgreSQL stopped in a stream of boots: no failed boot, degraded reported, installs refused, then it reconnects and the queued events arrive',
  { skip },
  async () => {
    const url = await server.createDatabase('fleet_outage');
    const a = await appliance('boot-a', url);
    const macs = Array.from({ length: 20 }, (_, i) => `52:54:00:f2:00:${i.toString(16).padStart(2, '0')}`);
    let boots = 0;
    const bootAll = async (): Promise<void> => {
      for (const mac of macs) {
        const r = await fetch(`${a.base}/boot?mac=${mac}`);
        assert.equal(r.status, 200);
        await r.text();
        boots++;
      }
    };
    try {
      await bootAll();
      assert.equal((await post(a.base, `/nodes/${macs[2]!}/reinstall`, {})).status, 200);
      await bootAll();
      server.stop();
      await bootAll();
      const health = (await (await fetch(`${a.base}/health`)).json()) as { status: string; store: { state: string; queued: number } };
      await until('the store to report degraded', async () => ((await (await fetch(`${a.base}/health`)).json()) as { status: string }).status === 'degraded');
      assert.ok(health.store.queued >= 0);
      await bootAll();
      // An install needing a consumption is not served while its consumption cannot be written.
      const refused = await post(a.base, '/answer', answerRequest(macs[0]!));
      await bootAll();
      const reArm = await post(a.base, `/nodes/${macs[1]!}/reinstall`, {});
      assert.equal(reArm.status, 503, reArm.text);
      assert.match(reArm.text, /store degraded/);
      assert.equal(refused.status, 200, 'a machine with no pending install still gets its answer');
      const pending = await post(a.base, '/answer', answerRequest(macs[2]!));
      assert.equal(pending.status, 503, 'no answer while its consumption cannot be written: it could install twice');
      assert.match(pending.text, /store degraded/);
      server.start();
      await until('the store to reconnect', async () => ((await (await fetch(`${a.base}/health`)).json()) as { status: string }).status === 'ok', 30_000);
      await bootAll();
      await (a.daemon.store as unknown as { drain(): Promise<void> }).drain();
      const rows = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM events WHERE kind = 'GET /boot' AND appliance = 'boot-a'");
      assert.equal(rows[0]!.n, boots, 'every boot during the outage was recorded once PostgreSQL was back');
      const nodes = await sql<{ n: number }>(url, 'SELECT count(*)::int AS n FROM nodes');
      assert.equal(nodes[0]!.n, macs.length);
      const failed = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM events WHERE protocol = 'answer' AND reason LIKE '%store degraded%'");
      assert.equal(failed[0]!.n, 1, 'the refused answer fetch is in the shared log too');
      const retry = await post(a.base, '/answer', answerRequest(macs[2]!));
      assert.equal(retry.status, 200);
      assert.equal(a.daemon.store.getNode(macs[2]!)?.state, 'installing', 'once back, the install is consumed');
    } finally {
      await a.daemon.stop();
    }
  },
);

test('start-up with PostgreSQL unreachable is an error naming the store, unless start_degraded', { skip }, async () => {
  const url = `postgres://postgres@127.0.0.1:${await freePort()}/nowhere`;
  await assert.rejects(appliance('boot-c', url), /PostgreSQL at postgres:\/\/127\.0\.0\.1:\d+\/nowhere: .*start_degraded/);
  const c = await appliance('boot-c', url, true);
  try {
    const health = (await (await fetch(`${c.base}/health`)).json()) as { status: string; store: { backend: string; state: string } };
    assert.equal(health.status, 'degraded');
    assert.equal(health.store.backend, 'postgresql');
    assert.equal((await fetch(`${c.base}/boot?mac=${PENDING}`)).status, 200, 'boots are answered from what is known');
  } finally {
    await c.daemon.stop();
  }
});
