// SIGHUP reloads during a DHCP storm, inside namespaces this script creates and removes: the
// real daemon in server mode, a crafted-packet client leasing many MACs, and a SIGHUP every
// `--every` seconds, while machines in the storm namespace keep fetching a file over TFTP (three
// loops) and HTTP (one loop) with curl. Every ACKed lease must be on disk afterwards, every
// transfer must have arrived whole, and the daemon must still run.
//   node --import tsx bench/abuse/sighup-storm.ts [--clients 2000] [--seconds 60] [--every 2]
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectOutput, NetLab, waitFor } from '../../test/helpers/netns.ts';

const { values } = parseArgs({
  options: { clients: { type: 'string', default: '2000' }, seconds: { type: 'string', default: '60' }, every: { type: 'string', default: '2' } },
});
const clients = Math.min(Number(values.clients), 20_000);
const seconds = Math.min(Number(values.seconds), 1800);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const STORM = fileURLToPath(new URL('../../test/helpers/storm-client.ts', import.meta.url));
const SERVER = '10.67.0.1';
const dir = mkdtempSync(join(tmpdir(), 'pxp-hup-'));
const lab = new NetLab('hup');
try {
  await lab.addNamespace('srv');
  await lab.addNamespace('storm');
  await lab.addBridge('srv', 'br0', `${SERVER}/16`);
  await lab.attachToBridge('srv', 'br0', 'p-storm', 'storm', 'eth0', '10.67.0.2/16');
  await lab.exec('storm', ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
  const ini = join(dir, 'p.ini');
  writeFileSync(
    ini,
    [
      '[server]',
      `address = ${SERVER}`,
      'interface = br0',
      `state_dir = ${join(dir, 'state')}`,
      'log_level = info',
      '[http]',
      'port = 8080',
      '[https]',
      'enabled = false',
      '[tftp]',
      'root = /usr/lib/ipxe',
      '[dhcp]',
      'mode = server',
      'range_start = 10.67.1.0',
      'range_end = 10.67.200.255',
      'netmask = 255.255.0.0',
      '',
    ].join('\n'),
  );
  const daemon = lab.spawn('srv', [process.execPath, '--import', 'tsx', 'src/cli.ts', '--config', ini], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = collectOutput(daemon);
  await waitFor('pxe-pilot to start', () => log.text().includes('serving as') || daemon.exitCode !== null, 30_000, 100);
  const storm = lab.spawn(
    'storm',
    [process.execPath, '--import', 'tsx', STORM, 'storm', String(clients), String(seconds), String(Math.max(1, Math.ceil(clients / (seconds * 100))))],
    { cwd: REPO },
  );
  const acks = collectOutput(storm);
  // Whole-file fetches for the storm's duration; a transfer cut by a reload shows as a short or failed one.
  const file = 'ipxe.pxe';
  const size = statSync(join('/usr/lib/ipxe', file)).size;
  const loop = (name: string, url: string, extra: string): string =>
    `( ok=0; bad=0; end=$((SECONDS+${seconds})); while [ $SECONDS -lt $end ]; do n=$(curl -s ${extra} -o /dev/null -w '%{size_download}' ${url}); if [ "$n" = ${size} ]; then ok=$((ok+1)); else bad=$((bad+1)); fi; done; echo "${name} ok=$ok bad=$bad" ) &`;
  const fetcher = lab.spawn('storm', [
    'bash',
    '-c',
    [1, 2, 3].map((i) => loop(`tftp${i}`, `tftp://${SERVER}/${file}`, '--tftp-blksize 1468')).join(' ') +
      ' ' +
      loop('http', `http://${SERVER}:8080/ipxe/${file}`, '') +
      ' wait',
  ]);
  const fetched = collectOutput(fetcher);
  let hups = 0;
  const hupper = setInterval(
    () => {
      daemon.kill('SIGHUP');
      hups += 1;
    },
    Number(values.every) * 1000,
  );
  await new Promise<void>((resolve) => storm.once('exit', () => resolve()));
  if (fetcher.exitCode === null) await new Promise<void>((resolve) => fetcher.once('exit', () => resolve()));
  clearInterval(hupper);
  await new Promise((r) => setTimeout(r, 500));
  const acked = new Map(
    acks
      .text()
      .split('\n')
      .filter((l) => l.startsWith('ACK '))
      .map((l) => l.split(' ').slice(1) as [string, string]),
  );
  const db = new Database(join(dir, 'state', 'pxe-pilot.sqlite'), { readonly: true });
  const onDisk = new Map((db.prepare("SELECT mac, ip FROM leases WHERE state = 'bound'").all() as { mac: string; ip: string }[]).map((r) => [r.mac, r.ip]));
  db.close();
  const lost = [...acked].filter(([mac, ip]) => onDisk.get(mac) !== ip);
  const reloads = (log.text().match(/reloaded /g) ?? []).length;
  const counts = [...fetched.text().matchAll(/(\w+) ok=(\d+) bad=(\d+)/g)].map((m) => ({ loop: m[1] ?? '', ok: Number(m[2]), bad: Number(m[3]) }));
  const transfers = {
    tftpWhole: counts.filter((c) => c.loop.startsWith('tftp')).reduce((n, c) => n + c.ok, 0),
    tftpCut: counts.filter((c) => c.loop.startsWith('tftp')).reduce((n, c) => n + c.bad, 0),
    httpWhole: counts.find((c) => c.loop === 'http')?.ok ?? 0,
    httpCut: counts.find((c) => c.loop === 'http')?.bad ?? 0,
  };
  process.stdout.write(
    `${JSON.stringify({ clients, seconds, sighups: hups, reloadsLogged: reloads, acked: acked.size, lostLeases: lost.length, ...transfers, daemonAlive: daemon.exitCode === null })}\n`,
  );
  await lab.stop(daemon);
} finally {
  await lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}
