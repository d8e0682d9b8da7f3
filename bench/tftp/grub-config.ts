// GRUB's per-machine configuration over TFTP (not a test): how many configurations a second
// pxe-pilot resolves and serves ($prefix/pxe-pilot/<mac>.cfg, asked for as GRUB does: blksize
// 1024 with tsize) for known machines, each request another machine. Beside it, in the same run
// and alternating round by round: an older checkout (--baseline) and tftpd-hpa serving the same
// bytes as static files (what a per-machine configuration costs at the least). Loopback only,
// unprivileged ports; as root (the probe's TFTP client binds to lo). Ends only what it started.
//
//   node --import tsx bench/tftp/grub-config.ts [--baseline DIR] [--rounds 3] [--seconds 10] [--concurrency 8] [--nodes 10000]
//
// BENCH_COMPILED=1 runs each pxe-pilot from its tree's dist/ (`npm run build` there first), as
// production does; otherwise its src/ through tsx. Prints each round, then the medians and the
// ratios, and one `RESULT grub-config <target> <configs/s>` line per target.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { tftpFetch } from '../../src/probe/tftp-client.ts';
import { median, stopChildren, waitForUdpPort } from './servers.ts';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
    nodes: { type: 'string', default: '10000' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const nodes = Number(values.nodes);
const compiled = Boolean(process.env.BENCH_COMPILED);
const repo = resolve(import.meta.dirname, '../..');
const CHAIN_PREFIX = 'debian-installer/amd64/grub';

/** The i-th machine, as bench/tftp/serve.mjs --populate sights them. */
function benchMac(i: number): string {
  return '52:54:00:' + [(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
const configPath = (mac: string): string => `/${CHAIN_PREFIX}/pxe-pilot/${mac}.cfg`;

interface Target {
  name: string;
  port: number;
  child: ChildProcess;
}

/** A pxe-pilot TFTP service from `tree` with its own store of `nodes` machines; resolves once it listens. */
async function startPilot(name: string, tree: string, work: string): Promise<Target> {
  const state = join(work, `state-${name.replace(/\W+/g, '-')}`);
  mkdirSync(state);
  const serve = join(repo, 'bench/tftp/serve.mjs');
  const args = ['--root', join(work, 'empty'), '--port', '0', '--bind', '127.0.0.1', '--max-transfers', '1000', '--max-per-client', '1000'];
  args.push('--state', state, '--assets', join(work, 'assets'), '--populate', String(nodes), '--unknown', 'local');
  const child = compiled
    ? spawn(process.execPath, [serve, '--dist', join(tree, 'dist'), ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: tree })
    : spawn(process.execPath, ['--import', 'tsx', serve, '--dist', join(tree, 'src'), ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: tree });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((done, fail) => {
    child.once('exit', (code) => fail(new Error(`${name} exited (${code}) before listening`)));
    lines.on('line', (line) => {
      const m = /^listening (\d+)$/.exec(line);
      if (m) done(Number(m[1]));
    });
  });
  return { name, port, child };
}

function freeUdpPort(): Promise<number> {
  return new Promise((done) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => done(port));
    });
  });
}

