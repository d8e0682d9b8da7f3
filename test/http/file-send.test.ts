// Asset bodies with sendfile(2) (src/http/file-send.ts, native/file_send.c): byte-identical whole
// and by range, keep-alive goes on after a body, a client leaving mid-download costs nothing, and
// the stream path (HTTPS, or no addon) serves the same bytes.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readdirSync, readlinkSync } from 'node:fs';
import { Agent, request, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttp, testHttpDeps, type RunningHttp } from '../helpers/http.ts';
import { testProfile } from '../helpers/profile.ts';
import { HttpService } from '../../src/http/service.ts';
import { DaemonTelemetry } from '../../src/metrics/telemetry.ts';
import { Store } from '../../src/store/store.ts';
import { startHttps, type RunningHttps } from '../helpers/tls.ts';
import { useFileSendAddon, type NativeFileSend } from '../../src/http/file-send.ts';
import { newcFileHeader, newcFileTail } from '../../src/boot/cpio.ts';

const SIZE = 24 * 1024 * 1024 + 12_345; // larger than loopback socket buffers, not page aligned
const PATH = '/assets/big/1/disk.img';
let dir: string;
let file: string;
let content: Buffer;
let h: RunningHttp;
let starts = 0;

const real = createRequire(import.meta.url)('../../build/Release/file_send.node') as NativeFileSend;
/** The real addon, counting the transfers it starts: proof of which path served a request. */
const counting: NativeFileSend = {
  start: (...args) => {
    starts++;
    return real.start(...args);
  },
  sent: (handle) => real.sent(handle),
  cancel: (handle) => real.cancel(handle),
};

interface Got {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  reusedSocket: boolean;
}

