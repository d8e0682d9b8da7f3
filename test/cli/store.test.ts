// pxe-pilot store migrate and store copy, as a user runs them: SQLite as the Debian package's
// postinst runs it on every install and upgrade; PostgreSQL against a private server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Store } from '../../src/store/store.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { SCHEMA_VERSION } from '../../src/store/postgres/migrations.ts';
import { inventoryDoc } from '../helpers/inventory-doc.ts';

const run = promisify(execFile);
const skip = skipUnlessPostgres();
let server: TestPostgres;
let dir: string;
const sqliteDir = mkdtempSync(join(tmpdir(), 'pxp-store-cli-sqlite-'));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));

before(async () => {
  if (skip) return;
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'pxp-store-cli-'));
});
after(() => {
  if (skip) return;
  server.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function pxePilot(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8' });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("store migrate creates the schema once; store copy moves one appliance's history into it, and only into an empty one", { skip }, async () => {
  const url = await server.createDatabase('cli_copy', { migrate: false });
  const ini = join(dir, 'fleet.ini');
  writeFileSync(ini, `[server]\naddress = 127.0.0.1\nstate_dir = ${join(dir, 'state')}\n[store]\nbackend = postgresql\nurl = ${url}\n`);
  const first = await pxePilot(['store', 'migrate', '--config', ini]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`schema migrated from version 0 to ${SCHEMA_VERSION}`));
  assert.match((await pxePilot(['store', 'migrate', '--config', ini])).stdout, new RegExp(`schema already at version ${SCHEMA_VERSION}`));

  const state = join(dir, 'single');
  const single = Store.open(state);
  single.sawNode('52:54:00:c0:00:01', { ip: '10.0.0.5', serial: 'SN1' }, true);
  await single.applyChange('52:54:00:c0:00:01', { kind: 'consume', profile: 'proxmox-ve/9.1-1' });
  await single.applyChange('52:54:00:c0:00:01', { kind: 'complete', fqdn: 'pve1.lab', bootMode: 'efi', report: { ok: 1 } });
  await single.setInventory('52:54:00:c0:00:01', inventoryDoc(), 'agent-session-1');
  const enrolment = { hostname: 'pve1', profile: 'proxmox-ve/9.1-1', action: 'install' as const, bmc: null, enrolledAt: 1, enrolledBy: 'admin' };
  await single.setEnrolment('52:54:00:c0:00:01', enrolment);
  for (let i = 0; i < 30; i++) single.record({ mac: '52:54:00:c0:00:01', protocol: 'http', kind: 'GET /boot', decision: 'local', reason: `boot ${i}` });
  single.close();

  const copy = await pxePilot(['store', 'copy', '--from', `sqlite:${state}`, '--to', `postgresql:${url}`, '--appliance', 'boot-old']);
  assert.equal(copy.code, 0, copy.stderr);
  assert.match(copy.stdout, /1 nodes, 1 installs, 30 events/);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const node = (await db.query<{ state: string; fqdn: string; install_report: unknown }>('SELECT state, fqdn, install_report FROM nodes')).rows[0]!;
    assert.deepEqual(node, { state: 'installed', fqdn: 'pve1.lab', install_report: { ok: 1 } });
    const inspected = (
      await db.query<{ inventory: unknown; inventory_session: string; enrolment: unknown }>('SELECT inventory, inventory_session, enrolment FROM nodes')
    ).rows[0]!;
    assert.deepEqual(
      inspected,
      { inventory: inventoryDoc(), inventory_session: 'agent-session-1', enrolment },
      'the inventory and enrolment are copied as JSON',
    );
    assert.equal((await db.query("SELECT 1 FROM events WHERE appliance = 'boot-old'")).rowCount, 30);
    // New rows after the copy do not collide with the copied ids.
    await db.query("INSERT INTO installs (mac) VALUES ('52:54:00:c0:00:02')");
  } finally {
    await db.end();
  }
  const again = await pxePilot(['store', 'copy', '--from', `sqlite:${state}`, '--to', `postgresql:${url}`]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already holds nodes or events/);
  const usage = await pxePilot(['store', 'copy', '--from', state]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--from sqlite:PATH/);
});

test('store migrate creates the store at the latest schema, and says so again when run twice', async () => {
  const profile = join(sqliteDir, 'p.ini');
  writeFileSync(profile, `[server]\naddress = 10.0.0.1\nstate_dir = ${join(sqliteDir, 'state')}\n`);
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  for (let i = 0; i < 2; i++) {
    const r = await pxePilot(['store', 'migrate', '--config', profile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `store ${join(sqliteDir, 'state')}: schema version ${latest}\n`);
  }
  assert.ok(existsSync(join(sqliteDir, 'state', 'pxe-pilot.sqlite')));
});

test('store with an unknown subcommand, or a refused profile, is exit 2 with what to fix', async () => {
  const profile = join(sqliteDir, 'p2.ini');
  writeFileSync(profile, `[server]\naddress = 10.0.0.1\nstate_dir = ${join(sqliteDir, 'state2')}\n`);
  const unknown = await pxePilot(['store', 'vacuum', '--config', profile]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown subcommand "vacuum"[\s\S]*pxe-pilot store migrate/);
  assert.ok(!existsSync(join(sqliteDir, 'state2')), 'an unknown subcommand must not create the store');

  const bad = join(sqliteDir, 'bad.ini');
  writeFileSync(bad, `[server]\nstate_dir = ${join(sqliteDir, 'state3')}\nlog_level = loud\n`);
  const refused = await pxePilot(['store', 'migrate', '--config', bad]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /log_level/);
});
