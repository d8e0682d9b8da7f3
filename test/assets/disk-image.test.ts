// `pxe-pilot assets add --kind disk-image`: a raw disk image kept compressed as given, with the
// SHA-256 of that file and the size it decompresses to in the manifest; `assets ls` shows its kind;
// virtual disks and images without a partition table are refused with what to do, leaving nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import fc from 'fast-check';
import { skipUnless } from '../helpers/requirements.ts';
import { parseImageManifest } from '../../src/assets/manifest.ts';
import { diskImageFormat, hasPartitionTable } from '../../src/assets/disk-image.ts';
import { cli, entriesUnder, workspace, type Workspace } from './fixtures.ts';

const skip = skipUnless(['zstd', 'xz', 'sha256sum']);

/** A 4 MiB "disk": a protective MBR (the 0x55AA signature), then a recognisable pattern. */
function rawDisk(seed: number): Buffer {
  const disk = Buffer.alloc(4 * 1024 * 1024);
  disk[450] = 0xee; // partition type: GPT protective
  disk[510] = 0x55;
  disk[511] = 0xaa;
  for (let i = 512; i < disk.length; i += 4096) disk.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return disk;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('diskImageFormat (pure)', () => {
  test('never throws, and names every first sector as a compression or a refused format', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const f = diskImageFormat(bytes);
        assert.ok(f.ok ? ['none', 'gzip', 'xz', 'zstd'].includes(f.compression) : f.format.length > 0);
      }),
    );
  });

  test('gzip of any content is gzip; a qcow2 header is refused as qcow2', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => assert.deepEqual(diskImageFormat(gzipSync(bytes)), { ok: true, compression: 'gzip' })),
    );
    assert.deepEqual(diskImageFormat(Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3])), { ok: false, format: 'qcow2' });
    assert.equal(hasPartitionTable(rawDisk(1)), true);
    assert.equal(hasPartitionTable(Buffer.alloc(512)), false);
  });
});

describe('assets add --kind disk-image', { skip }, () => {
  let ws: Workspace;
  before(() => {
    ws = workspace();
  });
  after(() => ws.cleanup());

  for (const [compression, suffix, compress] of [
    ['zstd', '.raw.zst', (f: string) => execFileSync('zstd', ['-q', '-3', f, '-o', `${f}.zst`])],
    ['xz', '.raw.xz', (f: string) => execFileSync('xz', ['-k', '-1', f])],
    ['gzip', '.raw.gz', (f: string) => writeFileSync(`${f}.gz`, gzipSync(readFileSync(f)))],
    ['none', '.raw', () => undefined],
  ] as const) {
    test(`a ${suffix} image is kept as it is, with its SHA-256 and its size once written`, async () => {
      const raw = join(ws.dir, `cloud-${compression}.raw`);
      const disk = rawDisk(compression.length);
      writeFileSync(raw, disk);
      compress(raw);
      const given = compression === 'none' ? raw : `${raw}${suffix.slice(4)}`;
      const r = await cli(['assets', 'add', given, '--kind', 'disk-image', '--product', 'debian-cloud', '--version', `12-${compression}`, '--config', ws.ini]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`added disk image debian-cloud/12-${compression}`));
      assert.match(r.stdout, /4194304 bytes once written/);
      const folder = join(ws.assets, 'debian-cloud', `12-${compression}`);
      const file = `disk${suffix}`;
      assert.deepEqual(readdirSync(folder).sort(), ['SHA256SUMS', 'image.json', file].sort());
      assert.deepEqual(readFileSync(join(folder, file)), readFileSync(given), 'kept compressed, byte for byte');
      const m = parseImageManifest(readFileSync(join(folder, 'image.json'), 'utf8'));
      assert.ok(typeof m !== 'string', typeof m === 'string' ? m : '');
      assert.equal(m.kind, 'disk-image');
      assert.deepEqual(m.disk, { file, compression, sizeBytes: disk.length, sha256: sha256(readFileSync(given)) });
      assert.match(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: folder, encoding: 'utf8' }), new RegExp(`${file.replace(/\./g, '\\.')}: OK`));
    });
  }

  test('assets ls shows disk images as their own kind, and verify checks them', async () => {
    const ls = await cli(['assets', 'ls', '--config', ws.ini]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^PROFILE\s+KIND\s+PRODUCT/m);
    assert.match(ls.stdout, /debian-cloud\/12-zstd\s+disk-image\s/);
    const json = JSON.parse((await cli(['assets', 'ls', '--json', '--config', ws.ini])).stdout) as { profile: string; kind: string; integrity: string }[];
    assert.deepEqual(
      json.filter((r) => r.profile.startsWith('debian-cloud/')).map((r) => [r.kind, r.integrity]),
      [0, 1, 2, 3].map(() => ['disk-image', 'verified']),
    );
    const verify = await cli(['assets', 'verify', 'debian-cloud/12-xz', '--config', ws.ini]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /debian-cloud\/12-xz: OK \(1 files\)/);
  });

  test('a qcow2 is refused with the qemu-img command that makes a raw image, and nothing is added', async () => {
    const qcow = join(ws.dir, 'cloud.qcow2');
    const header = Buffer.alloc(4096);
    header.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
    writeFileSync(qcow, header);
    const before = entriesUnder(ws.assets);
    for (const args of [['--kind', 'disk-image', '--product', 'x', '--version', '1'], []]) {
      const r = await cli(['assets', 'add', qcow, ...args, '--config', ws.ini]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /is a qcow2 (image|virtual disk)/);
      assert.match(r.stderr, /qemu-img convert -f qcow2 -O raw /);
    }
    assert.deepEqual(entriesUnder(ws.assets), before);
  });

  test('an image without a partition table, a broken download and a missing --version are refused and leave nothing', async () => {
    const before = entriesUnder(ws.assets);
    const bare = join(ws.dir, 'rootfs.raw');
    writeFileSync(bare, Buffer.alloc(1024 * 1024, 7));
    let r = await cli(['assets', 'add', bare, '--kind', 'disk-image', '--product', 'x', '--version', '1', '--config', ws.ini]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no partition table in its first sector/);

    const cut = join(ws.dir, 'cut.raw.gz');
    const whole = gzipSync(rawDisk(9));
    writeFileSync(cut, whole.subarray(0, whole.length >> 1));
    r = await cli(['assets', 'add', cut, '--kind', 'disk-image', '--product', 'x', '--version', '2', '--config', ws.ini]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /not a complete gzip file|does not decompress/);

    const good = join(ws.dir, 'good.raw');
    writeFileSync(good, rawDisk(3));
    r = await cli(['assets', 'add', good, '--kind', 'disk-image', '--product', 'x', '--config', ws.ini]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /needs --product NAME and --version V/);
    r = await cli(['assets', 'add', good, '--kind', 'iso', '--config', ws.ini]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the only kind given by hand is disk-image/);
    assert.deepEqual(entriesUnder(ws.assets), before);
  });
});
