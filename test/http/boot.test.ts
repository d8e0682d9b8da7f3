// /boot, /install, the menu and /assets over HTTP. The assets folder is built once and only read;
// every test gets a server and store of its own, so what it asserts (an exact event list, a
// node count) comes from its own requests, alone by name or in any order.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import type { HostEntry } from '../../src/config/profile.ts';
import { detailOf } from '../../src/boot/events.ts';
import { hostEntry } from '../helpers/profile.ts';

const INSTALL_MAC = '52:54:00:00:00:01';
const LOCAL_MAC = '52:54:00:00:00:02';
const DEBIAN_MAC = '52:54:00:00:00:03';
let dir: string;
let h: RunningHttp;

function node(mac: string, action: HostEntry['action'], profile = ''): HostEntry {
  return hostEntry(mac, { hostname: `node-${mac.slice(-2)}`, action, profile, cmdline: 'console=ttyS0' });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pxp-http-'));
  const assets = join(dir, 'assets');
  for (const [p, v] of [
    ['proxmox-ve', '9.1-1'],
    ['proxmox-ve', '8.4-1'],
    ['debian', '13'],
  ] as const) {
    mkdirSync(join(assets, p, v), { recursive: true });
    writeFileSync(join(assets, p, v, 'vmlinuz'), `kernel ${p} ${v}`);
    writeFileSync(join(assets, p, v, 'initrd'), Buffer.alloc(100_000, 7));
  }
  writeFileSync(join(assets, 'debian', '13', 'cmdline'), 'auto=true priority=critical url=${server}/preseed/${mac}.cfg');
  mkdirSync(join(assets, 'proxmox-ve', '9.2-1'), { recursive: true }); // incomplete: no initrd
  writeFileSync(join(assets, 'proxmox-ve', '9.2-1', 'vmlinuz'), 'k');
  writeFileSync(join(dir, 'secret.txt'), 'outside the assets folder');
  symlinkSync(join(dir, 'secret.txt'), join(assets, 'escape.txt'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  h = await startHttp({
    assets: { dir: join(dir, 'assets') },
    hosts: [node(INSTALL_MAC, 'install', 'proxmox-ve/9.1-1'), node(LOCAL_MAC, 'local'), node(DEBIAN_MAC, 'install', 'debian/13')],
  });
});
afterEach(async () => {
  await h.stop();
});

test('GET /boot.ipxe and /chain serve the bootstrap pointing at this server', async () => {
  for (const path of ['/boot.ipxe', '/chain']) {
    const r = await rawRequest(h.port, 'GET', path);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.text, new RegExp(`chain --autofree http://127\\.0\\.0\\.1:${h.port}/boot\\?mac=\\$\\{mac:hexhyp\\}`));
  }
});

