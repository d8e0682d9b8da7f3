// The store's health is visible where an operator looks: /metrics (pxe_pilot_store_up), /health
// and the dashboard's /status. PostgreSQL stopped: degraded; started again: up, by itself.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon.ts';
import { freePort, skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';
import { testProfile } from '../helpers/profile.ts';

const skip = skipUnlessPostgres();
let server: TestPostgres | undefined;
let stateDir = '';

before(async () => {
  if (skip) return;
  server = await startPostgres();
  stateDir = mkdtempSync(join(tmpdir(), 'pxp-store-health-'));
});
after(() => {
  server?.destroy();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of one sample of the exposition, or undefined when it is absent. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('PostgreSQL stopped: pxe_pilot_store_up drops to 0 and /status and /health say degraded; started again: back to 1 and ok', { skip }, async () => {
  const port = await freePort();
  const profile = testProfile({
    server: { stateDir },
    http: { port, bind: '127.0.0.1' },
    tftp: { enabled: false },
    store: pgStoreSection(server!.url, { appliance: 'boot-health' }),
  });
  const daemon = await Daemon.start(profile, quietLogger());
  const base = `http://127.0.0.1:${port}`;
  const metrics = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
  const status = async (): Promise<{ store: { backend: string; state: string; reason?: string; queued?: number } }> =>
    (await (await fetch(`${base}/status`)).json()) as { store: { backend: string; state: string; reason?: string; queued?: number } };
  const up = 'pxe_pilot_store_up{backend="postgresql"}';
  try {
    assert.equal(sample(await metrics(), up), 1);
    assert.equal((await status()).store.state, 'ok');

    server!.stop();
    await until('the store to be reported degraded', async () => sample(await metrics(), up) === 0);
    const degraded = await status();
    assert.equal(degraded.store.backend, 'postgresql');
    assert.equal(degraded.store.state, 'degraded');
    assert.ok(degraded.store.reason, 'the reason is given');
    assert.equal(((await (await fetch(`${base}/health`)).json()) as { status: string }).status, 'degraded');
    // Boots go on, and what they record waits in the queue the gauge shows.
    assert.equal((await fetch(`${base}/boot?mac=52:54:00:5e:00:01`)).status, 200);
    assert.ok((sample(await metrics(), 'pxe_pilot_store_queued_writes') ?? 0) >= 1, 'the boot event is queued');

    server!.start();
    await until('the store to reconnect', async () => sample(await metrics(), up) === 1);
    assert.equal((await status()).store.state, 'ok');
    await until('the queue to be written', async () => sample(await metrics(), 'pxe_pilot_store_queued_writes') === 0);
  } finally {
    await daemon.stop();
  }
});

test('the SQLite store is always up: pxe_pilot_store_up{backend="sqlite"} 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-store-health-sqlite-'));
  const port = await freePort();
  const daemon = await Daemon.start(testProfile({ server: { stateDir: dir }, http: { port, bind: '127.0.0.1' }, tftp: { enabled: false } }), quietLogger());
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.equal(sample(text, 'pxe_pilot_store_up{backend="sqlite"}'), 1);
    assert.equal(sample(text, 'pxe_pilot_store_up{backend="postgresql"}'), undefined);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
