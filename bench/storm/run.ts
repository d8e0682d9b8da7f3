// Boot storm: N simulated machines power on at once and go through the whole chain (DHCP,
// ProxyDHCP, TFTP, iPXE's DHCP, boot scripts, kernel + initrd over HTTP), against pxe-pilot in
// server mode, pxe-pilot in proxy mode beside a dnsmasq router, and dnsmasq (DHCP+TFTP) + nginx
// (HTTP) serving the same files, in the same run. Not a test: prints a Markdown table.
//   sudo node --import tsx bench/storm/run.ts [--machines 100,500] [--targets pilot-server,pilot-proxy,dnsmasq-nginx]
//        [--kernel-mb 10] [--initrd-mb 40] [--arch efi64] [--spread-ms 0] [--timeout 600] [--json FILE]
//        [--server-tcp-wmem "MIN DEFAULT MAX"]   (net.ipv4.tcp_wmem in the servers' namespace only)
// Everything runs in namespaces it makes and deletes (also on failure); it ends only the
// processes it started, by pid; each storm is bounded by --timeout seconds.
import { dnsmasqArgv } from '../../test/helpers/dnsmasq.ts';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectOutput, NetLab, waitFor } from '../../test/helpers/netns.ts';
import { buildBootNet, installProfile, net, startPilot, writeBootFiles, httpPort } from '../../test/helpers/boot-net.ts';
import { ARCHS, type ArchName } from '../../src/probe/probe.ts';
import { stormMac, type StormClientsInput, type StormClientsOutput } from './clients.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLIENTS = fileURLToPath(new URL('./clients.ts', import.meta.url));
const TARGETS = ['pilot-server', 'pilot-proxy', 'dnsmasq-nginx'] as const;
type Target = (typeof TARGETS)[number];

const { values } = parseArgs({
  options: {
    machines: { type: 'string', default: '100,500' },
    targets: { type: 'string', default: TARGETS.join(',') },
    'kernel-mb': { type: 'string', default: '10' },
    'initrd-mb': { type: 'string', default: '40' },
    arch: { type: 'string', default: 'efi64' },
    'spread-ms': { type: 'string', default: '0' },
    timeout: { type: 'string', default: '600' },
    json: { type: 'string' },
    'server-tcp-wmem': { type: 'string' },
  },
});

function usage(message: string): never {
  process.stderr.write(`storm: ${message}\n`);
  process.exit(2);
}
const machineCounts = values.machines.split(',').map(Number);
if (machineCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) usage('--machines: whole numbers from 1 to 5000, comma-separated');
const targets = values.targets.split(',') as Target[];
if (targets.some((t) => !(TARGETS as readonly string[]).includes(t))) usage(`--targets: some of ${TARGETS.join(', ')}`);
const arch = values.arch as ArchName;
if (!(ARCHS as readonly string[]).includes(arch) || arch === 'efi64-http')
  usage('--arch: bios, efi64 or ipxe (the dnsmasq reference has no UEFI HTTP boot set up)');
const kernelBytes = Math.round(Number(values['kernel-mb']) * 1024 * 1024);
const initrdBytes = Math.round(Number(values['initrd-mb']) * 1024 * 1024);
if (!(kernelBytes > 0 && initrdBytes > 0)) usage('--kernel-mb and --initrd-mb: positive sizes');
const spreadMs = Number(values['spread-ms']);
const serverTcpWmem = values['server-tcp-wmem'];
if (serverTcpWmem !== undefined && !/^\d+ \d+ \d+$/.test(serverTcpWmem)) usage('--server-tcp-wmem: three byte counts, "MIN DEFAULT MAX"');
const timeoutMs = Number(values.timeout) * 1000;
if (process.getuid?.() !== 0) usage('run as root: the storm needs network namespaces');

interface PhaseStats {
  count: number;
  p50: number;
  p99: number;
}

interface StormResult {
  target: Target;
  machines: number;
  wallMs: number;
  ok: number;
  failures: { phase: string; reason: string }[];
  phases: Record<string, PhaseStats>;
  /** The HTTP downloads seen together (phases' end times, from clients.ts): see downloadWindow. */
  downloads: Record<'kernel' | 'initrd' | 'kernel+initrd', DownloadWindow>;
  /** Peak RSS (VmHWM) of each server process, MB. */
  peakRssMb: Record<string, number>;
  /** CPU seconds (user + system) each server used during the storm, its children included. */
  cpuS: Record<string, number>;
  load: string;
}

/**
 * A download phase across all machines: from the first request to the last byte, how many
 * downloads ran at once on average, and the aggregate rate. A phase's per-machine time grows
 * with how many machines download at once, which the earlier phases decide (a slower TFTP
 * spreads the machines out): the aggregate rate compares the HTTP servers, the p50 does not.
 */