test('/boot: install once for a Proxmox host, local disk after the answer is fetched', async () => {
  const first = await rawRequest(h.port, 'GET', `/boot?mac=52-54-00-00-00-01&arch=x86_64&platform=efi`);
  assert.equal(first.status, 200);
  assert.match(first.text, /kernel http:\/\/127\.0\.0\.1:\d+\/assets\/proxmox-ve\/9\.1-1\/vmlinuz initrd=initrd .*proxmox-start-auto-installer console=ttyS0/);
  // Booting again before the answer was fetched (e.g. the installer crashed) still installs.
  assert.match((await rawRequest(h.port, 'GET', `/boot?mac=${INSTALL_MAC}`)).text, /kernel /);
  assert.equal(h.store.getNode(INSTALL_MAC)?.state, 'install-pending');
  await h.store.applyChange(INSTALL_MAC, { kind: 'consume', profile: 'proxmox-ve/9.1-1' });
  const after = await rawRequest(h.port, 'GET', `/boot?mac=${INSTALL_MAC}`);
  assert.match(after.text, /^#!ipxe\necho pxe-pilot: local disk: install consumed: answer fetched at/);
  assert.match(after.text, /\nexit\n$/);
  const events = h.store.events({ mac: INSTALL_MAC });
  assert.deepEqual(
    events.map((e) => e.decision),
    ['install', 'install', 'local'],
  );
  assert.equal(detailOf(events[0]!, 'http')?.platform, 'efi');
});

test('/boot: an installer without an answer fetch is consumed when its script is served', async () => {
  const r = await rawRequest(h.port, 'GET', `/boot?mac=${DEBIAN_MAC}`);
  assert.match(r.text, new RegExp(`initrd=initrd auto=true priority=critical url=http://127\\.0\\.0\\.1:${h.port}/preseed/${DEBIAN_MAC}\\.cfg console=ttyS0`));
  assert.equal(h.store.getNode(DEBIAN_MAC)?.state, 'installing');
  // It fetched no answer: the next boot says what did consume it.
  const again = (await rawRequest(h.port, 'GET', `/boot?mac=${DEBIAN_MAC}`)).text;
  assert.match(again, /local disk: install consumed: its install script was served at \d\d:\d\d:\d\d/);
  assert.doesNotMatch(again, /answer fetched/);
});

test('/boot: a machine first seen before its [host] said install installs once, and a cancel sticks', async () => {
  const LATE = '52:54:00:00:00:04';
  const CANCELLED = '52:54:00:00:00:05';
  // First boots with no [host] section: the menu, recorded as seen.
  for (const mac of [LATE, CANCELLED]) assert.match((await rawRequest(h.port, 'GET', `/boot?mac=${mac}`)).text, /menu/);
  // The operator then gives both action=install (a reload: same store, new profile).
  const later = await startHttp(
    { assets: { dir: join(dir, 'assets') }, hosts: [node(LATE, 'install', 'debian/13'), node(CANCELLED, 'install', 'debian/13')] },
    h.store,
  );
  try {
    // One cancels it before its next boot: armed at this sighting, then cancelled through the admin API.
    h.store.sawNode(CANCELLED, {}, true);
    assert.equal(h.store.getNode(CANCELLED)?.state, 'install-pending');
    assert.equal((await rawRequest(later.port, 'DELETE', `/nodes/${CANCELLED}/reinstall`)).status, 200);
    assert.match((await rawRequest(later.port, 'GET', `/boot?mac=${CANCELLED}`)).text, /install was cancelled through the admin API/);
    // The other installs on its next boot, exactly once.
    assert.match((await rawRequest(later.port, 'GET', `/boot?mac=${LATE}`)).text, /kernel .*debian\/13\/vmlinuz/);
    assert.equal(h.store.getNode(LATE)?.state, 'installing');
    assert.match((await rawRequest(later.port, 'GET', `/boot?mac=${LATE}`)).text, /local disk/);
  } finally {
    await later.stop();
  }
});

test('/boot: unknown machines get the menu, complete versions only, default local after the timeout', async () => {
  const r = await rawRequest(h.port, 'GET', '/boot?mac=AA:BB:CC:00:11:22');
  assert.match(r.text, /^menu pxe-pilot: aa:bb:cc:00:11:22$/m);
  assert.match(r.text, /Install Proxmox VE 9\.1-1\n.*Install Proxmox VE 8\.4-1/);
  assert.doesNotMatch(r.text, /9\.2-1/, 'an incomplete version folder is not offered');
  assert.match(r.text, /choose --default local --timeout 10000/);
  assert.equal(h.store.getNode('aa:bb:cc:00:11:22')?.state, 'seen');
});

test('/boot: a host with action=local gets exit', async () => {
  const r = await rawRequest(h.port, 'GET', `/boot?mac=${LOCAL_MAC}`);
  assert.match(r.text, /host 52:54:00:00:00:02 has action=local\nexit\n$/);
});

test('/boot: missing or malformed MACs are 400 text/plain and create no node', async () => {
  for (const q of [
    '',
    '?mac=',
    '?mac=../../etc/passwd',
    '?mac=52:54:00:00:00',
    '?mac=%00',
    '?mac=52:54:00:00:00:0g',
    `?mac=${'a'.repeat(5000)}`,
    '?mac=1&mac=2',
  ]) {
    const r = await rawRequest(h.port, 'GET', `/boot${q}`);
    assert.equal(r.status, 400, `/boot${q}`);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.text, /mac/);
  }
  assert.equal(h.store.countNodes(), 0);
});

