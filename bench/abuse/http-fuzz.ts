// Malformed HTTP against a running pxe-pilot on 127.0.0.1 (unprivileged ports): broken request
// lines, headers, chunked bodies, and JSON shapes against every route, over HTTP and HTTPS.
// Counts responses by status; a 500 or a dead daemon is a failure. Run by hand, never in CI:
//   node --import tsx bench/abuse/http-fuzz.ts [--count 20000] [--seconds 600]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import { connect as tls } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { count: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '600' } } });
const count = Math.min(Number(values.count), 1_000_000);
const deadline = Date.now() + Math.min(Number(values.seconds), 3600) * 1000;
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HTTP = 18380;
const HTTPS = 18443;
const TOKEN = 'fuzz-admin-token-0123456789';
const MAC = '52:54:00:aa:00:01';

let seed = 0x2545f491;
const rand = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
const noise = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(rand(256))).join('');

const ROUTES = [
  'GET /boot',
  `GET /boot?mac=${MAC}&arch=x86_64`,
  'GET /boot.ipxe',
  'GET /chain',
  'GET /menu.ipxe',
  `GET /install?mac=${MAC}&profile=a/b`,
  'GET /assets/x/../../etc/passwd',
  'GET /ipxe/snponly.efi',
  'POST /answer',
  'POST /webhook/proxmox',
  `GET /nocloud/${MAC}/user-data`,
  `GET /preseed/${MAC}.cfg`,
  'GET /hosts',
  `GET /hosts/${MAC}`,
  'GET /nodes',
  `GET /nodes/${MAC}`,
  `GET /nodes/${MAC}/explain`,
  `POST /nodes/${MAC}/reinstall`,
  `DELETE /nodes/${MAC}/reinstall`,
  `PUT /nodes/${MAC}/local-boot`,
  `DELETE /nodes/${MAC}/local-boot`,
  'GET /events?mac=zz&limit=-1',
  'GET /health',
];
const JSON_BODIES = [
  '{}',
  'null',
  '[]',
  '"x"',
  '1e999',
  '{"network_interfaces":null}',
  '{"network_interfaces":{"a":1}}',
  '{"network_interfaces":["x",1,null]}',
  '{"network_interfaces":[{"mac":"../../x"}]}',
  '{"dmi":{"system":{"serial":{"a":[]}}}}',
  '{"product":{"product":1}}',
  '{"__proto__":{"x":1}}',
  '{"a":' + '['.repeat(5000) + ']'.repeat(5000) + '}',
  '{"mode":"exit","options":{"x":"y"}}',
  '{"profile":"../../etc"}',
  '{',
  '{"a":"\\ud800"}',
];

/** One hostile request as raw bytes. */
function request(): string {
  const [method, path] = pick(ROUTES).split(' ') as [string, string];
  const body = pick(JSON_BODIES);
  const auth = rand(3) === 0 ? `Authorization: Bearer ${rand(2) ? TOKEN : noise(20)}\r\n` : '';
  switch (rand(9)) {
    case 0:
      return `${noise(1 + rand(200))}\r\n\r\n`;
    case 1:
      return `${method} ${path}${noise(rand(30))} HTTP/1.1\r\nHost: x\r\n\r\n`;
    case 2:
      return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${noise(rand(100))}: ${noise(rand(100))}\r\n\r\n`;
    case 3:
      return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${pick(['5', 'zz', 'ffffffffff', '-1', '3;x=y'])}\r\n${body.slice(0, 5)}\r\n0\r\n\r\n`;
    case 4:
      return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${pick([String(body.length), '0', '99999999', '-5', 'abc'])}\r\n\r\n${body}`;
    case 5:
      return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: ${pick(['application/json', 'text/plain', noise(10), 'application/json; charset=utf-16'])}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    case 6:
      return `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`;
    case 7:
      return `${pick(['PATCH', 'TRACE', 'CONNECT', 'OPTIONS', 'FOO', 'get'])} ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
    default:
      return `${method} ${path.replace(/[a-z]/, () => pick(['%', '%zz', '%00', '%c0%af', '\u00ff']))} HTTP/1.${pick(['0', '1', '9'])}\r\nHost: x\r\n\r\n`;
  }
}

/** Sends raw bytes; the status code, 0 when the connection closed without an answer. */
function send(raw: string, secure: boolean): Promise<number> {
  return new Promise((resolve) => {
    const socket = secure ? tls({ host: '127.0.0.1', port: HTTPS, rejectUnauthorized: false }) : tcp({ host: '127.0.0.1', port: HTTP });
    let data = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on(secure ? 'secureConnect' : 'connect', () => socket.end(Buffer.from(raw, 'latin1')));
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'pxp-fuzz-'));
mkdirSync(join(dir, 'answers', 'hosts'), { recursive: true });
writeFileSync(join(dir, 'answers', 'default.toml'), '[global]\nfqdn = "{{hostname}}.x"\n');
const ini = join(dir, 'p.ini');
writeFileSync(
  ini,
  [
    '[server]',
    'address = 127.0.0.1',
    `state_dir = ${join(dir, 'state')}`,
    'log_level = error',
    '[http]',
    'bind = 127.0.0.1',
    `port = ${HTTP}`,
    `admin_token = ${TOKEN}`,
    '[https]',
    `port = ${HTTPS}`,
    '[tftp]',
    'enabled = false',
    '[answers]',
    `dir = ${join(dir, 'answers')}`,
    '',
  ].join('\n'),
);
const daemon = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', ini], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
daemon.stdout.on('data', (c: Buffer) => (log += c.toString()));
daemon.stderr.on('data', (c: Buffer) => (log += c.toString()));
try {
  for (let i = 0; i < 100 && (await send('GET /health HTTP/1.1\r\nHost: x\r\n\r\n', false)) !== 200; i++) await new Promise((r) => setTimeout(r, 200));
  const statuses = new Map<number, number>();
  const started = Date.now();
  let sent = 0;
  const examples500: string[] = [];
  while (sent < count && Date.now() < deadline && daemon.exitCode === null) {
    const batch = Array.from({ length: 20 }, () => request());
    const results = await Promise.all(batch.map((raw, k) => send(raw, k % 4 === 0)));
    results.forEach((status, k) => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === 500 && examples500.length < 5) examples500.push(JSON.stringify(batch[k]!.slice(0, 300)));
    });
    sent += batch.length;
  }
  const seconds = (Date.now() - started) / 1000;
  // 501 is the router's answer to a method it does not know (TRACE, FOO): RFC 9110, not a fault.
  const fiveHundreds = statuses.get(500) ?? 0;
  process.stdout.write(
    `${JSON.stringify({ sent, seconds: Math.round(seconds), perSecond: Math.round(sent / seconds), daemonAlive: daemon.exitCode === null, fiveHundreds, statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])) })}\n`,
  );
  for (const e of examples500) process.stdout.write(`500 for: ${e}\n`);
  const fatal = log.split('\n').filter((l) => /"level":60|uncaught/.test(l));
  process.stdout.write(`fatal or uncaught log lines: ${fatal.length}\n`);
} finally {
  daemon.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1000));
  rmSync(dir, { recursive: true, force: true });
}