function get(port: number, path: string, headers: Record<string, string> = {}, agent?: Agent): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** File descriptors of this process open on `path`. */
function openFds(path: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false;
    }
  }).length;
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(what);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pxp-sendfile-'));
  mkdirSync(join(dir, 'assets', 'big', '1'), { recursive: true });
  file = join(dir, 'assets', 'big', '1', 'disk.img');
  content = randomBytes(SIZE);
  writeFileSync(file, content);
  writeFileSync(join(dir, 'assets', 'big', '1', 'empty'), '');
  useFileSendAddon(counting);
  h = await startHttp({ assets: { dir: join(dir, 'assets') } });
});
after(async () => {
  useFileSendAddon(undefined);
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sendfile path (plain HTTP)', () => {
  test('a large asset whole and by range is byte-identical, with the same headers as before', async () => {
    const before = starts;
    const whole = await get(h.port, PATH);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-length'], String(SIZE));
    assert.ok(whole.body.equals(content), 'the whole body is the file');
    const part = await get(h.port, PATH, { Range: 'bytes=1000000-17000000' });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000000-17000000/${SIZE}`);
    assert.ok(part.body.equals(content.subarray(1_000_000, 17_000_001)), 'the range is that slice of the file');
    const tail = await get(h.port, PATH, { Range: 'bytes=-7' });
    assert.ok(tail.body.equals(content.subarray(SIZE - 7)));
    assert.equal(starts - before, 3, 'all three went through sendfile');
    // The last body's close runs once its response finished, which may be a moment after the client read its last byte.
    await eventually('the file is closed after each body', () => openFds(file) === 0);
  });

  test('If-Range: a matching ETag gets the range, a stale one the whole file', async () => {
    const etag = String((await get(h.port, PATH, { Range: 'bytes=0-0' })).headers.etag);
    const fresh = await get(h.port, PATH, { Range: 'bytes=5-9', 'If-Range': etag });
    assert.equal(fresh.status, 206);
    assert.ok(fresh.body.equals(content.subarray(5, 10)));
    const stale = await get(h.port, PATH, { Range: 'bytes=5-9', 'If-Range': '"0-0"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, SIZE);
  });

  test('keep-alive: the next request on the same connection is served after a body', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(h.port, PATH, {}, agent);
      assert.ok(first.body.equals(content));
      const second = await get(h.port, PATH, { Range: 'bytes=100-199' }, agent);
      assert.equal(second.reusedSocket, true, 'the second request went on the first connection');
      assert.ok(second.body.equals(content.subarray(100, 200)));
      const third = await get(h.port, '/assets/big/1/empty', {}, agent);
      assert.equal(third.status, 200);
      assert.equal(third.headers['content-length'], '0');
      assert.equal(third.reusedSocket, true);
    } finally {
      agent.destroy();
    }
  });

  test('a client that leaves mid-download: the file is closed and the next request is served', async () => {
    const before = starts;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(h.port, '127.0.0.1', () => socket.write(`GET ${PATH} HTTP/1.1\r\nHost: x\r\n\r\n`));
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // Some of the body is here, most is not: leave.
        if (received > 1024 * 1024) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
    });
    assert.equal(starts - before, 1);
    // The file is closed only after the native side closed its socket copy and stopped polling.
    await eventually('the file descriptor was never closed', () => openFds(file) === 0);
    const next = await get(h.port, PATH, { Range: 'bytes=0-99' });
    assert.equal(next.status, 206);
    assert.ok(next.body.equals(content.subarray(0, 100)));
  });

  test('a download slower than the idle timeout completes: sendfile progress counts as activity', async () => {
    // Node sees none of the bytes sendfile writes; a short server.timeout (new connections take
    // it) would cut this download as idle if the transfer did not re-arm it while bytes move.
    const server = (h.service as unknown as { server: Server }).server;
    const idle = server.timeout;
    server.timeout = 1000;
    try {
      const received = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        let sinceBreak = 0;
        const socket = connect(h.port, '127.0.0.1', () => socket.write(`GET ${PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        socket.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          sinceBreak += chunk.length;
          // A slow reader: a short break after every 256 KiB, so the send outlasts the timeout many times.
          if (sinceBreak >= 256 * 1024) {
            sinceBreak = 0;
            socket.pause();
            setTimeout(() => socket.resume(), 50);
          }
        });
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
      });
      const body = received.subarray(received.indexOf('\r\n\r\n') + 4);
      assert.equal(body.length, SIZE, 'the whole body arrived');
      assert.ok(body.equals(content));
    } finally {
      server.timeout = idle;
    }
  });

  test('/cpio/: the header, the file through sendfile, then padding and trailer', async () => {
    const before = starts;
    const r = await get(h.port, '/cpio/big/1/disk.img');
    assert.equal(r.status, 200);
    assert.equal(starts - before, 1);
    // The archive's parts as the cpio module builds them (its format is tested in test/boot/cpio.test.ts).
    const head = newcFileHeader('disk.img', SIZE, 0);
    const tail = newcFileTail(SIZE);
    assert.equal(r.body.length, head.length + SIZE + tail.length);
    assert.equal(Number(r.headers['content-length']), r.body.length);
    assert.ok(r.body.subarray(head.length, head.length + SIZE).equals(content));
    assert.ok(r.body.subarray(head.length + SIZE).equals(tail));
  });
});

describe('the live transfer table and the asset byte counter see sendfile downloads', () => {
  let telemetry: DaemonTelemetry;
  let service: HttpService;
  let store: Store;
  before(async () => {
    telemetry = new DaemonTelemetry({ processMetrics: false });
    store = Store.open(':memory:');
    const profile = testProfile({ assets: { dir: join(dir, 'assets') }, http: { bind: '127.0.0.1', port: 0 } });
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), telemetry });
    await service.start();
  });
  after(async () => {
    await service.stop();
    store.close();
  });
  const sentBytes = async (): Promise<number> =>
    (await telemetry.registry.getSingleMetric('pxe_pilot_http_asset_sent_bytes_total')!.get()).values[0]?.value ?? 0;

  test('listed while it runs, with its bytes; gone and counted when the client leaves; a whole one counts its size', async () => {
    const before = await sentBytes();
    const socket = connect(service.port, '127.0.0.1', () => socket.write(`GET ${PATH} HTTP/1.1\r\nHost: x\r\n\r\n`));
    // Read a little, then stop reading: the socket buffers fill and the transfer waits.
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();
    await eventually('the download was never listed with bytes', () =>
      telemetry.transfers.list().some((t) => t.protocol === 'http' && t.file === PATH && t.bytes > 0),
    );
    const listed = telemetry.transfers.list().find((t) => t.file === PATH)!;
    assert.equal(listed.size, SIZE);
    assert.ok(listed.bytes < SIZE, 'a paused client cannot have been sent the whole file');
    socket.destroy();
    await eventually('the transfer stayed listed after the client left', () => telemetry.transfers.size === 0);
    const afterAbort = await sentBytes();
    assert.ok(afterAbort > before && afterAbort < before + SIZE, `counted what went out: ${afterAbort - before}`);
    const whole = await get(service.port, PATH);
    assert.ok(whole.body.equals(content));
    await eventually('the whole download was never counted', () => telemetry.transfers.size === 0);
    assert.equal((await sentBytes()) - afterAbort, SIZE);
  });
});

