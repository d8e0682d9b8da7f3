// The demo's way from this host's browser to a daemon inside a lab namespace: it listens on
// 127.0.0.1 only, relays requests and a never-ending stream, and closes with a stream still open.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { skipUnless } from '../helpers/requirements.ts';
import { NetLab, collectOutput, waitFor } from '../helpers/netns.ts';
import { startDashboardBridge, type DashboardBridge } from './dashboard-bridge.ts';

const skip = skipUnless(['root']);

/** A stand-in daemon on the namespace's own loopback: a page, and a stream that never ends. */
const SERVER = `
require('http').createServer((req, res) => {
  if (req.url === '/stream') { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(': open\\n\\n'); return; }
  res.end('inside ' + req.url);
}).listen(8080, '127.0.0.1', () => console.log('listening'));
`;

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('the demo dashboard bridge', { skip }, () => {
  let lab: NetLab;
  let dir: string;
  let bridge: DashboardBridge | undefined;
  before(async () => {
    lab = new NetLab('brg');
    dir = await mkdtemp(join(tmpdir(), 'pxp-bridge-'));
    await lab.addNamespace('lan');
    const server = lab.spawn('lan', [process.execPath, '-e', SERVER]);
    const out = collectOutput(server);
    await waitFor('the daemon stand-in', () => out.text().includes('listening'), 20_000);
  });
  after(async () => {
    await bridge?.close();
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  test('serves the daemon inside the namespace at 127.0.0.1 only, and closes with a live stream open', async () => {
    bridge = await startDashboardBridge(lab, 'lan', '127.0.0.1', 8080, dir, 0);
    assert.equal(bridge.listening.address, '127.0.0.1', 'the host side listens on loopback only');
    assert.equal(bridge.url, `http://127.0.0.1:${bridge.listening.port}/ui/`);
    const page = await get(bridge.url);
    assert.equal(page.status, 200);
    assert.equal(page.body, 'inside /ui/', 'the request reached the server inside the namespace');
    const again = await Promise.all([1, 2, 3].map((n) => get(`${bridge!.base}/ui/${n}`)));
    assert.deepEqual(
      again.map((r) => r.body),
      ['inside /ui/1', 'inside /ui/2', 'inside /ui/3'],
    );

    const streaming = new Promise<void>((resolve) => {
      request(`${bridge!.base}/stream`, (res) => {
        res.once('data', () => resolve());
        res.on('error', () => undefined);
      })
        .on('error', () => undefined)
        .end();
    });
    await streaming;
    const closing = bridge.close();
    const closed = await Promise.race([closing.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
    assert.ok(closed, 'close() returns although a stream was open');
    await assert.rejects(get(bridge.url), 'nothing listens after close()');
    bridge = undefined;
  });
});
