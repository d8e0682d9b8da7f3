// TFTP benchmark (not a test): pxe-pilot vs tftpd-hpa (in.tftpd) vs dnsmasq's TFTP, same machine,
// same clients, on the loopback of a network namespace made for the run (dnsmasq can only listen
// on port 69, and no traffic may leave this host). Needs root.
//
//   node --import tsx bench/tftp/bench.ts [--runs 5] [--concurrent 200] [--only lockstep,own] [--baseline DIR]
//
// BENCH_COMPILED=1 runs pxe-pilot from dist/ (`npm run build` first) with plain node, as production
// does; otherwise src/ through tsx (both with bench/tftp/serve.mjs).
// --baseline DIR adds a second pxe-pilot, compiled, from DIR (a copy of an older dist/ kept inside
// this checkout, so it finds node_modules): old and new build then alternate in the same run.
// --only: a subset of the scenarios lockstep, window, concurrent, own (default: all).
//
// Scenarios: (1) a 20 MB file with curl at blksize 1468 (lockstep); (2) the same with atftp at
// windowsize 16 (RFC 7440); (3) N concurrent curl fetches of a ~1 MB ipxe.efi: total time and failures.
// Prints a Markdown table of medians and the pxe-pilot/peer ratios.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median, stopChildren, waitForUdpPort } from './servers.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    concurrent: { type: 'string', default: '200' },
    inside: { type: 'string' },
    only: { type: 'string', default: 'lockstep,window,concurrent,own' },
    baseline: { type: 'string' },
  },
});
const scenarios = new Set(values.only.split(','));
const compiled = Boolean(process.env.BENCH_COMPILED);
const runs = Number(values.runs);
const concurrent = Number(values.concurrent);
const repo = resolve(import.meta.dirname, '../..');

