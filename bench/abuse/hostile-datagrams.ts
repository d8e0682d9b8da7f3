// Hostile datagrams against a running pxe-pilot (DHCP 67, ProxyDHCP 4011, TFTP 69), inside
// network namespaces this script creates and always removes. Run by hand, as root, never in CI:
//   node --import tsx bench/abuse/hostile-datagrams.ts [--count 1000000] [--mode server|proxy] [--seconds 1800]
// Bounded in count (at most 1,000,000) and time; ends only the processes it started.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectOutput, NetLab, waitFor } from '../../test/helpers/netns.ts';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '100000' }, mode: { type: 'string', default: 'server' }, seconds: { type: 'string', default: '1800' } },
});
const mode = values.mode === 'proxy' ? 'proxy' : 'server';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SERVER = '10.66.0.1';
const dir = mkdtempSync(join(tmpdir(), 'pxp-abuse-'));
const lab = new NetLab('abuse');

try {
  await lab.addNamespace('srv');
  await lab.addNamespace('attacker');
  await lab.addBridge('srv', 'br0', `${SERVER}/24`);
  await lab.attachToBridge('srv', 'br0', 'p-att', 'attacker', 'eth0', '10.66.0.2/24');
  await lab.exec('attacker', ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
  const ini = join(dir, 'pxe-pilot.ini');
  writeFileSync(
    ini,
    [
      '[server]',
      `address = ${SERVER}`,
      'interface = br0',
      `state_dir = ${join(dir, 'state')}`,
      'log_level = warn',
      '[http]',
      'port = 8080',
      '[https]',
      'enabled = false',
      '[tftp]',
      'root = /usr/lib/ipxe',
      '[dhcp]',
      `mode = ${mode}`,
      ...(mode === 'server' ? ['range_start = 10.66.0.100', 'range_end = 10.66.0.200', 'netmask = 255.255.255.0'] : []),
      '[host 02:aa:00:00:00:01]',
      'ip = 10.66.0.50',
      '',
    ].join('\n'),
  );
  const daemon = lab.spawn('srv', [process.execPath, '--import', 'tsx', 'src/cli.ts', '--config', ini], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = collectOutput(daemon);
  await waitFor(
    'pxe-pilot to start',
    async () =>
      daemon.exitCode !== null ||
      (await lab.exec('srv', ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://${SERVER}:8080/health`], { allowFail: true })).stdout === '200',
    30_000,
    300,
  );
  if (daemon.exitCode !== null) throw new Error(`pxe-pilot exited: ${log.text()}`);
  const rssBefore = await lab.exec('srv', ['ps', '-o', 'rss=', '-p', String(daemon.pid)]);
  const attacker = await lab.exec(
    'attacker',
    [process.execPath, '--import', 'tsx', fileURLToPath(new URL('./attacker.ts', import.meta.url)), SERVER, values.count, '10000', values.seconds, mode],
    { timeoutMs: (Number(values.seconds) + 120) * 1000, allowFail: true },
  );
  const rssAfter = await lab.exec('srv', ['ps', '-o', 'rss=', '-p', String(daemon.pid)]);
  process.stdout.write(attacker.stdout);
  if (attacker.code !== 0) process.stdout.write(`attacker exited ${attacker.code}: ${attacker.stderr.slice(-2000)}\n`);
  const errors = log
    .text()
    .split('\n')
    .filter((l) => /"level":(50|60)/.test(l));
  process.stdout.write(
    `${JSON.stringify({ mode, daemonAlive: daemon.exitCode === null, errorLines: errors.length, rssKbBefore: Number(rssBefore.stdout.trim()), rssKbAfter: Number(rssAfter.stdout.trim()) })}\n`,
  );
  for (const e of errors.slice(0, 5)) process.stdout.write(`error line: ${e.slice(0, 400)}\n`);
  await lab.stop(daemon);
} finally {
  await lab.destroy();
  rmSync(dir, { recursive: true, force: true });
}
