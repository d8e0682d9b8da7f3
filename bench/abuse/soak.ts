// Soak: one pxe-pilot (server mode, in namespaces this script makes and removes) serves boot
// storms of the storm bench back to back for --minutes; every minute it samples the daemon's RSS,
// open file descriptors and event log (rows and SQLite file size). Not a test: prints one JSON
// line per sample and a Markdown table at the end. Bounded by --minutes; ends only what it started.
//   sudo node --import tsx bench/abuse/soak.ts [--minutes 30] [--machines 100] [--pause 10] [--kernel-mb 2] [--initrd-mb 8]
import Database from 'better-sqlite3';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NetLab } from '../../test/helpers/netns.ts';
import { adminToken, buildBootNet, httpBase, net, startPilot, writeBootFiles } from '../../test/helpers/boot-net.ts';
import { stormMac, type StormClientsInput, type StormClientsOutput } from '../storm/clients.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    machines: { type: 'string', default: '100' },
    pause: { type: 'string', default: '10' },
    'kernel-mb': { type: 'string', default: '2' },
    'initrd-mb': { type: 'string', default: '8' },
  },
});
const minutes = Number(values.minutes);
const machines = Number(values.machines);
if (!(minutes > 0 && minutes <= 240) || !(Number.isInteger(machines) && machines >= 1 && machines <= 2000)) {
  process.stderr.write('soak: --minutes from 1 to 240, --machines from 1 to 2000\n');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write('soak: run as root (network namespaces)\n');
  process.exit(2);
}
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLIENTS = fileURLToPath(new URL('../storm/clients.ts', import.meta.url));
const MAC_TAG = 0x5a;

interface Sample {
  minute: number;
  rssMb: number;
  fds: number;
  events: number;
  dbMb: number;
  storms: number;
  ok: number;
  failed: number;
  load: string;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return line ? Math.round(Number(line.split(/\s+/)[1]) / 1024) : NaN;
}

function dbSizeMb(stateDir: string): number {
  let bytes = 0;
  for (const f of ['pxe-pilot.sqlite', 'pxe-pilot.sqlite-wal']) if (existsSync(join(stateDir, f))) bytes += statSync(join(stateDir, f)).size;
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

function eventRows(stateDir: string): number {
  const db = new Database(join(stateDir, 'pxe-pilot.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function oneStorm(lab: NetLab): Promise<StormClientsOutput | undefined> {
  const input: StormClientsInput = { machines, arch: 'efi64', proxy: false, server: net.pxe, interface: 'eth0', spreadMs: 0, macTag: MAC_TAG };
  const clients: ChildProcess = lab.spawn('clients', [process.execPath, '--import', 'tsx', CLIENTS, JSON.stringify(input)], { cwd: REPO });
  let stdout = '';
  clients.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  clients.stderr?.resume();
  const timer = setTimeout(() => void lab.stop(clients, 1000), 600_000);
  await new Promise<void>((resolve) => clients.once('exit', () => resolve()));
  clearTimeout(timer);
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return line.startsWith('{') ? (JSON.parse(line) as StormClientsOutput) : undefined;
}

/** Every machine re-armed for install (admin API, as an operator re-provisioning a rack), so each storm installs again. */
async function rearm(lab: NetLab, macs: string[]): Promise<number> {
  const urls = macs.map((m) => `${httpBase}/nodes/${m}/reinstall`);
  const r = await lab.exec(
    'lan',
    [
      'curl',
      '-s',
      '-X',
      'POST',
      '-H',
      `Authorization: Bearer ${adminToken}`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}\\n',
      ...urls.flatMap((u) => [u, '-o', '/dev/null']),
    ],
    {
      allowFail: true,
      timeoutMs: 120_000,
    },
  );
  return r.stdout.split('\n').filter((l) => l === '200').length;
}

const lab = new NetLab('soak');
const dir = mkdtempSync(join(tmpdir(), 'pxp-soak-'));
const samples: Sample[] = [];
try {
  const files = writeBootFiles(dir, Number(values['kernel-mb']) * 1024 * 1024, Number(values['initrd-mb']) * 1024 * 1024);
  await buildBootNet(lab, 'server', dir);
  const macs = Array.from({ length: machines }, (_, i) => stormMac(MAC_TAG, i));
  const pilot = await startPilot(lab, { mode: 'server', dir, ...files, installMacs: macs, logLevel: 'warn', maxTransfers: 2000 });
  const pid = pilot.child.pid!;
  const stateDir = join(dir, 'state');
  const started = Date.now();
  const endAt = started + minutes * 60_000;
  let storms = 0;
  let ok = 0;
  let failed = 0;
  const reasons = new Set<string>();
  const take = (): void => {
    const s: Sample = {
      minute: Math.round((Date.now() - started) / 60_000),
      rssMb: rssMb(pid),
      fds: readdirSync(`/proc/${pid}/fd`).length,
      events: eventRows(stateDir),
      dbMb: dbSizeMb(stateDir),
      storms,
      ok,
      failed,
      load: load(),
    };
    samples.push(s);
    process.stdout.write(`${JSON.stringify(s)}\n`);
  };
  take();
  const sampler = setInterval(take, 60_000);
  let rearmFailures = 0;
  while (Date.now() < endAt) {
    if (storms > 0) rearmFailures += machines - (await rearm(lab, macs));
    const out = await oneStorm(lab);
    storms += 1;
    if (out) {
      ok += out.results.filter((r) => r.ok).length;
      failed += out.results.filter((r) => !r.ok).length;
      for (const r of out.results) if (r.failure) reasons.add(`${r.failure.phase}: ${r.failure.reason}`.slice(0, 160));
    } else failed += machines;
    if (pilot.child.exitCode !== null) throw new Error(`pxe-pilot exited (${pilot.child.exitCode}) during storm ${storms}`);
    await new Promise((r) => setTimeout(r, Math.min(Number(values.pause) * 1000, Math.max(0, endAt - Date.now()))));
  }
  clearInterval(sampler);
  take();
  process.stdout.write(
    [
      '',
      `${machines} machines per storm, ${storms} storms in ${minutes} min: ${ok} boots ok, ${failed} failed; ${rearmFailures} re-arm calls not 200; daemon ${pilot.child.exitCode === null ? 'alive' : 'exited'}`,
      ...[...reasons].slice(0, 5).map((r) => `failure: ${r}`),
      '',
      '| minute | RSS | open fds | event rows | SQLite (+WAL) | storms so far | load |',
      '|---|---|---|---|---|---|---|',
      ...samples.map((s) => `| ${s.minute} | ${s.rssMb} MB | ${s.fds} | ${s.events} | ${s.dbMb} MB | ${s.storms} | ${s.load} |`),
      '',
    ].join('\n'),
  );
  await pilot.stop();
} finally {
  await lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}
