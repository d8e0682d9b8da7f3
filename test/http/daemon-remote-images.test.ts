// The real daemon on 127.0.0.1 (unprivileged ports): [http] also_listen is bound at start, moved
// by a reload (SIGHUP) and a colliding one refused before anything binds; the pinned files of
// [image] sections are fetched from another local server at start and after a reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { startLoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { waitFor } from '../helpers/netns.ts';

const KERNEL = Buffer.from('kernel from the image host '.repeat(500));
const INITRD = Buffer.from('initrd from the image host '.repeat(700));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function imageHost(): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    const body = req.url === '/k' ? KERNEL : req.url === '/i' ? INITRD : null;
    res.statusCode = body ? 200 : 404;
    res.end(body ?? undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function status(url: string): Promise<number | 'refused'> {
  try {
    return (await fetch(url)).status;
  } catch {
    return 'refused';
  }
}

test('also_listen follows reloads; pinned remote files are fetched at start and after a reload, then served', { timeout: 120_000 }, async () => {
  const origin = await imageHost();
  const first = await freePort();
  const image = (name: string, path: string, body: Buffer): string => `[image ${name}]\nkernel = ${origin.base}${path}\nkernel_sha256 = ${sha(body)}\n`;
  const daemon = await startLoopbackDaemon({ extraHttp: `also_listen = 127.0.0.1:${first}`, hosts: image('rack/one', '/k', KERNEL) });
  try {
    assert.equal(await status(`http://127.0.0.1:${first}/health`), 200, 'the extra listener serves the same routes');
    await waitFor('the daemon to fetch the pinned kernel', async () => (await status(`${daemon.base}/remote/${sha(KERNEL)}/k`)) === 200, 30_000);
    assert.equal(await status(`http://127.0.0.1:${first}/remote/${sha(KERNEL)}/k`), 200);

    // Reload: another extra port and a second image.
    const second = await freePort();
    const text = readFileSync(daemon.configFile, 'utf8');
    writeFileSync(daemon.configFile, text.replace(`also_listen = 127.0.0.1:${first}`, `also_listen = 127.0.0.1:${second}`) + image('rack/two', '/i', INITRD));
    daemon.child.kill('SIGHUP');
    await waitFor('the reload to move the extra listener', async () => (await status(`http://127.0.0.1:${second}/health`)) === 200, 30_000);
    assert.equal(await status(`http://127.0.0.1:${first}/health`), 'refused', 'the old extra port is closed');
    await waitFor('the daemon to fetch the new image after the reload', async () => (await status(`${daemon.base}/remote/${sha(INITRD)}/i`)) === 200, 30_000);

    // A colliding also_listen is refused by the reload's validation; the running profile stays.
    const current = readFileSync(daemon.configFile, 'utf8');
    writeFileSync(daemon.configFile, current.replace(`also_listen = 127.0.0.1:${second}`, `also_listen = 127.0.0.1:${daemon.httpPort}`));
    daemon.child.kill('SIGHUP');
    await waitFor(
      'the reload to be refused',
      () => /reload refused, the running profile stays: .*\[http\] also_listen = .*127\.0\.0\.1:\d+ is already \[http\] port's/.test(daemon.output()),
      30_000,
    );
    assert.equal(await status(`http://127.0.0.1:${second}/health`), 200);
  } finally {
    await daemon.stop();
    origin.server.close();
  }
});