if (!values.inside) {
  // Outside: make the namespace, run this same script inside it, remove the namespace whatever happens.
  const ns = `pxp-tftpbench-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns], { stdio: 'inherit' });
  try {
    const inNs = (...argv: string[]): void => void spawnSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'inherit' });
    inNs('ip', 'link', 'set', 'lo', 'up');
    // in.tftpd resolves its -a address with AI_ADDRCONFIG, which fails when the namespace has no
    // non-loopback address: give it a veth pair of its own holding a documentation address (nothing routes there).
    inNs('ip', 'link', 'add', 'bench0', 'type', 'veth', 'peer', 'name', 'bench1');
    inNs('ip', 'addr', 'add', '192.0.2.1/32', 'dev', 'bench0');
    inNs('ip', 'link', 'set', 'bench0', 'up');
    const args = [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--import',
      'tsx',
      import.meta.filename,
      '--runs',
      String(runs),
      '--concurrent',
      String(concurrent),
      '--inside',
      ns,
      '--only',
      values.only,
      ...(values.baseline ? ['--baseline', resolve(values.baseline)] : []),
    ];
    const result = spawnSync('ip', args, { stdio: 'inherit', cwd: repo });
    process.exitCode = result.status ?? 1;
  } finally {
    spawnSync('ip', ['netns', 'delete', ns], { stdio: 'inherit' });
  }
} else {
  await main();
}

interface Server {
  name: string;
  port: number;
  child?: ChildProcess;
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function timed(cmd: string, args: string[]): { seconds: number; ok: boolean } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, ok: r.status === 0 };
}

function timedConcurrent(n: number, makeArgs: (i: number) => string[]): Promise<{ seconds: number; exitFailures: number }> {
  return new Promise((done) => {
    const t0 = process.hrtime.bigint();
    let left = n;
    let exitFailures = 0;
    for (let i = 0; i < n; i++) {
      const child = spawn('curl', makeArgs(i), { stdio: 'ignore' });
      child.on('exit', (code) => {
        if (code !== 0) exitFailures += 1;
        if (--left === 0) done({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, exitFailures });
      });
    }
  });
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'pxp-tftpbench-'));
  const root = join(base, 'root');
  const out = join(base, 'out');
  mkdirSync(root);
  mkdirSync(out);
  // tftpd-hpa drops to 'nobody': the tree must be readable by it.
  chmodSync(base, 0o755);
  chmodSync(root, 0o755);
  const big = randomBytes(20_000_000);
  writeFileSync(join(root, 'big.bin'), big, { mode: 0o644 });
  const ipxe = existsSync('/boot/ipxe.efi') ? readFileSync('/boot/ipxe.efi') : randomBytes(1_000_000);
  writeFileSync(join(root, 'ipxe.efi'), ipxe, { mode: 0o644 });

  const servers: Server[] = [
    { name: 'pxe-pilot', port: 6969 },
    { name: 'tftpd-hpa', port: 6970 },
    { name: 'dnsmasq', port: 69 },
  ];
  const [ours, hpa, dnsmasq] = servers as [Server, Server, Server, ...Server[]];
  const pilotArgs = (port: number): string[] => [
    '--root',
    root,
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--max-transfers',
    '1000',
    '--max-per-client',
    '1000',
  ];
  // e.g. BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof": then bench/profile-top.ts summarises it.
  const nodeFlags = process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : [];
  const serveScript = join(repo, 'bench/tftp/serve.mjs');
  ours.child = spawn(
    process.execPath,
    compiled
      ? [...nodeFlags, serveScript, ...pilotArgs(ours.port)]
      : [...nodeFlags, '--import', 'tsx', serveScript, '--dist', join(repo, 'src'), ...pilotArgs(ours.port)],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: repo },
  );
  if (values.baseline) {
    const baseline: Server = { name: 'pxe-pilot baseline', port: 6971 };
    baseline.child = spawn(process.execPath, [...nodeFlags, serveScript, '--dist', values.baseline, ...pilotArgs(baseline.port)], {
      stdio: ['ignore', 'ignore', 'inherit'],
      cwd: repo,
    });
    servers.push(baseline);
  }
  hpa.child = spawn('/usr/sbin/in.tftpd', ['-L', '-a', `127.0.0.1:${hpa.port}`, '-s', root], { stdio: 'ignore' });
  dnsmasq.child = spawn(
    'dnsmasq',
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      '--enable-tftp',
      `--tftp-root=${root}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--tftp-max=1000',
      '--quiet-tftp',
      '--user=root',
      `--pid-file=${join(base, 'dnsmasq.pid')}`,
    ],
    { stdio: 'ignore' },
  );
  try {
    for (const s of servers) await waitForUdpPort(s.port);
    // Each server must deliver the right bytes before it is timed.
    for (const s of servers) {
      const file = join(out, `check-${s.name}`);
      spawnSync('curl', ['-s', '--max-time', '60', '--tftp-blksize', '1468', '-o', file, `tftp://127.0.0.1:${s.port}/big.bin`]);
      if (!existsSync(file) || sha(readFileSync(file)) !== sha(big)) throw new Error(`${s.name} did not deliver big.bin intact`);
    }

    const lockstep = new Map<string, number[]>();
    const windowed = new Map<string, number[]>();
    const storm = new Map<string, { seconds: number[]; failures: number[] }>();
    const ownAddress = new Map<string, { seconds: number[]; failures: number[] }>();
    for (const s of servers) {
      lockstep.set(s.name, []);
      windowed.set(s.name, []);
      storm.set(s.name, { seconds: [], failures: [] });
      ownAddress.set(s.name, { seconds: [], failures: [] });
    }
    for (let run = 0; run < runs; run++) {
      // Rotate the order each run so drift in the machine's load does not favour one server.
      const order = servers.map((_, i) => servers[(i + run) % servers.length]!);
      for (const s of scenarios.has('lockstep') ? order : []) {
        const url = `tftp://127.0.0.1:${s.port}/big.bin`;
        const r = timed('curl', ['-s', '--max-time', '60', '--tftp-blksize', '1468', '-o', '/dev/null', url]);
        if (!r.ok) throw new Error(`${s.name}: curl lockstep failed`);
        lockstep.get(s.name)!.push(r.seconds);
      }
      for (const s of scenarios.has('window') ? order : []) {
        const file = join(out, `w-${s.name}`);
        const r = timed('atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '-g', '-r', 'big.bin', '-l', file, '127.0.0.1', String(s.port)]);
        if (!r.ok || sha(readFileSync(file)) !== sha(big)) throw new Error(`${s.name}: atftp windowsize 16 failed`);
        windowed.get(s.name)!.push(r.seconds);
      }
      for (const s of scenarios.has('concurrent') ? order : []) {
        const dir = join(out, `storm-${s.name}-${run}`);
        mkdirSync(dir);
        const r = await timedConcurrent(concurrent, (i) => [
          '-s',
          '--max-time',
          '60',
          '--tftp-blksize',
          '1468',
          '-o',
          join(dir, String(i)),
          `tftp://127.0.0.1:${s.port}/ipxe.efi`,
        ]);
        let failures = 0;
        for (let i = 0; i < concurrent; i++) {
          const f = join(dir, String(i));
          if (!existsSync(f) || sha(readFileSync(f)) !== sha(ipxe)) failures += 1;
        }
        rmSync(dir, { recursive: true, force: true });
        storm.get(s.name)!.seconds.push(r.seconds);
        storm.get(s.name)!.failures.push(failures);
      }
      for (const s of scenarios.has('own') ? order : []) {
        // The same N fetches, each machine from its own 127.1.x.y address, lockstep (bench/tftp/many.ts).
        const r = spawnSync(
          process.execPath,
          [
            '--import',
            'tsx',
            join(repo, 'bench/tftp/many.ts'),
            '--port',
            String(s.port),
            '--file',
            'ipxe.efi',
            '--count',
            String(concurrent),
            '--expect',
            String(ipxe.length),
          ],
          { cwd: repo, encoding: 'utf8', timeout: 180_000 },
        );
        const line = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { seconds?: number; failures?: number; reasons?: string[] };
        if (line.seconds === undefined) throw new Error(`${s.name}: many.ts printed nothing (${r.stderr.slice(-500)})`);
        if (line.failures) process.stderr.write(`${s.name} own-address failures: ${JSON.stringify(line.reasons)}\n`);
        ownAddress.get(s.name)!.seconds.push(line.seconds);
        ownAddress.get(s.name)!.failures.push(line.failures ?? concurrent);
      }
      process.stderr.write(`run ${run + 1}/${runs} done, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`);
    }

    const mb = big.length / 1e6;
    const fmt = (x: number): string => x.toFixed(2);
    const lines: string[] = [];
    lines.push(
      `| server | 20 MB lockstep, curl blksize 1468 | 20 MB windowsize 16, atftp | ${concurrent} × ipxe.efi (${(ipxe.length / 1e6).toFixed(2)} MB) concurrent, curl | ${concurrent} × ipxe.efi, each from its own address, lockstep |`,
    );
    lines.push('|---|---|---|---|---|');
    for (const s of servers) {
      const l = median(lockstep.get(s.name)!);
      const w = median(windowed.get(s.name)!);
      const st = storm.get(s.name)!;
      const own = ownAddress.get(s.name)!;
      lines.push(
        `| ${s.name} | ${fmt(l)} s (${fmt(mb / l)} MB/s) | ${fmt(w)} s (${fmt(mb / w)} MB/s) | ${fmt(median(st.seconds))} s, failures ${st.failures.join('/')} | ${fmt(median(own.seconds))} s, failures ${own.failures.join('/')} |`,
      );
    }
    lines.push('');
    const ourL = median(lockstep.get(ours.name)!);
    const ourW = median(windowed.get(ours.name)!);
    const ourS = median(storm.get(ours.name)!.seconds);
    const ourO = median(ownAddress.get(ours.name)!.seconds);
    for (const peer of servers.filter((s) => s !== ours)) {
      lines.push(
        `pxe-pilot/${peer.name} time ratio (below 1 = pxe-pilot faster): lockstep ${fmt(ourL / median(lockstep.get(peer.name)!))}, ` +
          `windowsize 16 ${fmt(ourW / median(windowed.get(peer.name)!))}, concurrent ${fmt(ourS / median(storm.get(peer.name)!.seconds))}, ` +
          `own addresses ${fmt(ourO / median(ownAddress.get(peer.name)!.seconds))}`,
      );
    }
    lines.push(`pxe-pilot windowsize 16 vs its own lockstep: ${fmt(ourL / ourW)}× faster`);
    lines.push(
      `medians of ${runs} runs; raw seconds: ${JSON.stringify({ lockstep: Object.fromEntries(lockstep), windowed: Object.fromEntries(windowed), concurrent: Object.fromEntries([...storm].map(([k, v]) => [k, v.seconds])), ownAddress: Object.fromEntries([...ownAddress].map(([k, v]) => [k, v.seconds])) }, (_, x: unknown) => (typeof x === 'number' ? Number(x.toFixed(3)) : x))}`,
    );
    console.log(lines.join('\n'));
  } finally {
    await stopChildren(servers.map((s) => s.child));
    rmSync(base, { recursive: true, force: true });
  }
}