interface DownloadWindow {
  windowMs: number;
  meanAtOnce: number;
  mbPerS: number;
}

function downloadWindow(results: StormClientsOutput['results'], names: string[]): DownloadWindow {
  let first = Infinity;
  let last = -Infinity;
  let busyMs = 0;
  let bytes = 0;
  for (const r of results) {
    for (const p of r.phases) {
      if (!p.ok || !names.includes(p.name) || p.endMs === undefined) continue;
      first = Math.min(first, p.endMs - p.ms);
      last = Math.max(last, p.endMs);
      busyMs += p.ms;
      bytes += p.bytes ?? 0;
    }
  }
  const windowMs = last - first;
  return windowMs > 0 ? { windowMs, meanAtOnce: busyMs / windowMs, mbPerS: bytes / 1e6 / (windowMs / 1000) } : { windowMs: NaN, meanAtOnce: NaN, mbPerS: NaN };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function vmHwmMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmHWM:'));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat, after the name). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const loadNow = (): string =>
  execFileSync('uptime', { encoding: 'utf8' })
    .trim()
    .replace(/^.*load average/, 'load average');

/** dnsmasq doing DHCP and TFTP on the bridge, as the reference boot server. */
async function startDnsmasq(lab: NetLab, dir: string, tftpRoot: string): Promise<ChildProcess> {
  const base = `http://${net.pxe}:${httpPort}`;
  const dnsmasq = lab.spawn('lan', [
    ...dnsmasqArgv(net.bridge),
    '--no-ping',
    '--dhcp-authoritative',
    '--quiet-dhcp',
    '--quiet-tftp',
    '--dhcp-lease-max=70000',
    `--dhcp-range=${net.rangeStart},${net.rangeEnd},${net.netmask},1h`,
    `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
    '--enable-tftp',
    `--tftp-root=${tftpRoot}`,
    '--tftp-max=5000',
    '--dhcp-userclass=set:ipxe,iPXE',
    '--dhcp-match=set:efi64,option:client-arch,7',
    `--dhcp-boot=tag:ipxe,${base}/boot.ipxe`,
    '--dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi',
    '--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe',
  ]);
  const out = collectOutput(dnsmasq);
  await waitFor('dnsmasq to start', () => out.text().includes('TFTP root') || dnsmasq.exitCode !== null, 10_000);
  if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${out.text()}`);
  return dnsmasq;
}

/** nginx serving the same scripts and files pxe-pilot serves, with its own config, in the namespace. */
async function startNginx(lab: NetLab, dir: string, assets: string): Promise<ChildProcess> {
  const base = `http://${net.pxe}:${httpPort}`;
  const www = join(dir, 'www');
  const prefix = join(dir, 'nginx');
  mkdirSync(www, { recursive: true });
  mkdirSync(join(prefix, 'tmp'), { recursive: true });
  writeFileSync(
    join(www, 'boot.ipxe'),
    [
      '#!ipxe',
      `chain --autofree ${base}/boot?mac=\${mac:hexhyp}&arch=\${buildarch}&platform=\${platform} || goto unreachable`,
      'exit',
      ':unreachable',
      'exit',
      '',
    ].join('\n'),
  );
  const [product, version] = installProfile.split('/');
  writeFileSync(
    join(www, 'boot-script'),
    [
      '#!ipxe',
      'imgfree',
      `kernel ${base}/assets/${product}/${version}/vmlinuz initrd=initrd quiet || goto failed`,
      `initrd --name initrd ${base}/assets/${product}/${version}/initrd || goto failed`,
      'boot || goto failed',
      ':failed',
      'exit',
      '',
    ].join('\n'),
  );
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
user root;
master_process on;
worker_processes auto;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${join(prefix, 'tmp')};
  proxy_temp_path ${join(prefix, 'tmp')};
  fastcgi_temp_path ${join(prefix, 'tmp')};
  uwsgi_temp_path ${join(prefix, 'tmp')};
  scgi_temp_path ${join(prefix, 'tmp')};
  server {
    listen ${net.pxe}:${httpPort};
    root ${www};
    location = /boot.ipxe { default_type text/plain; }
    location = /boot { default_type text/plain; try_files /boot-script =404; }
    location /assets/ { alias ${assets}/; }
  }
}
`,
  );
  const nginx = lab.spawn('lan', ['nginx', '-c', conf, '-p', prefix]);
  const out = collectOutput(nginx);
  await waitFor(
    'nginx to answer',
    async () => {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${out.text()}`);
      const r = await lab.exec('lan', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${base}/boot.ipxe`], { allowFail: true });
      return r.stdout.trim() === '200';
    },
    10_000,
    100,
  );
  return nginx;
}

async function storm(target: Target, machines: number, macTag: number, files: { tftpRoot: string; assets: string }): Promise<StormResult> {
  const lab = new NetLab('storm');
  const dir = mkdtempSync(join(tmpdir(), 'pxp-storm-'));
  const mode = target === 'pilot-proxy' ? 'proxy' : 'server';
  try {
    await buildBootNet(lab, mode, dir);
    // A neighbour entry per machine on the server side: the default table (1024) is too small.
    await lab.exec(
      'lan',
      ['sysctl', '-qw', 'net.ipv4.neigh.default.gc_thresh1=8192', 'net.ipv4.neigh.default.gc_thresh2=16384', 'net.ipv4.neigh.default.gc_thresh3=32768'],
      { allowFail: true },
    );
    // The servers' send buffers (per namespace since Linux 4.15), to see what they cost the storm.
    if (serverTcpWmem !== undefined) await lab.exec('lan', ['sysctl', '-qw', `net.ipv4.tcp_wmem=${serverTcpWmem}`]);
    const servers: Record<string, ChildProcess> = {};
    if (target === 'dnsmasq-nginx') {
      servers.dnsmasq = await startDnsmasq(lab, dir, files.tftpRoot);
      servers.nginx = await startNginx(lab, dir, files.assets);
    } else {
      const macs = Array.from({ length: machines }, (_, i) => stormMac(macTag, i));
      const pilot = await startPilot(lab, { mode, dir, ...files, installMacs: macs, logLevel: 'warn', maxTransfers: 5000 });
      servers['pxe-pilot'] = pilot.child;
    }
    const load = loadNow();
    const input: StormClientsInput = { machines, arch, proxy: mode === 'proxy', server: net.pxe, interface: 'eth0', spreadMs, macTag };
    const clients = lab.spawn('clients', [process.execPath, '--import', 'tsx', CLIENTS, JSON.stringify(input)], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    clients.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    clients.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => clients.once('exit', (code) => resolve(code)));
    // Peak RSS is read while the servers still run (VmHWM is gone once they exit).
    const peakRssMb: Record<string, number> = {};
    const cpuS: Record<string, number> = {};
    const cpuAtStart: Record<string, number> = {};
    const serverPids = (child: ChildProcess): number[] => (child.pid === undefined ? [] : [child.pid, ...childPids(child.pid)]);
    const serverCpu = (child: ChildProcess): number => serverPids(child).reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    for (const [name, child] of Object.entries(servers)) cpuAtStart[name] = serverCpu(child);
    const sampleRss = (): void => {
      for (const [name, child] of Object.entries(servers)) {
        const mb = serverPids(child).reduce((sum: number, pid) => sum + (vmHwmMb(pid) || 0), 0);
        peakRssMb[name] = Math.max(peakRssMb[name] ?? 0, mb);
        cpuS[name] = serverCpu(child) - (cpuAtStart[name] ?? 0);
      }
    };
    const sampler = setInterval(sampleRss, 500);
    const timer = setTimeout(() => void lab.stop(clients, 1000), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    clearInterval(sampler);
    sampleRss();
    const line = stdout.trim().split('\n').at(-1) ?? '';
    if (!line.startsWith('{'))
      throw new Error(`the clients ended (${code}) without a result${code === null ? ` (stopped after ${timeoutMs / 1000} s)` : ''}: ${stderr.slice(-2000)}`);
    const output = JSON.parse(line) as StormClientsOutput;
    const byPhase = new Map<string, number[]>();
    for (const r of output.results) {
      // A phase that repeats in one machine (several chained scripts) counts once, summed.
      const perMachine = new Map<string, number>();
      for (const p of r.phases) if (p.ok) perMachine.set(p.name, (perMachine.get(p.name) ?? 0) + p.ms);
      for (const [name, ms] of perMachine) byPhase.set(name, [...(byPhase.get(name) ?? []), ms]);
      byPhase.set('total', [...(byPhase.get('total') ?? []), r.totalMs]);
    }
    // The machine that set the completion time, phase by phase: p99 hides the last few.
    const slowest = output.results.reduce((a, b) => (b.totalMs > a.totalMs ? b : a), output.results[0]!);
    process.stderr.write(
      `storm: ${target}: slowest machine ${slowest.mac}, ${fmtMs(slowest.totalMs)}: ${slowest.phases.map((p) => `${p.name} ${fmtMs(p.ms)}`).join(', ')}\n`,
    );
    const phases: Record<string, PhaseStats> = {};
    for (const [name, list] of byPhase) {
      list.sort((a, b) => a - b);
      phases[name] = { count: list.length, p50: percentile(list, 50), p99: percentile(list, 99) };
    }
    return {
      target,
      machines,
      wallMs: output.wallMs,
      ok: output.results.filter((r) => r.ok).length,
      failures: output.results.filter((r) => !r.ok).map((r) => r.failure!),
      phases,
      downloads: {
        kernel: downloadWindow(output.results, ['kernel']),
        initrd: downloadWindow(output.results, ['initrd']),
        'kernel+initrd': downloadWindow(output.results, ['kernel', 'initrd']),
      },
      peakRssMb,
      cpuS,
      load,
    };
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function table(results: StormResult[]): string {
  const phaseNames = ['dhcp', 'proxy-4011', 'tftp', 'dhcp-ipxe', 'proxy-4011-ipxe', 'bootstrap', 'boot-script', 'kernel', 'initrd', 'total'];
  const present = phaseNames.filter((n) => results.some((r) => r.phases[n]));
  const lines = [
    `| target | N | completion | ok / failed | peak RSS | ${present.map((n) => `${n} p50 / p99`).join(' | ')} |`,
    `|---|---|---|---|---|${present.map(() => '---').join('|')}|`,
  ];
  for (const r of results) {
    const rss = Object.entries(r.peakRssMb)
      .map(([name, mb]) => `${name} ${Math.round(mb)} MB`)
      .join(', ');
    lines.push(
      `| ${r.target} | ${r.machines} | ${fmtMs(r.wallMs)} | ${r.ok} / ${r.failures.length} | ${rss} | ${present.map((n) => (r.phases[n] ? `${fmtMs(r.phases[n].p50)} / ${fmtMs(r.phases[n].p99)}` : '–')).join(' | ')} |`,
    );
  }
  lines.push(
    '',
    '| target | N | server CPU | kernel: window, at once, aggregate | initrd: window, at once, aggregate | kernel + initrd: window, at once, aggregate |',
    '|---|---|---|---|---|---|',
  );
  for (const r of results) {
    const cpu = Object.entries(r.cpuS)
      .map(([name, s]) => `${name} ${s.toFixed(1)} s`)
      .join(', ');
    const w = (d: DownloadWindow): string => `${fmtMs(d.windowMs)}, ${d.meanAtOnce.toFixed(0)}, ${Math.round(d.mbPerS)} MB/s`;
    lines.push(`| ${r.target} | ${r.machines} | ${cpu} | ${w(r.downloads.kernel)} | ${w(r.downloads.initrd)} | ${w(r.downloads['kernel+initrd'])} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  for (const tool of ['dnsmasq', 'nginx', 'curl', 'ip']) {
    try {
      execFileSync('sh', ['-c', `command -v "$0"`, tool], { stdio: 'ignore' });
    } catch {
      usage(`${tool} is missing (apt-get install dnsmasq-base nginx-light curl iproute2, with policy-rc.d so nginx does not start on the host)`);
    }
  }
  if (!existsSync('/usr/lib/ipxe/snponly.efi')) usage('/usr/lib/ipxe/snponly.efi is missing (apt-get install ipxe)');
  const filesDir = mkdtempSync(join(tmpdir(), 'pxp-storm-files-'));
  const results: StormResult[] = [];
  try {
    process.stderr.write(`storm: writing a ${values['kernel-mb']} MB kernel and a ${values['initrd-mb']} MB initrd\n`);
    const files = writeBootFiles(filesDir, kernelBytes, initrdBytes);
    let macTag = 0x10;
    for (const machines of machineCounts) {
      for (const target of targets) {
        process.stderr.write(`storm: ${target}, ${machines} machines (${arch}) … `);
        const r = await storm(target, machines, macTag++, files);
        results.push(r);
        const reasons = [...new Set(r.failures.map((f) => `${f.phase}: ${f.reason}`))].slice(0, 3);
        const initrd = r.downloads.initrd;
        process.stderr.write(
          `${fmtMs(r.wallMs)}, ${r.ok} ok, ${r.failures.length} failed${reasons.length ? ` (${reasons.join('; ')})` : ''}; ` +
            `initrds ${Math.round(initrd.mbPerS)} MB/s over ${fmtMs(initrd.windowMs)}, ${initrd.meanAtOnce.toFixed(0)} at once; ${r.load}\n`,
        );
      }
    }
  } finally {
    rmSync(filesDir, { recursive: true, force: true });
  }
  process.stdout.write(
    `\n${arch}, kernel ${values['kernel-mb']} MB + initrd ${values['initrd-mb']} MB per machine, spread ${spreadMs} ms` +
      `${serverTcpWmem ? `, servers' tcp_wmem ${serverTcpWmem}` : ''}\n\n${table(results)}\n`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
}

await main();
