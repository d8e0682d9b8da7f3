// DHCP throughput: perfdhcp (kea-admin) in one namespace against pxe-pilot, dnsmasq and
// kea-dhcp4 in another, same pool, same offered rates. Not a test: prints a Markdown table.
//   sudo node --import tsx bench/dhcp/compare.ts [rates=2000,5000] [seconds=10] [servers=pxe-pilot,dnsmasq,kea]
// BENCH_ROUNDS=N repeats the whole set N times (the server order rotating per round); every row
// carries the load average at its start.
// BENCH_COMPILED=1 runs pxe-pilot as production does (bin/pxe-pilot.mjs, dist/, an INI profile)
// instead of the DHCP service alone through tsx.
// Everything runs inside namespaces this script makes and removes; nothing touches the host's LANs.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { collectOutput, NetLab, waitFor } from '../../test/helpers/netns.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RUN_SERVER = fileURLToPath(new URL('../../test/helpers/run-dhcp-service.ts', import.meta.url));
const SERVER = '10.77.0.1';
const CLIENT = '10.77.0.2';
const RANGE = ['10.77.1.0', '10.77.255.250'] as const;
const CLIENTS = 60_000;

const rates = (process.argv[2] ?? '2000,5000').split(',').map(Number);
const seconds = Number(process.argv[3] ?? 10);
const servers = (process.argv[4] ?? 'pxe-pilot,dnsmasq,kea').split(',');

interface Result {
  server: string;
  rate: number;
  achieved: number;
  doDrops: string;
  raDrops: string;
  leases: string;
  load: string;
}