test('/install: a menu pick serves that image; unknown images are 400', async () => {
  const r = await rawRequest(h.port, 'GET', '/install?mac=52-54-00-aa-aa-aa&profile=proxmox-ve%2F8.4-1');
  assert.match(r.text, /proxmox-ve\/8\.4-1\/vmlinuz/);
  assert.equal((await rawRequest(h.port, 'GET', '/install?mac=52-54-00-aa-aa-aa&profile=..%2F..%2Fetc')).status, 400);
});

test('/menu.ipxe is generated from the assets folder', async () => {
  const r = await rawRequest(h.port, 'GET', '/menu.ipxe');
  assert.equal(r.status, 200);
  assert.match(r.text, /item --gap -- Proxmox VE/);
  assert.match(r.text, /item local Boot from local disk/);
});

test('/assets: Content-Length, ETag, Last-Modified, HEAD, ranges, 304', async () => {
  const path = '/assets/proxmox-ve/9.1-1/initrd';
  const full = await rawRequest(h.port, 'GET', path);
  assert.equal(full.status, 200);
  assert.equal(full.body.length, 100_000);
  assert.equal(full.headers['content-length'], '100000');
  const etag = String(full.headers.etag);
  assert.ok(etag && full.headers['last-modified']);
  const head = await rawRequest(h.port, 'HEAD', path);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '100000');
  assert.equal(head.body.length, 0);
  const part = await rawRequest(h.port, 'GET', path, { Range: 'bytes=10-19' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], 'bytes 10-19/100000');
  assert.equal(part.body.length, 10);
  const tail = await rawRequest(h.port, 'GET', path, { Range: 'bytes=-5' });
  assert.equal(tail.headers['content-range'], 'bytes 99995-99999/100000');
  const bad = await rawRequest(h.port, 'GET', path, { Range: 'bytes=200000-' });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers['content-range'], 'bytes */100000');
  assert.equal((await rawRequest(h.port, 'GET', path, { 'If-None-Match': etag })).status, 304);
});

test('/assets: nothing outside the folder, no listings, never a 500', async () => {
  for (const path of [
    '/assets/../secret.txt',
    '/assets/%2e%2e/secret.txt',
    '/assets/..%2fsecret.txt',
    '/assets/escape.txt',
    '/assets/proxmox-ve',
    '/assets/',
    '/assets/%00',
    '/assets/a%5c..%5csecret.txt',
    '/ipxe/../../etc/passwd',
  ]) {
    const r = await rawRequest(h.port, 'GET', path);
    assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
    assert.doesNotMatch(r.text, /outside the assets folder/);
  }
});

test('wrong methods are 405 and unknown paths 404, with JSON bodies, never HTML', async () => {
  const r = await rawRequest(h.port, 'DELETE', '/health');
  assert.equal(r.status, 405);
  assert.deepEqual(Object.keys(JSON.parse(r.text)), ['error']);
  const n = await rawRequest(h.port, 'GET', '/nothing-here');
  assert.equal(n.status, 404);
  assert.match(JSON.parse(n.text).error, /no such path/);
  const malformed = await rawRequest(h.port, 'GET', '/assets/%E0%A4%A');
  assert.ok(malformed.status >= 400 && malformed.status < 500, `malformed escape: ${malformed.status}`);
});

test('GET /health tells status, version, uptime and bindings', async () => {
  const r = await rawRequest(h.port, 'GET', '/health');
  const body = JSON.parse(r.text);
  assert.equal(body.status, 'ok');
  assert.equal(typeof body.uptime, 'number');
  assert.deepEqual(body.services[0].bindings[0], { protocol: 'tcp', address: '127.0.0.1', port: h.port });
});
