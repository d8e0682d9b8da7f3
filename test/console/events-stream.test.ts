// GET /events/stream: events arrive as they are recorded; a reader that stops reading is dropped
// and its connection closed once its bounded queue fills, while other readers go on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { testProfile } from '../helpers/profile.ts';
import { HttpService } from '../../src/http/service.ts';
import { AssetCatalogue } from '../../src/assets/catalogue-scan.ts';
import { Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/log.ts';
import { DaemonTelemetry } from '../../src/metrics/telemetry.ts';
import { waitFor } from '../helpers/netns.ts';

const TOKEN = 'stream-test-token-0123456789';
let service: HttpService;
let store: Store;
let telemetry: DaemonTelemetry;
let base: string;

before(async () => {
  store = Store.open(':memory:');
  telemetry = new DaemonTelemetry({ processMetrics: false });
  store.observe(telemetry);
  const profile = testProfile({ http: { bind: '127.0.0.1', port: 0, adminToken: TOKEN } });
  service = new HttpService({
    profile,
    store,
    leases: store.leases,
    logger: silentLogger(),
    services: () => [],
    catalogue: new AssetCatalogue(),
    startedAt: Date.now(),
    version: 'test',
    telemetry,
  });
  await service.start();
  base = `http://127.0.0.1:${service.port}`;
});
after(async () => {
  await service.stop();
  store.close();
});

async function openStream(
  path = '/events/stream',
): Promise<{ next: (predicate: (data: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: controller.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  return {
    async next(predicate) {
      for (;;) {
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const frame = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const data = frame.split('\n').find((l) => l.startsWith('data: '));
          if (data) {
            const parsed = JSON.parse(data.slice(6)) as Record<string, unknown>;
            if (predicate(parsed)) return parsed;
          }
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffered += decoder.decode(value, { stream: true });
      }
    },
    close: () => controller.abort(),
  };
}

test('a recorded event reaches every stream client, filtered by ?mac=', async () => {
  const all = await openStream();
  const one = await openStream('/events/stream?mac=52-54-00-dd-00-02');
  await waitFor('both clients to subscribe', () => telemetry.hub.clients === 2, 5000);
  store.record({ mac: '52:54:00:dd:00:01', protocol: 'http', kind: 'GET /boot', decision: 'menu', reason: 'first' });
  store.record({ mac: '52:54:00:dd:00:02', protocol: 'http', kind: 'GET /boot', decision: 'local', reason: 'second' });
  const seen = await all.next((e) => e.reason === 'first');
  assert.equal(seen.mac, '52:54:00:dd:00:01');
  assert.match(String(seen.time), /^\d{4}-\d\d-\d\dT/);
  const filtered = await one.next(() => true);
  assert.equal(filtered.reason, 'second', 'the filtered client skipped the other machine');
  all.close();
  one.close();
  await waitFor('closed clients to be unsubscribed', () => telemetry.hub.clients === 0, 5000);
});

test('without the admin token the stream is refused', async () => {
  const res = await fetch(`${base}/events/stream`);
  assert.equal(res.status, 401);
});

test('a client that never reads is dropped and closed; a reading client keeps streaming', async () => {
  const reading = await openStream();
  // A raw client that sends the request and then never reads a byte.
  const stalled = connect(service.port, '127.0.0.1');
  stalled.pause();
  let stalledClosed = false;
  stalled.on('close', () => (stalledClosed = true));
  stalled.on('error', () => undefined);
  stalled.write(`GET /events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
  await waitFor('both clients to subscribe', () => telemetry.hub.clients === 2, 5000);

  const reason = 'x'.repeat(2000);
  let sent = 0;
  // Enough to fill the kernel's socket buffers and the stream's bounded queue many times over.
  while (telemetry.hub.clients === 2 && sent < 40_000) {
    for (let i = 0; i < 20; i++) store.record({ mac: null, protocol: 'daemon', kind: `flood ${sent++}`, decision: 'noted', reason });
    await reading.next((e) => e.kind === `flood ${sent - 1}`);
  }
  assert.equal(telemetry.hub.clients, 1, `the stalled client was dropped (after ${sent} events)`);
  // Reading now drains what was in flight, then meets the end the server sent.
  stalled.resume();
  await waitFor('the stalled connection to be closed by the server', () => stalledClosed, 10_000);
  store.record({ mac: null, protocol: 'daemon', kind: 'after', decision: 'noted', reason: 'still streaming' });
  assert.equal((await reading.next((e) => e.kind === 'after')).reason, 'still streaming');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  assert.match(metrics, /^pxe_pilot_event_stream_dropped_clients_total 1$/m);
  reading.close();
  stalled.destroy();
});
