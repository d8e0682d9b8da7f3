// GET /boot?mac= and POST /answer rates with the SQLite store and with the PostgreSQL store
// (a private server on loopback, started and stopped here), same machine, same wrk runs.
// Run as root (the PostgreSQL server runs as the postgres user): node --import tsx bench/http/store-compare.ts
// BENCH_NODES, BENCH_DURATION, BENCH_CONNECTIONS to vary. Loopback only; stops by itself.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon.ts';
import { openStore } from '../../src/store/open.ts';
import { silentLogger } from '../../src/log.ts';
import type { Profile } from '../../src/config/profile.ts';
import { makeAnswerTree } from '../../test/helpers/answer-tree.ts';
import { freePort, startPostgres, type TestPostgres } from '../../test/helpers/postgres.ts';
import { pgStoreSection } from '../../test/helpers/pg-store.ts';
import { testProfile } from '../../test/helpers/profile.ts';

const NODES = Number(process.env.BENCH_NODES ?? 10_000);
const DURATION = process.env.BENCH_DURATION ?? '10s';
const CONNS = process.env.BENCH_CONNECTIONS ?? '64';

function macOf(i: number): string {
  return `52:54:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

// Async: the daemon under test runs in this process and must keep serving while wrk runs.
const run = promisify(execFile);

async function wrk(script: string, port: number): Promise<number> {
  const { stdout: out } = await run('wrk', ['-t2', `-c${CONNS}`, `-d${DURATION}`, '-s', script, `http://127.0.0.1:${port}`], {
    env: { ...process.env, BENCH_NODES: String(NODES) },
    encoding: 'utf8',
  });
  if (process.env.BENCH_VERBOSE) process.stderr.write(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`${script}: ${non2xx[1]} failed responses\n${out}`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
}

async function measure(backend: 'sqlite' | 'postgresql', pgServer: TestPostgres | undefined): Promise<{ boot: number; answer: number }> {
  const stateDir = mkdtempSync(join(tmpdir(), `pxp-bench-${backend}-`));
  const tree = makeAnswerTree({ 'default.toml': '[global]\nfqdn = "{{mac}}.bench.example"\n' });
  try {
    const store = backend === 'postgresql' ? pgStoreSection(await pgServer!.createDatabase('bench'), { appliance: 'bench' }) : { backend };
    const port = await freePort();
    const profile: Profile = testProfile({
      server: { stateDir, logLevel: 'warn' },
      http: { port, bind: '127.0.0.1' },
      tftp: { enabled: false },
      boot: { unknown: 'local' },
      answers: { dir: tree.answers },
      store,
    });
    // The same 10,000 known machines in both stores.
    const filling = await openStore(profile, silentLogger());
    for (let i = 0; i < NODES; i++) filling.sawNode(macOf(i), { ip: `10.0.${(i >> 8) & 255}.${i & 255}` }, false);
    await filling.close();
    const daemon = await Daemon.start(profile, silentLogger());
    try {
      await wrk('bench/http/boot-macs.lua', port); // warm-up, unmeasured
      const rates = { boot: await wrk('bench/http/boot-macs.lua', port), answer: await wrk('bench/http/answer-macs.lua', port) };
      // wrk drops its connections at the deadline: let the requests still in flight finish first.
      await new Promise((r) => setTimeout(r, 1000));
      return rates;
    } finally {
      await daemon.stop();
    }
  } finally {
    tree.remove();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const pgServer = await startPostgres();
try {
  const sqlite = await measure('sqlite', undefined);
  const postgresql = await measure('postgresql', pgServer);
  process.stdout.write(`${NODES} known machines, wrk -t2 -c${CONNS} -d${DURATION}, requests/s\n`);
  process.stdout.write(`backend      GET /boot?mac=   POST /answer\n`);
  for (const [name, r] of [
    ['sqlite', sqlite],
    ['postgresql', postgresql],
  ] as const)
    process.stdout.write(`${name.padEnd(12)} ${r.boot.toFixed(0).padStart(14)}   ${r.answer.toFixed(0).padStart(12)}\n`);
} finally {
  pgServer.destroy();
}
