// kill -9 at random moments during a storm, --rounds times, inside namespaces this script makes
// and removes. Each round starts the real daemon (server mode) on the same state folder, runs a
// DHCP storm (test/helpers/storm-client.ts, the same MACs every round) and machines that boot
// and fetch their Proxmox answer (bench/abuse/answer-client.ts), and SIGKILLs the daemon after a
// random delay. After every kill, on disk: every ACKed lease is bound at the ACKed address, every
// machine whose answer was served has its install consumed; across rounds: no machine whose
// answer was served is ever handed the installer again. Ends only the processes it started.
//   sudo node --import tsx bench/abuse/kill9-storm.ts [--rounds 50] [--leases 300] [--installs 40] [--max-delay 6]
import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectOutput, NetLab, waitFor } from '../../test/helpers/netns.ts';
import { renderIni } from '../../test/helpers/daemon.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '50' },
    leases: { type: 'string', default: '300' },
    installs: { type: 'string', default: '40' },
    'max-delay': { type: 'string', default: '6' },
  },
});
const rounds = Math.min(Number(values.rounds), 500);
const leaseClients = Math.min(Number(values.leases), 5000);
const installsPerRound = Math.min(Number(values.installs), 500);
const maxDelayMs = Number(values['max-delay']) * 1000;
if (process.getuid?.() !== 0) {
  process.stderr.write('kill9-storm: run as root (network namespaces)\n');
  process.exit(2);
}
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const STORM = fileURLToPath(new URL('../../test/helpers/storm-client.ts', import.meta.url));
const ANSWERS = fileURLToPath(new URL('./answer-client.ts', import.meta.url));
const SERVER = '10.68.0.1';
const BASE = `http://${SERVER}:8080`;
const installMacs = Array.from(
  { length: rounds * installsPerRound },
  (_, i) => `52:54:00:9a:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
);

const dir = mkdtempSync(join(tmpdir(), 'pxp-kill9-'));
const stateDir = join(dir, 'state');
const lab = new NetLab('kill9');

function writeConfig(): string {
  const image = join(dir, 'assets', 'proxmox-ve', '9.1-1');
  mkdirSync(image, { recursive: true });
  writeFileSync(join(image, 'vmlinuz'), 'kernel');
  writeFileSync(join(image, 'initrd'), 'initrd');
  mkdirSync(join(dir, 'answers'), { recursive: true });
  writeFileSync(join(dir, 'answers', 'default.toml'), '[global]\nfqdn = "{{hostname}}.lab"\n');
  const ini = join(dir, 'pxe-pilot.ini');
  writeFileSync(
    ini,
    renderIni({
      sections: {
        server: { address: SERVER, interface: 'br0', state_dir: stateDir, log_level: 'warn' },
        http: { port: 8080, bind: '0.0.0.0' },
        // Plain HTTP inside the namespaces: what is tested here is what survives kill -9.
        https: { enabled: false },
        tftp: { enabled: false },
        dhcp: { mode: 'server', range_start: '10.68.1.0', range_end: '10.68.200.255', netmask: '255.255.0.0', lease_time: 86400 },
        assets: { dir: join(dir, 'assets') },
        answers: { dir: join(dir, 'answers') },
      },
      hosts: installMacs.map((mac, i) => ({ mac, hostname: `pve${i}`, action: 'install' as const, profile: 'proxmox-ve/9.1-1' })),
    }),
  );
  return ini;
}

function lines(text: string, tag: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${tag} `))
    .map((l) => l.split(' ').slice(1));
}