function startCommand(server: string, dir: string): string[] {
  switch (server) {
    case 'pxe-pilot': {
      if (process.env.BENCH_COMPILED) {
        // The daemon as production runs it: compiled (dist/, `npm run build`), one INI profile,
        // the default log level, HTTP and TFTP off the path (bound inside the namespace only).
        const ini = join(dir, 'pxe-pilot.ini');
        writeFileSync(
          ini,
          [
            '[server]',
            `address = ${SERVER}`,
            'interface = srv0',
            `state_dir = ${join(dir, 'state')}`,
            '[http]',
            'port = 18280',
            `bind = ${SERVER}`,
            '[https]',
            'enabled = false',
            '[tftp]',
            'enabled = false',
            '[dhcp]',
            'mode = server',
            `range_start = ${RANGE[0]}`,
            `range_end = ${RANGE[1]}`,
            'netmask = 255.255.0.0',
            `router = ${SERVER}`,
            `dns = ${SERVER}`,
            'lease_time = 3600',
            '',
          ].join('\n'),
        );
        return [
          process.execPath,
          ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []),
          join(REPO, 'bin/pxe-pilot.mjs'),
          '--config',
          ini,
        ];
      }
      const profile = {
        server: { address: SERVER, interface: 'srv0' },
        dhcp: { mode: 'server', rangeStart: RANGE[0], rangeEnd: RANGE[1], netmask: '255.255.0.0', router: SERVER, dns: [SERVER], leaseTime: 3600 },
      };
      return [
        process.execPath,
        ...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []),
        '--import',
        'tsx',
        RUN_SERVER,
        JSON.stringify({ service: 'dhcp', stateDir: join(dir, 'state'), profile }),
      ];
    }
    case 'dnsmasq':
      return [
        'dnsmasq',
        '-d',
        '-k',
        '--port=0',
        '--no-resolv',
        '--no-hosts',
        '--interface=srv0',
        '--bind-interfaces',
        '--no-ping',
        '--dhcp-authoritative',
        `--dhcp-range=${RANGE[0]},${RANGE[1]},255.255.0.0,1h`,
        '--dhcp-lease-max=200000',
        `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        '--user=root',
        '--log-facility=-',
        '--quiet-dhcp',
        ...(process.env.DNSMASQ_EXTRA ? process.env.DNSMASQ_EXTRA.split(' ') : []),
      ];
    case 'kea': {
      const config = {
        Dhcp4: {
          'interfaces-config': { interfaces: ['srv0'], 'dhcp-socket-type': 'raw' },
          'lease-database': { type: 'memfile', persist: true, name: join(dir, 'kea-leases4.csv'), 'lfc-interval': 0 },
          'multi-threading': { 'enable-multi-threading': true, 'thread-pool-size': 2, 'packet-queue-size': 64 },
          'valid-lifetime': 3600,
          subnet4: [{ subnet: '10.77.0.0/16', pools: [{ pool: `${RANGE[0]} - ${RANGE[1]}` }], 'option-data': [{ name: 'routers', data: SERVER }] }],
          loggers: [{ name: 'kea-dhcp4', severity: 'WARN', output_options: [{ output: 'stdout' }] }],
        },
      };
      writeFileSync(join(dir, 'kea.json'), JSON.stringify(config));
      return ['env', `KEA_PIDFILE_DIR=${dir}`, `KEA_LOCKFILE_DIR=${dir}`, 'kea-dhcp4', '-c', join(dir, 'kea.json')];
    }
    default:
      throw new Error(`unknown server ${server}`);
  }
}

function leaseCount(server: string, dir: string): string {
  try {
    if (server === 'pxe-pilot') {
      const db = new Database(join(dir, 'state', 'pxe-pilot.sqlite'), { readonly: true });
      const n = (db.prepare("SELECT COUNT(*) AS n FROM leases WHERE state = 'bound'").get() as { n: number }).n;
      db.close();
      return `${n} (SQLite, fsync per commit)`;
    }
    // The others' lease files: lines naming an address (dnsmasq: one per lease; Kea's CSV appends one per change).
    const file = server === 'dnsmasq' ? join(dir, 'dnsmasq.leases') : join(dir, 'kea-leases4.csv');
    if (!existsSync(file)) return '0';
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /\b10\.77\.\d+\.\d+\b/.test(l));
    return server === 'kea' ? `${new Set(lines.map((l) => l.split(',')[0])).size} (memfile CSV)` : `${lines.length} (lease file)`;
  } catch (err) {
    return `? (${(err as Error).message})`;
  }
}

async function runOne(server: string, rate: number): Promise<Result> {
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const lab = new NetLab('bench');
  const dir = mkdtempSync(join(tmpdir(), 'pxp-bench-'));
  try {
    await lab.addNamespace('srv');
    await lab.addNamespace('cli');
    await lab.addVethPair('srv', 'srv0', `${SERVER}/16`, 'cli', 'cli0', `${CLIENT}/16`);
    const child = lab.spawn('srv', startCommand(server, dir), { cwd: REPO });
    const out = collectOutput(child);
    // run-dhcp-service prints {ready}; the daemon logs its summary ("... dhcp ...") at info once serving.
    if (server === 'pxe-pilot') await waitFor('pxe-pilot to start', () => out.text().includes('ready') || out.text().includes('"services"'), 20_000);
    else await new Promise((r) => setTimeout(r, 1500));
    // perfdhcp on the client interface, as machines on the boot LAN (PERF_LOCAL=10.77.0.2 makes it a relay instead).
    const perf = await lab.exec(
      'cli',
      ['perfdhcp', '-4', '-l', process.env.PERF_LOCAL ?? 'cli0', '-r', String(rate), '-p', String(seconds), '-R', String(CLIENTS), '-W', '2000000', SERVER],
      {
        allowFail: true,
        timeoutMs: (seconds + 30) * 1000,
      },
    );
    const text = perf.stdout + perf.stderr;
    if (process.env.BENCH_VERBOSE) process.stderr.write(text);
    await lab.stop(child);
    // perfdhcp's own "Rate" divides by the test period plus the -W wait; completed REQUEST-ACKs over the period is the rate clients saw.
    const received = [...text.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1]));
    const achieved = received.length >= 2 ? received[1]! / seconds : NaN;
    const drops = [...text.matchAll(/drops ratio: ([\d.]+ ?%)/g)].map((m) => m[1]!.replace(' ', ''));
    if (Number.isNaN(achieved)) process.stderr.write(`${server} @${rate}: could not parse perfdhcp output:\n${text}\n${out.text()}\n`);
    return { server, rate, achieved, doDrops: drops[0] ?? '?', raDrops: drops[1] ?? '?', leases: leaseCount(server, dir), load };
  } finally {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results: Result[] = [];
const rounds = Number(process.env.BENCH_ROUNDS ?? 1);
for (let round = 0; round < rounds; round++) {
  for (const rate of rates) {
    for (const server of servers.map((_, i) => servers[(i + round) % servers.length]!)) {
      const r = await runOne(server, rate);
      results.push(r);
      process.stderr.write(`${server} @ ${rate}/s: ${r.achieved} 4-way/s, drops DO ${r.doDrops} RA ${r.raDrops} (load ${r.load})\n`);
    }
  }
}
console.log(`| server | offered /s | achieved 4-way /s | DISCOVER-OFFER drops | REQUEST-ACK drops | bound leases on disk | load average |`);
console.log(`|---|---|---|---|---|---|---|`);
for (const r of results) console.log(`| ${r.server} | ${r.rate} | ${r.achieved.toFixed(0)} | ${r.doDrops} | ${r.raDrops} | ${r.leases} | ${r.load} |`);
