// /metrics from the real daemon: the instruments move with traffic, labels stay bounded, and
// Prometheus's own promtool accepts the exposition.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import type { Context } from 'koa';
import { startLoopbackDaemon, type LoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { waitFor } from '../helpers/netns.ts';
import { metricsAllowed } from '../../src/http/metrics-route.ts';
import { testProfile } from '../helpers/profile.ts';
import type { HttpDeps } from '../../src/http/context.ts';

const run = promisify(execFile);
let daemon: LoopbackDaemon;

before(async () => {
  daemon = await startLoopbackDaemon();
});
after(async () => {
  await daemon?.stop();
});

function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (wanted.every((w) => (m[2] ?? '').includes(w))) return Number(m[3]);
  }
  return NaN;
}

test('traffic shows in /metrics with bounded labels, and promtool accepts the output', { skip: skipUnless(['promtool', 'curl']) }, async () => {
  const macs = ['52:54:00:aa:00:01', '52:54:00:aa:00:02', '52:54:00:aa:00:03'];
  for (const mac of macs) assert.equal((await fetch(`${daemon.base}/boot?mac=${mac}`)).status, 200);
  assert.equal((await fetch(`${daemon.base}/boot?mac=nonsense`)).status, 400);
  const asset = await fetch(`${daemon.base}/assets/proxmox-ve/9.1-1/initrd`);
  assert.equal((await asset.arrayBuffer()).byteLength, 8192);
  await run('curl', ['-sS', '-o', '/dev/null', `tftp://127.0.0.1:${daemon.tftpPort}/ipxe.efi`]);
  await run('curl', ['-sS', '-o', '/dev/null', `tftp://127.0.0.1:${daemon.tftpPort}/missing.efi`]).catch(() => undefined);

  // The TFTP transfer is counted when its last ACK arrives and the event batch is written within
  // 50 ms, both after the clients are done: wait (10 s at most) until every count has got there,
  // then check that none went past. A count that never gets there is named by its assertion below.
  const last = { status: 0, contentType: '' };
  let text = '';
  const counted = waitFor('the traffic to show in /metrics', async () => {
    const res = await fetch(`${daemon.base}/metrics`);
    last.status = res.status;
    last.contentType = res.headers.get('content-type') ?? '';
    text = await res.text();
    return (
      res.status === 200 &&
      sample(text, 'pxe_pilot_boot_decisions_total', { action: 'menu' }) >= 3 &&
      sample(text, 'pxe_pilot_http_requests_total', { route: '/boot', status: '200' }) >= 3 &&
      sample(text, 'pxe_pilot_http_requests_total', { route: '/boot', status: '400' }) >= 1 &&
      sample(text, 'pxe_pilot_http_asset_sent_bytes_total') >= 8192 &&
      sample(text, 'pxe_pilot_tftp_transfers_total', { outcome: 'served' }) >= 1 &&
      sample(text, 'pxe_pilot_tftp_sent_bytes_total') >= 64 * 1024 &&
      sample(text, 'pxe_pilot_tftp_requests_refused_total', { reason: 'refused' }) >= 1 &&
      sample(text, 'pxe_pilot_nodes', { state: 'seen' }) >= 3 &&
      sample(text, 'pxe_pilot_event_log_write_batches_total') >= 1
    );
  });
  await counted.catch(() => undefined);
  assert.equal(last.status, 200);
  assert.match(last.contentType, /text\/plain/);

  assert.equal(sample(text, 'pxe_pilot_boot_decisions_total', { action: 'menu' }), 3, 'three unknown machines were shown the menu');
  assert.equal(sample(text, 'pxe_pilot_http_requests_total', { route: '/boot', status: '200' }), 3);
  assert.equal(sample(text, 'pxe_pilot_http_requests_total', { route: '/boot', status: '400' }), 1);
  assert.ok(sample(text, 'pxe_pilot_http_request_duration_seconds_count', { route: '/boot' }) >= 4);
  assert.equal(sample(text, 'pxe_pilot_http_asset_sent_bytes_total'), 8192);
  assert.equal(sample(text, 'pxe_pilot_tftp_transfers_total', { outcome: 'served' }), 1);
  assert.equal(sample(text, 'pxe_pilot_tftp_sent_bytes_total'), 64 * 1024);
  assert.ok(sample(text, 'pxe_pilot_tftp_requests_refused_total', { reason: 'refused' }) >= 1, 'the missing file was refused');
  assert.equal(sample(text, 'pxe_pilot_nodes', { state: 'seen' }), 3);
  assert.ok(sample(text, 'pxe_pilot_event_log_write_batches_total') >= 1);
  assert.ok(sample(text, 'process_resident_memory_bytes') > 0, 'process metrics are exported');
  // No MAC or IP ever becomes a label value.
  assert.doesNotMatch(text, /52:54:00|127\.0\.0\.1|aa:00:0/);

  const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
});

test('/metrics: loopback, [http] metrics_allow blocks, or the admin token', () => {
  const token = 'a-token-of-sixteen-chars';
  const deps = { profile: () => testProfile({ http: { adminToken: token, metricsAllow: ['10.1.0.0/24'] } }) } as unknown as HttpDeps;
  const ctx = (address: string, authorization = ''): Context =>
    ({ req: { socket: { remoteAddress: address } }, get: (h: string) => (h === 'authorization' ? authorization : '') }) as unknown as Context;
  assert.equal(metricsAllowed(ctx('127.0.0.1'), deps), true);
  assert.equal(metricsAllowed(ctx('::ffff:10.1.0.9'), deps), true);
  assert.equal(metricsAllowed(ctx('10.2.0.9'), deps), false);
  assert.equal(metricsAllowed(ctx('10.2.0.9', `Bearer ${token}`), deps), true);
  assert.equal(metricsAllowed(ctx('10.2.0.9', 'Bearer wrong-token-of-sixteen'), deps), false);
});
