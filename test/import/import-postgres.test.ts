// pxe-pilot import --from-seed into a fleet's PostgreSQL store (the profile's [store]), as a user
// runs it: the machines land in the shared tables, a re-run changes nothing, and an arm is one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';

const run = promisify(execFile);
const skip = skipUnlessPostgres();
let server: TestPostgres;
let dir: string;
before(async () => {
  if (skip) return;
  server = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'pxp-import-pg-'));
});
after(() => {
  if (skip) return;
  server.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function pxePilot(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8' })) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('--from-seed writes the machines into the PostgreSQL store, once, and --arm-reinstall --yes arms the flagged one once', { skip }, async () => {
  const url = await server.createDatabase('import_seed');
  const ini = join(dir, 'fleet.ini');
  writeFileSync(
    ini,
    `[server]\naddress = 127.0.0.1\nstate_dir = ${join(dir, 'state')}\n[http]\nbind = 127.0.0.1\nport = 9\n[store]\nbackend = postgresql\nurl = ${url}\n`,
  );
  const seed = join(dir, 'seed.yml');
  writeFileSync(
    seed,
    'nodes:\n  - mac: "aa:bb:cc:dd:ee:01"\n    local_boot_script: "sanboot --no-describe --drive 0x80"\n  - mac: "aa:bb:cc:dd:ee:02"\n    reinstall: true\n',
  );

  const first = await pxePilot(['import', '--config', ini, '--from-seed', seed]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /into the PostgreSQL store: 2 added/);
  assert.match((await pxePilot(['import', '--config', ini, '--from-seed', seed])).stdout, /0 added, 0 updated, 2 already there/);
  const armed = await pxePilot(['import', '--config', ini, '--from-seed', seed, '--arm-reinstall', '--yes']);
  assert.equal(armed.code, 0, armed.stderr);
  assert.match(armed.stdout, /1 armed now/);
  assert.match((await pxePilot(['import', '--config', ini, '--from-seed', seed, '--arm-reinstall', '--yes'])).stdout, /0 armed now, 1 already armed/);

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const nodes = await db.query<{ mac: string; state: string; local_boot: string | null }>('SELECT mac, state, local_boot FROM nodes ORDER BY mac');
    assert.deepEqual(nodes.rows, [
      { mac: 'aa:bb:cc:dd:ee:01', state: 'seen', local_boot: 'sanboot --no-describe --drive 0x80' },
      { mac: 'aa:bb:cc:dd:ee:02', state: 'install-pending', local_boot: null },
    ]);
    assert.equal((await db.query('SELECT * FROM installs')).rowCount, 1);
  } finally {
    await db.end();
  }
});
