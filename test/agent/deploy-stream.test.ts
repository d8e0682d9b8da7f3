// The agent's image writer (agent/deploy), run on the host under busybox sh with busybox's applets
// first on PATH, as in the agent image, against an HTTP server on 127.0.0.1 that can cut, stall or
// tamper with the stream. The "disk" is a file on a disk-backed filesystem (/var/tmp). The digest is
// openssl's, as the agent image carries it; busybox's sha256sum where openssl is not on PATH.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';

const skip = skipUnless(['busybox', 'zstd', 'xz', 'openssl']);
const SCRIPT = join(repoRoot, 'agent', 'deploy');
const MiB = 1024 * 1024;

/** A 12 MiB "disk image" that compresses, but not to nothing: a pattern with a counter in every 4 KiB. */
function rawImage(): Buffer {
  const b = Buffer.alloc(12 * MiB);
  for (let i = 0; i < b.length; i += 4096) {
    b.writeUInt32LE(i / 4096, i);
    b.write(`block ${i} of the test image `, i + 8);
  }
  // Pseudo-random bytes in the second half of every block: compressed, still a few MiB.
  let x = 2463534242;
  for (let i = 0; i < b.length; i += 4096) {
    for (let j = 2048; j < 4096; j += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b.writeUInt32LE(x >>> 0, i + j);
    }
  }
  return b;
}

interface Serve {
  body: Buffer;
  /** First response only: close the connection after this many body bytes. */
  cutAt?: number;
  /** First response only: stop sending (without closing) after this many body bytes. */
  stallAt?: number;
}

