// What a UEFI HTTP boot client (OVMF, shim) asks of /ipxe/ and /assets/: a HEAD first with the
// size, then the GET; URLs glued with a double slash (`…/amd64//grubx64.efi`, `//ipxe/…`) find
// the file; no double slash, dot segment or escape ever reaches outside the folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { foldSlashes } from '../../src/http/slashes.ts';

let dir: string;
let h: RunningHttp;
const loader = Buffer.alloc(70_000, 0x4d);
const grub = Buffer.alloc(3_000, 0x47);
const SECRET = 'outside the tftp root';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pxp-httpboot-'));
  mkdirSync(join(dir, 'tftp', 'debian-installer', 'amd64'), { recursive: true });
  mkdirSync(join(dir, 'assets', 'debian', '12'), { recursive: true });
  writeFileSync(join(dir, 'tftp', 'snponly.efi'), loader);
  writeFileSync(join(dir, 'tftp', 'undionly.kpxe'), 'kpxe');
  writeFileSync(join(dir, 'tftp', 'debian-installer', 'amd64', 'grubx64.efi'), grub);
  writeFileSync(join(dir, 'assets', 'debian', '12', 'vmlinuz'), 'kernel');
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  h = await startHttp({ tftp: { root: join(dir, 'tftp') }, assets: { dir: join(dir, 'assets') } });
});

after(async () => {
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the firmware HEADs the loader: 200, its size in Content-Length, application/efi, no body; then the GET sends those bytes', async () => {
  const head = await rawRequest(h.port, 'HEAD', '/ipxe/snponly.efi');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(loader.length));
  assert.equal(head.headers['content-type'], 'application/efi');
  assert.equal(head.body.length, 0);
  const get = await rawRequest(h.port, 'GET', '/ipxe/snponly.efi');
  assert.equal(get.status, 200);
  assert.equal(get.headers['content-length'], String(loader.length));
  assert.ok(get.body.equals(loader), 'the GET sends the file');
  const kpxe = await rawRequest(h.port, 'HEAD', '/ipxe/undionly.kpxe');
  assert.equal(kpxe.headers['content-type'], 'application/octet-stream', 'only .efi files are application/efi');
});

test('a missing loader is a text 404 on HEAD and GET, so the firmware moves on', async () => {
  const head = await rawRequest(h.port, 'HEAD', '/ipxe/ipxe.efi');
  assert.equal(head.status, 404);
  const get = await rawRequest(h.port, 'GET', '/ipxe/ipxe.efi');
  assert.equal(get.status, 404);
  assert.match(get.text, /no such file: ipxe\.efi/);
});

test('URLs with a double slash, as shim and firmware glue them, find the same file', async () => {
  for (const path of [
    '/ipxe/debian-installer/amd64//grubx64.efi',
    '//ipxe/debian-installer/amd64/grubx64.efi',
    '/ipxe//debian-installer///amd64//grubx64.efi',
  ]) {
    const head = await rawRequest(h.port, 'HEAD', path);
    assert.equal(head.status, 200, `HEAD ${path}`);
    assert.equal(head.headers['content-length'], String(grub.length), `HEAD ${path}`);
    const get = await rawRequest(h.port, 'GET', path);
    assert.equal(get.status, 200, `GET ${path}`);
    assert.ok(get.body.equals(grub), `GET ${path} sends grubx64.efi`);
  }
  const kernel = await rawRequest(h.port, 'GET', '//assets/debian//12//vmlinuz');
  assert.equal(kernel.status, 200);
  assert.equal(kernel.text, 'kernel');
});

test('double slashes open no way out of the folder', async () => {
  for (const path of [
    '//ipxe/../secret.txt',
    '/ipxe//..//secret.txt',
    '/ipxe/debian-installer//..//..//secret.txt',
    '/ipxe//%2e%2e//secret.txt',
    '/ipxe/%2f%2f..%2fsecret.txt',
    '/ipxe//%2Fetc/passwd',
    '///ipxe///..///..///etc/passwd',
    '//assets//..//..//secret.txt',
    '/ipxe//',
  ]) {
    for (const method of ['GET', 'HEAD']) {
      const r = await rawRequest(h.port, method, path);
      assert.ok(r.status === 400 || r.status === 404, `${method} ${path}: ${r.status}`);
      assert.ok(!r.text.includes(SECRET) && !r.text.includes('root:'), `${method} ${path} leaked a file`);
    }
  }
});

const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,8}$/);
const slashes = fc.integer({ min: 1, max: 4 }).map((n) => '/'.repeat(n));

test('property: folding slashes leaves no run of two, keeps every segment in order, and never makes a `..`', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(slashes, segment), { maxLength: 8 }), fc.boolean(), (parts, trailing) => {
      const raw = parts.map(([s, seg]) => s + seg).join('') + (trailing ? '//' : '');
      const folded = foldSlashes(raw);
      assert.ok(!folded.includes('//'));
      assert.deepEqual(
        folded.split('/').filter((s) => s !== ''),
        raw.split('/').filter((s) => s !== ''),
      );
    }),
  );
});

test('property: any run of slashes between the segments of a path inside the root serves the same file', async () => {
  await fc.assert(
    fc.asyncProperty(slashes, slashes, slashes, slashes, async (a, b, c, d) => {
      const r = await rawRequest(h.port, 'GET', `${a}ipxe${b}debian-installer${c}amd64${d}grubx64.efi`);
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(grub));
    }),
    { numRuns: 40 },
  );
});

test('property: a path with a `..` segment, however slashed, is refused and never leaks the file beside the root', async () => {
  await fc.assert(
    fc.asyncProperty(slashes, slashes, fc.constantFrom('..', '%2e%2e', '.%2e', '%2E.'), fc.integer({ min: 1, max: 3 }), async (a, b, up, depth) => {
      const ups = Array.from({ length: depth }, () => up).join(b);
      const r = await rawRequest(h.port, 'GET', `${a}ipxe${b}${ups}${b}secret.txt`);
      assert.ok(r.status === 400 || r.status === 404, `status ${r.status}`);
      assert.ok(!r.text.includes(SECRET));
    }),
    { numRuns: 40 },
  );
});
