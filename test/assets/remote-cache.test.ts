// The cache of pinned remote files ([image] kernel_sha256 / initrd_sha256): fetched once from an
// origin server on 127.0.0.1, checked, refused on a wrong digest, then served by our HTTP route
// and by TFTP (GRUB's path), and nothing else from that folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedFilePath, CombinedCatalogue, RemoteImageCache } from '../../src/assets/remote-cache.ts';
import { AssetCatalogue } from '../../src/assets/catalogue-scan.ts';
import { parseProfile } from '../../src/config/load.ts';
import type { Profile } from '../../src/config/profile.ts';
import { remoteCacheDir } from '../../src/config/images.ts';
import { TftpService } from '../../src/tftp/server.ts';
import { silentLogger } from '../../src/log.ts';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { download as tftpDownload } from '../helpers/tftp.ts';
import { testHttpDeps } from '../helpers/http.ts';

const KERNEL = Buffer.from('remote kernel bytes '.repeat(4000));
const INITRD = Buffer.from('remote initrd bytes '.repeat(3000));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The other host: serves /k and /i, and counts the requests for each. */
async function origin(): Promise<{ base: string; hits: Map<string, number>; server: Server }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    const body = req.url === '/boot/k' ? KERNEL : req.url === '/boot/i' ? INITRD : null;
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Length', body.length);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, server };
}

function profileFor(base: string, stateDir: string, initrdSha: string): Profile {
  const text = [
    '[server]',
    'address = 127.0.0.1',
    `state_dir = ${stateDir}`,
    '[https]',
    'enabled = false',
    '[image rack/remote]',
    `kernel = ${base}/boot/k`,
    `kernel_sha256 = ${sha(KERNEL)}`,
    `initrd = ${base}/boot/i`,
    `initrd_sha256 = ${initrdSha}`,
    '',
  ].join('\n');
  return parseProfile(text, join(stateDir, 'p.ini'), { offline: true });
}

const logger = { info: () => undefined, warn: () => undefined };

test('a pinned file is fetched once and checked; a wrong digest is refused, deleted, and the image not offered, saying why', async () => {
  const state = mkdtempSync(join(tmpdir(), 'pxp-remote-'));
  const from = await origin();
  try {
    const wrong = 'f'.repeat(64);
    const cache = new RemoteImageCache({ logger });
    let profile = profileFor(from.base, state, wrong);
    cache.sync(state, profile.images.values());
    await cache.idle();
    const [image] = cache.images(state, profile.images.values());
    assert.equal(image!.integrity, 'unfetched');
    assert.match(
      image!.integrityProblem ?? '',
      new RegExp(`/boot/i could not be fetched and checked: i: checksum mismatch \\(expected ${wrong}, the download has ${sha(INITRD)}\\)`),
    );
    const kernelFile = cachedFilePath(state, { url: `${from.base}/boot/k`, sha256: sha(KERNEL) });
    assert.ok(existsSync(kernelFile), 'the kernel, whose digest matched, is in the cache');
    assert.ok(!existsSync(join(remoteCacheDir(state), wrong)), 'nothing is served under the wrong digest');
    assert.deepEqual(
      readdirSync(join(remoteCacheDir(state), '.incoming')).flatMap((d) => readdirSync(join(remoteCacheDir(state), '.incoming', d))),
      [],
    );

    // The pin corrected: the initrd is fetched, the kernel is not fetched again (only re-checked).
    profile = profileFor(from.base, state, sha(INITRD));
    const fresh = new RemoteImageCache({ logger });
    fresh.sync(state, profile.images.values());
    await fresh.idle();
    const [ready] = fresh.images(state, profile.images.values());
    assert.equal(ready!.integrity, 'verified', ready!.integrityProblem);
    assert.equal(from.hits.get('/boot/k'), 1);
    assert.equal(from.hits.get('/boot/i'), 2);

    // A cached file changed on disk is found at the next check and fetched again.
    writeFileSync(kernelFile, 'tampered');
    const third = new RemoteImageCache({ logger });
    third.sync(state, profile.images.values());
    await third.idle();
    assert.equal(third.images(state, profile.images.values())[0]!.integrity, 'verified');
    assert.equal(from.hits.get('/boot/k'), 2);
  } finally {
    from.server.close();
    rmSync(state, { recursive: true, force: true });
  }
});

test('cached files are served over HTTP (/remote/<sha256>/<name>) and TFTP (remote/…); files the profile does not pin are not', async () => {
  const state = mkdtempSync(join(tmpdir(), 'pxp-remote-'));
  const from = await origin();
  const store = Store.open(':memory:');
  let http: HttpService | undefined;
  let tftp: TftpService | undefined;
  try {
    const profile = profileFor(from.base, state, sha(INITRD));
    const cache = new RemoteImageCache({ logger });
    cache.sync(state, profile.images.values());
    await cache.idle();
    profile.http.bind = '127.0.0.1';
    profile.http.port = 0;
    profile.tftp.bind = '127.0.0.1';
    profile.tftp.port = 0;
    const deps = testHttpDeps(profile, store, () => service);
    deps.catalogue = new CombinedCatalogue(new AssetCatalogue(), () => cache.images(state, profile.images.values()));
    const service: HttpService = new HttpService(deps);
    http = service;
    await http.start();
    const base = `http://127.0.0.1:${http.port}`;
    const kernelPath = `remote/${sha(KERNEL)}/k`;
    const got = await fetch(`${base}/${kernelPath}`);
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), KERNEL);
    const ranged = await fetch(`${base}/${kernelPath}`, { headers: { Range: 'bytes=0-5' } });
    assert.equal(ranged.status, 206);
    const unpinned = await fetch(`${base}/remote/${'0'.repeat(64)}/k`);
    assert.equal(unpinned.status, 404);
    assert.match(await unpinned.text(), /no \[image\] section pins k with SHA-256 0{64}/);
    const otherName = await fetch(`${base}/remote/${sha(KERNEL)}/vmlinuz`);
    assert.equal(otherName.status, 404);
    // The console's Images page lists it (loopback: no admin token set).
    const images = (await (await fetch(`${base}/images`)).json()) as { images: { profile: string; remote: boolean; integrity: string }[] };
    assert.deepEqual(
      images.images.map((i) => [i.profile, i.remote, i.integrity]),
      [['rack/remote', true, 'verified']],
    );

    tftp = new TftpService({ profile, logger: silentLogger(), events: { record: () => undefined }, stopGraceMs: 200 });
    await tftp.start();
    const viaTftp = await tftpDownload(tftp.port, kernelPath, { blksize: 1468 });
    assert.deepEqual(viaTftp.bytes, KERNEL);
    await assert.rejects(tftpDownload(tftp.port, `remote/${sha(KERNEL)}/../../p.ini`), /ERROR/);
    await assert.rejects(tftpDownload(tftp.port, `remote/${'0'.repeat(64)}/k`), /ERROR 1: file not found/);
  } finally {
    await tftp?.stop();
    await http?.stop();
    store.close();
    from.server.close();
    rmSync(state, { recursive: true, force: true });
  }
});