describe('agent/deploy: streaming a disk image onto a disk', { skip, timeout: 180_000 }, () => {
  let dir: string;
  let bin: string;
  /** zstd alone: a PATH with this after busybox's applets has no openssl. */
  let zstdOnly: string;
  let server: Server;
  let base: string;
  let serve: Serve;
  let requests: { range: string | undefined; sent: number }[] = [];
  const raw = rawImage();
  const zst = Buffer.from(execFileSync('zstd', ['-q', '-3', '-c'], { input: raw, maxBuffer: 64 * MiB }));
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

  before(async () => {
    dir = mkdtempSync('/var/tmp/pxp-deploy-');
    bin = join(dir, 'bin');
    mkdirSync(bin);
    execFileSync('busybox', ['--install', '-s', bin]);
    zstdOnly = join(dir, 'zstd-only');
    mkdirSync(zstdOnly);
    symlinkSync(execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim(), join(zstdOnly, 'zstd'));
    server = createServer((req, res) => {
      const first = requests.length === 0;
      const entry = { range: req.headers.range, sent: 0 };
      requests.push(entry);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const part = serve.body.subarray(start);
      res.writeHead(m ? 206 : 200, {
        'content-length': part.length,
        ...(m ? { 'content-range': `bytes ${start}-${serve.body.length - 1}/${serve.body.length}` } : {}),
      });
      const limit = first ? (serve.cutAt ?? serve.stallAt) : undefined;
      if (limit === undefined) {
        entry.sent = part.length;
        res.end(part);
        return;
      }
      entry.sent = limit;
      res.write(part.subarray(0, limit), () => {
        // Cut: the connection goes after these bytes. Stall: it stays open, silent, until the agent gives up on it.
        if (serve.cutAt !== undefined) setTimeout(() => res.socket?.destroy(), 200);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh "disk" of `size` bytes filled with 0xee, and the agent run against it. */
  function deploy(args: {
    sha256: string;
    compressed: number;
    compression: string;
    diskBytes?: number;
    /** Where the writer finds its programs after busybox's applets; default /usr/bin:/bin. */
    path?: string;
  }): Promise<{ code: number; stderr: string; disk: string; reason: string }> {
    const disk = join(dir, `disk-${requests.length}-${Date.now()}.img`);
    writeFileSync(disk, Buffer.alloc(args.diskBytes ?? 16 * MiB, 0xee));
    const work = join(dir, 'work');
    const child = spawn(
      'busybox',
      [
        'sh',
        '-c',
        '. "$DEPLOY_SCRIPT"; deploy_write "$@"',
        'sh',
        `${base}/assets/img/disk.raw.zst`,
        args.sha256,
        String(args.compressed),
        String(raw.length),
        args.compression,
        disk,
      ],
      {
        env: {
          PATH: `${bin}:${args.path ?? '/usr/bin:/bin'}`,
          DEPLOY_SCRIPT: SCRIPT,
          DEPLOY_DIR: work,
          DEPLOY_STALL_SECONDS: '3',
          TOKEN: 'agent-session-token',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    return new Promise((resolve) =>
      child.on('close', (code) => {
        let reason = '';
        try {
          reason = readFileSync(join(work, 'reason'), 'utf8').trim();
        } catch {
          // none: it succeeded
        }
        resolve({ code: code ?? -1, stderr, disk, reason });
      }),
    );
  }

  test('a stream cut at about 40 % is resumed with Range at the bytes received; the disk holds the image, the digest is right', async () => {
    requests = [];
    const cut = Math.floor(zst.length * 0.4);
    serve = { body: zst, cutAt: cut };
    const r = await deploy({ sha256: sha(zst), compressed: zst.length, compression: 'zstd' });
    assert.equal(r.code, 0, `${r.reason}\n${r.stderr}`);
    assert.equal(requests.length, 2, JSON.stringify(requests));
    assert.equal(requests[0]!.range, 'bytes=0-');
    assert.equal(requests[1]!.range, `bytes=${cut}-`, 'resumed exactly where the compressed bytes stopped');
    assert.match(r.stderr, new RegExp(`resuming at byte ${cut} of ${zst.length}`));
    assert.match(r.stderr, /SHA-256 is computed by openssl as it arrives/);
    const written = readFileSync(r.disk);
    assert.ok(written.subarray(0, raw.length).equals(raw), 'the disk starts with the whole image');
    assert.ok(
      written.subarray(raw.length).every((b) => b === 0xee),
      'and nothing after it was touched',
    );
    assert.equal(readFileSync(join(dir, 'work', 'sha256'), 'utf8').trim(), sha(zst));
  });

  test('a connection that stalls without closing is given up after the stall window and resumed', async () => {
    requests = [];
    serve = { body: zst, stallAt: Math.floor(zst.length * 0.6) };
    const r = await deploy({ sha256: sha(zst), compressed: zst.length, compression: 'zstd' });
    assert.equal(r.code, 0, `${r.reason}\n${r.stderr}`);
    assert.match(r.stderr, /no data for \d+ s: reconnecting/);
    assert.equal(requests.length, 2);
    assert.ok(readFileSync(r.disk).subarray(0, raw.length).equals(raw));
  });

  test('gzip and xz images are written the same way', async () => {
    for (const [compression, body] of [
      ['gzip', gzipSync(raw)],
      ['xz', Buffer.from(execFileSync('xz', ['-1', '-c'], { input: raw, maxBuffer: 64 * MiB }))],
    ] as const) {
      requests = [];
      serve = { body };
      const r = await deploy({ sha256: sha(body), compressed: body.length, compression });
      assert.equal(r.code, 0, `${compression}: ${r.reason}\n${r.stderr}`);
      assert.ok(readFileSync(r.disk).subarray(0, raw.length).equals(raw), compression);
    }
  });

  test('a tampered image is refused by its digest; the first and last MiB of the disk are zeroed', async () => {
    requests = [];
    const tampered = Buffer.from(zst);
    const middle = tampered.length >> 1;
    tampered[middle] = tampered[middle]! ^ 0x01;
    serve = { body: tampered };
    const r = await deploy({ sha256: sha(zst), compressed: zst.length, compression: 'zstd' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.reason, new RegExp(`digest mismatch: expected sha256 ${sha(zst)}, received ${sha(tampered)}`));
    const disk = readFileSync(r.disk);
    assert.ok(
      disk.subarray(0, MiB).every((b) => b === 0),
      'first MiB zero: no partition table, no boot sector',
    );
    assert.ok(
      disk.subarray(disk.length - MiB).every((b) => b === 0),
      'last MiB zero: no backup GPT',
    );
  });

  test('without openssl, busybox sha256sum checks the digest: the image is written, a tampered one refused', async () => {
    requests = [];
    serve = { body: zst };
    const good = await deploy({ sha256: sha(zst), compressed: zst.length, compression: 'zstd', path: zstdOnly });
    assert.equal(good.code, 0, `${good.reason}\n${good.stderr}`);
    assert.match(good.stderr, /SHA-256 is computed by sha256sum as it arrives/);
    assert.ok(readFileSync(good.disk).subarray(0, raw.length).equals(raw));
    assert.equal(readFileSync(join(dir, 'work', 'sha256'), 'utf8').trim(), sha(zst));

    const tampered = Buffer.from(zst);
    tampered[100] = tampered[100]! ^ 0x80;
    serve = { body: tampered };
    const bad = await deploy({ sha256: sha(zst), compressed: zst.length, compression: 'zstd', path: zstdOnly });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.reason, new RegExp(`digest mismatch: expected sha256 ${sha(zst)}, received ${sha(tampered)}`));
  });

  test('a disk too small for the image is refused before anything is written', async () => {
    requests = [];
    serve = { body: zst };
    const r = await deploy({ sha256: sha(zst), compressed: zst.length, compression: 'zstd', diskBytes: 8 * MiB });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.reason, new RegExp(`holds ${8 * MiB} bytes; the image needs ${raw.length}: nothing was written`));
    assert.equal(requests.length, 0, 'not even downloaded');
    assert.ok(
      readFileSync(r.disk).every((b) => b === 0xee),
      'the disk is as it was',
    );
  });
});