const acked = new Map<string, string>();
const served = new Set<string>();
let secondInstalls = 0;
let addressChanges = 0;
const perRound: { round: number; delayMs: number; midStorm: boolean; acks: number; served: number; lostLeases: number; lostInstalls: number }[] = [];
try {
  await lab.addNamespace('srv');
  await lab.addNamespace('storm');
  await lab.addBridge('srv', 'br0', `${SERVER}/16`);
  await lab.attachToBridge('srv', 'br0', 'p-storm', 'storm', 'eth0', '10.68.0.2/16');
  await lab.exec('storm', ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
  const ini = writeConfig();
  const started = Date.now();
  for (let round = 1; round <= rounds; round++) {
    const daemon = lab.spawn('srv', [process.execPath, '--import', 'tsx', 'src/cli.ts', '--config', ini], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = collectOutput(daemon);
    await waitFor(
      'pxe-pilot to answer',
      async () => {
        if (daemon.exitCode !== null) throw new Error(`pxe-pilot exited (${daemon.exitCode}) in round ${round}: ${log.text().slice(-2000)}`);
        return (await lab.exec('storm', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${BASE}/health`], { allowFail: true })).stdout === '200';
      },
      60_000,
      200,
    );
    // This round's installers plus every machine already served (they must now get their disk).
    const fresh = installMacs.slice((round - 1) * installsPerRound, round * installsPerRound);
    const again = [...served].sort(() => Math.random() - 0.5).slice(0, installsPerRound);
    const storm = lab.spawn(
      'storm',
      [process.execPath, '--import', 'tsx', STORM, 'storm', String(leaseClients), '8', String(Math.max(1, Math.ceil(leaseClients / 400)))],
      { cwd: REPO },
    );
    const answers = lab.spawn('storm', [process.execPath, '--import', 'tsx', ANSWERS, BASE, [...fresh, ...again].join(','), '2'], { cwd: REPO });
    const stormOut = collectOutput(storm);
    const answerOut = collectOutput(answers);
    // The clients take seconds to start on a loaded machine: the random moment counts from the storm's first ACK.
    await waitFor('the storm to start', () => stormOut.text().includes('ACK ') || storm.exitCode !== null, 60_000, 50).catch(() => undefined);
    const delayMs = Math.floor(Math.random() * maxDelayMs);
    await new Promise((r) => setTimeout(r, delayMs));
    const exited = new Promise<void>((r) => (daemon.exitCode !== null ? r() : daemon.once('exit', () => r())));
    daemon.kill('SIGKILL');
    await exited;
    await Promise.all([storm, answers].map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())))));

    const roundAcks = lines(stormOut.text(), 'ACK');
    for (const [mac = '', ip = ''] of roundAcks) {
      if (acked.has(mac) && acked.get(mac) !== ip) addressChanges += 1;
      acked.set(mac, ip);
    }
    for (const [mac] of lines(answerOut.text(), 'INSTALLER')) if (served.has(mac!)) secondInstalls += 1;
    const roundServed = lines(answerOut.text(), 'SERVED').map(([mac]) => mac!);
    // Did the kill land while the storm still ran (leases or installs left to do)?
    const midStorm = roundAcks.length < leaseClients || roundServed.length < fresh.filter((m) => !served.has(m)).length;
    for (const mac of roundServed) served.add(mac);

    const db = new Database(join(stateDir, 'pxe-pilot.sqlite'), { readonly: true });
    const bound = new Map((db.prepare("SELECT mac, ip FROM leases WHERE state = 'bound'").all() as { mac: string; ip: string }[]).map((r) => [r.mac, r.ip]));
    const consumed = new Set(
      (db.prepare("SELECT mac FROM nodes WHERE state IN ('installing', 'installed') AND consumed_at IS NOT NULL").all() as { mac: string }[]).map((r) => r.mac),
    );
    db.close();
    const lostLeases = [...acked].filter(([mac, ip]) => bound.get(mac) !== ip).length;
    const lostInstalls = [...served].filter((mac) => !consumed.has(mac)).length;
    perRound.push({ round, delayMs, midStorm, acks: roundAcks.length, served: roundServed.length, lostLeases, lostInstalls });
    process.stderr.write(
      `round ${round}: killed ${delayMs} ms after the first ACK${midStorm ? ', mid-storm' : ', after the storm'}; ${roundAcks.length} ACKs, ${roundServed.length} answers served this round; on disk: ${lostLeases} leases lost, ${lostInstalls} installs lost; second installs so far ${secondInstalls}\n`,
    );
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(
    `${JSON.stringify({
      rounds,
      minutes: Math.round((Date.now() - started) / 6000) / 10,
      distinctAckedLeases: acked.size,
      acksTotal: perRound.reduce((n, r) => n + r.acks, 0),
      answersServed: served.size,
      killsMidStorm: perRound.filter((r) => r.midStorm).length,
      roundsWithLostLeases: perRound.filter((r) => r.lostLeases > 0).length,
      roundsWithLostInstalls: perRound.filter((r) => r.lostInstalls > 0).length,
      addressChanges,
      secondInstalls,
      killDelayMs: { min: Math.min(...perRound.map((r) => r.delayMs)), max: Math.max(...perRound.map((r) => r.delayMs)) },
      load,
    })}\n`,
  );
} finally {
  await lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}