/** Configurations fetched per second over `forSeconds`, `concurrency` at a time, each another machine. */
async function measure(target: Target, first: number, forSeconds = seconds): Promise<{ rate: number; failures: number; bytes: number }> {
  let next = first;
  let ok = 0;
  let failures = 0;
  let bytes = 0;
  const started = performance.now();
  const end = started + forSeconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const mac = benchMac(next++ % nodes);
      const r = await tftpFetch({
        server: '127.0.0.1',
        port: target.port,
        file: configPath(mac),
        localAddress: '127.0.0.1',
        interface: 'lo',
        blksize: 1024,
        windowsize: 1,
        timeoutMs: 1000,
        retries: 3,
      });
      if (r.ok && r.bytes > 0) {
        ok += 1;
        bytes += r.bytes;
      } else failures += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { rate: ok / ((performance.now() - started) / 1000), failures, bytes: ok ? Math.round(bytes / ok) : 0 };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'pxp-grubbench-'));
  // tftpd-hpa drops to 'nobody': its tree must be readable by it.
  chmodSync(work, 0o755);
  for (const dir of ['empty', 'assets', 'hpa']) mkdirSync(join(work, dir), { mode: 0o755 });
  const targets: Target[] = [];
  try {
    targets.push(await startPilot('pxe-pilot', repo, work));
    if (values.baseline) targets.push(await startPilot('pxe-pilot baseline', resolve(values.baseline), work));

    // tftpd-hpa gets, for every machine, the bytes pxe-pilot serves it, as a file.
    const sample = join(work, 'sample.cfg');
    const mac0 = benchMac(0);
    const fetched = spawnSync('curl', ['-s', '--max-time', '10', '-o', sample, `tftp://127.0.0.1:${targets[0]!.port}${configPath(mac0)}`]);
    if (fetched.status !== 0) throw new Error(`could not fetch a sample configuration from pxe-pilot (curl exit ${fetched.status})`);
    const text = readFileSync(sample, 'utf8');
    const folder = join(work, 'hpa', CHAIN_PREFIX, 'pxe-pilot');
    mkdirSync(folder, { recursive: true, mode: 0o755 });
    for (const dir of ['debian-installer', 'debian-installer/amd64', CHAIN_PREFIX, `${CHAIN_PREFIX}/pxe-pilot`]) chmodSync(join(work, 'hpa', dir), 0o755);
    for (let i = 0; i < nodes; i++) writeFileSync(join(folder, `${benchMac(i)}.cfg`), text.replaceAll(mac0, benchMac(i)), { mode: 0o644 });
    const hpaPort = await freeUdpPort();
    const hpa = spawn('/usr/sbin/in.tftpd', ['-L', '-a', `127.0.0.1:${hpaPort}`, '-s', join(work, 'hpa')], { stdio: 'ignore' });
    targets.push({ name: 'tftpd-hpa', port: hpaPort, child: hpa });
    await waitForUdpPort(hpaPort);

    console.log(
      `GRUB configuration over TFTP: ${nodes} known machines, ${text.length}-byte local-disk configuration, blksize 1024 + tsize, ${concurrency} at a time, ${seconds} s a round, ${compiled ? 'compiled' : 'sources through tsx'}`,
    );
    // Each target warms up first (JIT, the store's pages), unmeasured.
    const warmup = Math.min(2, seconds);
    for (const t of targets) await measure(t, 0, warmup);
    const rates = new Map<string, number[]>(targets.map((t) => [t.name, []]));
    const failed = new Map<string, number>(targets.map((t) => [t.name, 0]));
    let first = 0;
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so drift in the machine's load favours no target.
      const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
      for (const t of order) {
        const r = await measure(t, first);
        first += 997;
        rates.get(t.name)!.push(r.rate);
        failed.set(t.name, failed.get(t.name)! + r.failures);
        console.log(
          `round ${round + 1} ${t.name}: ${r.rate.toFixed(0)} configurations/s, ${r.failures} failed, ${r.bytes} bytes each (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`,
        );
      }
    }
    console.log('\n| target | configurations/s (median) | rounds | failed |\n|---|---|---|---|');
    for (const t of targets)
      console.log(
        `| ${t.name} | ${median(rates.get(t.name)!).toFixed(0)} | ${rates
          .get(t.name)!
          .map((x) => x.toFixed(0))
          .join(' / ')} | ${failed.get(t.name)} |`,
      );
    const ours = median(rates.get('pxe-pilot')!);
    for (const t of targets.slice(1)) console.log(`pxe-pilot / ${t.name}: ${(ours / median(rates.get(t.name)!)).toFixed(2)}× (above 1: pxe-pilot serves more)`);
    for (const t of targets) console.log(`RESULT grub-config ${t.name.replace(/ /g, '-')} ${median(rates.get(t.name)!).toFixed(0)}`);
  } finally {
    await stopChildren(targets.map((t) => t.child));
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