describe('stream path', () => {
  test('without the addon: the same bytes, whole and by range, and keep-alive', async () => {
    useFileSendAddon(null);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = starts;
      const whole = await get(h.port, PATH, {}, agent);
      assert.ok(whole.body.equals(content));
      const part = await get(h.port, PATH, { Range: 'bytes=3-1000003' }, agent);
      assert.equal(part.status, 206);
      assert.equal(part.reusedSocket, true);
      assert.ok(part.body.equals(content.subarray(3, 1_000_004)));
      assert.equal(starts, before, 'nothing went through sendfile');
    } finally {
      agent.destroy();
      useFileSendAddon(counting);
    }
  });

  test('a file sendfile refuses midway (EINVAL: a filesystem without it): the rest is streamed, same bytes', async () => {
    // The real addon sends the first 3 MB; then the "filesystem" refuses, as sendfile(2) does
    // with EINVAL where a file cannot be mapped. The response must carry on from that byte.
    const refusing: NativeFileSend = {
      start: (socketFd, fileFd, offset, length, done) =>
        real.start(socketFd, fileFd, offset, Math.min(length, 3_000_000), (error, sent) => done(error ?? (sent < length ? 'EINVAL' : null), sent)),
      sent: (handle) => real.sent(handle),
      cancel: (handle) => real.cancel(handle),
    };
    useFileSendAddon(refusing);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const whole = await get(h.port, PATH, {}, agent);
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(content), 'the whole body is the file');
      const part = await get(h.port, PATH, { Range: 'bytes=500-4000000' }, agent);
      assert.equal(part.reusedSocket, true, 'keep-alive after the streamed rest');
      assert.ok(part.body.equals(content.subarray(500, 4_000_001)));
      const cpio = await get(h.port, '/cpio/big/1/disk.img', {}, agent);
      assert.ok(cpio.body.subarray(cpio.body.length - newcFileTail(SIZE).length).equals(newcFileTail(SIZE)), 'the suffix follows the streamed rest');
      await eventually('the file descriptor was never closed', () => openFds(file) === 0);
    } finally {
      agent.destroy();
      useFileSendAddon(counting);
    }
  });

  describe('HTTPS (TLS cannot use sendfile)', () => {
    let state: string;
    let s: RunningHttps;
    before(async () => {
      state = mkdtempSync(join(tmpdir(), 'pxp-sendfile-tls-'));
      s = await startHttps({ assets: { dir: join(dir, 'assets') } }, state);
    });
    after(async () => {
      await s.stop();
      rmSync(state, { recursive: true, force: true });
    });

    test('an asset over HTTPS, whole and by range, is byte-identical and streamed', async () => {
      const before = starts;
      const fetchTls = (headers: Record<string, string>): Promise<{ status: number; body: Buffer }> =>
        new Promise((resolve, reject) => {
          // Loopback test server with its own generated certificate: no verification needed here.
          const req = httpsRequest(`${s.https}${PATH}`, { headers, rejectUnauthorized: false }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
            res.on('error', reject);
          });
          req.on('error', reject);
          req.end();
        });
      const whole = await fetchTls({});
      assert.equal(whole.status, 200);
      assert.ok(whole.body.equals(content));
      const part = await fetchTls({ Range: 'bytes=10-20' });
      assert.equal(part.status, 206);
      assert.ok(part.body.equals(content.subarray(10, 21)));
      assert.equal(starts, before, 'nothing went through sendfile');
    });
  });
});
