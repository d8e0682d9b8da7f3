// explain in a fleet: the story of a machine is what every appliance recorded. A machine boots
// through A; B's GET /nodes/<mac>/explain and `pxe-pilot explain` with B's profile show it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Daemon } from '../../src/daemon.ts';
import { freePort, skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';
import { testProfile } from '../helpers/profile.ts';
import { renderIni } from '../helpers/daemon.ts';
import { cliArgv } from '../helpers/cli.ts';

const run = promisify(execFile);
const skip = skipUnlessPostgres();
const MAC = '52:54:00:f3:00:01';
let server: TestPostgres | undefined;
const dirs: string[] = [];

before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => {
  server?.destroy();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function appliance(name: string, url: string): Promise<{ daemon: Daemon; base: string; stateDir: string }> {
  const stateDir = mkdtempSync(join(tmpdir(), `pxp-explain-${name}-`));
  dirs.push(stateDir);
  const port = await freePort();
  const profile = testProfile({
    server: { stateDir },
    http: { port, bind: '127.0.0.1' },
    tftp: { enabled: false },
    store: pgStoreSection(url, { appliance: name }),
  });
  return { daemon: await Daemon.start(profile, quietLogger()), base: `http://127.0.0.1:${port}`, stateDir };
}

test('explain on appliance B shows what appliance A recorded (admin API and CLI)', { skip }, async () => {
  const url = await server!.createDatabase('fleet_explain');
  const a = await appliance('boot-a', url);
  const b = await appliance('boot-b', url);
  try {
    const boot = await fetch(`${a.base}/boot?mac=${MAC}`);
    assert.equal(boot.status, 200);
    await boot.text();
    // A writes its events within 50 ms; explain on B reads the shared log, not B's own.
    let text = '';
    const end = Date.now() + 20_000;
    while (!/HTTP GET \/boot/.test(text) && Date.now() < end) {
      text = await (await fetch(`${b.base}/nodes/${MAC}/explain`)).text();
      if (!/HTTP GET \/boot/.test(text)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(text, /HTTP GET \/boot → menu/, `B's explain shows A's boot decision:\n${text}`);
    assert.doesNotMatch(text, /Nothing was heard/);
    assert.deepEqual(
      (await (await fetch(`${b.base}/events?mac=${MAC}`)).json()) as { events: unknown[] },
      { events: [] },
      "B's own event list stays its own (docs/fleet.md): only explain reads the fleet's",
    );

    // The CLI with B's profile reads PostgreSQL, not B's SQLite file (which holds only leases).
    const config = join(b.stateDir, 'pxe-pilot.ini');
    writeFileSync(
      config,
      renderIni({
        sections: {
          server: { address: '127.0.0.1', state_dir: b.stateDir },
          store: { backend: 'postgresql', url, appliance: 'boot-b' },
        },
      }),
    );
    const cli = cliArgv(['explain', MAC, '--config', config]);
    const out = await run(cli[0]!, cli.slice(1), { encoding: 'utf8', timeout: 60_000 });
    assert.match(out.stdout, new RegExp(`^${MAC}\\n`));
    assert.match(out.stdout, /HTTP GET \/boot → menu/, `the CLI shows A's boot decision:\n${out.stdout}`);
    assert.match(out.stdout, /State: seen/, 'the node is read from the shared table');
  } finally {
    await a.daemon.stop();
    await b.daemon.stop();
  }
});

test('pxe-pilot explain with PostgreSQL unreachable says where it looked and exits 1', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-explain-down-'));
  dirs.push(dir);
  const config = join(dir, 'pxe-pilot.ini');
  const port = await freePort();
  writeFileSync(
    config,
    renderIni({
      sections: { server: { address: '127.0.0.1', state_dir: dir }, store: { backend: 'postgresql', url: `postgres://pxe@127.0.0.1:${port}/nowhere` } },
    }),
  );
  const cli = cliArgv(['explain', MAC, '--config', config]);
  const result = await run(cli[0]!, cli.slice(1), { encoding: 'utf8', timeout: 60_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`pxe-pilot explain: PostgreSQL at postgres://127\\.0\\.0\\.1:${port}/nowhere: `));
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
