// A file changed after `assets add` takes its image out of the menu, /boot explains why in its
// script and event, `assets verify` names the file, and check-config warns.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync, utimesSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { hostEntry } from '../helpers/profile.ts';
import { addImage } from '../../src/assets/add.ts';
import { Progress } from '../../src/assets/progress.ts';
import { scanAssets } from '../../src/assets/catalogue-scan.ts';
import { buildProxmoxIso, cli, workspace, assetTools, type Workspace } from './fixtures.ts';

const skip = skipUnless(assetTools);
const MAC = '52:54:00:00:10:01';
const quiet = new Progress({ write: () => {}, isTTY: false });

describe('verified images in the catalogue', { skip }, () => {
  let ws: Workspace;
  let h: RunningHttp;
  before(async () => {
    ws = workspace(`[host ${MAC}]\naction = install\nprofile = proxmox-ve/9.1-1\n`);
    const iso = join(ws.dir, 'proxmox-ve_9.1-1.iso');
    buildProxmoxIso(iso);
    await addImage({ source: iso, assetsDir: ws.assets, answerUrl: 'http://127.0.0.1/answer', force: false, initrds: [], builtBy: 'test', progress: quiet });
    await addImage({
      source: iso,
      assetsDir: ws.assets,
      version: '9.1-other',
      answerUrl: 'http://127.0.0.1/answer',
      force: false,
      initrds: [],
      builtBy: 'test',
      progress: quiet,
    });
    // A hand-made image without a manifest keeps working, shown as unverified.
    mkdirSync(join(ws.assets, 'debian', '13'), { recursive: true });
    writeFileSync(join(ws.assets, 'debian', '13', 'vmlinuz'), 'k');
    writeFileSync(join(ws.assets, 'debian', '13', 'initrd'), 'i');
    h = await startHttp({ assets: { dir: ws.assets }, hosts: [hostEntry(MAC, { action: 'install', profile: 'proxmox-ve/9.1-1' })] });
  });
  after(async () => {
    await h.stop();
    ws.cleanup();
  });

  test('untouched images are offered; a hand-made one is unverified', async () => {
    const integrity = Object.fromEntries(scanAssets(ws.assets).map((i) => [i.profile, i.integrity]));
    assert.deepEqual(integrity, { 'debian/13': 'unverified', 'proxmox-ve/9.1-1': 'verified', 'proxmox-ve/9.1-other': 'verified' });
    const menu = await rawRequest(h.port, 'GET', '/menu.ipxe');
    assert.match(menu.text, /Install Proxmox VE 9\.1-1/);
    assert.match(menu.text, /Install Debian 13/);
  });

  test('a changed file: left out of the menu, /boot refuses with the reason, verify names the file, check-config warns', async () => {
    const iso = join(ws.assets, 'proxmox-ve', '9.1-1', 'proxmox.iso');
    appendFileSync(iso, 'tampered');
    h.service.reload(h.profile);
    const menu = await rawRequest(h.port, 'GET', '/menu.ipxe');
    assert.doesNotMatch(menu.text, /Proxmox VE 9\.1-1\n/);
    assert.match(menu.text, /Install Proxmox VE 9\.1-other/);
    const boot = await rawRequest(h.port, 'GET', `/boot?mac=${MAC}`);
    assert.match(boot.text, /not offered: proxmox\.iso changed since it was added/);
    assert.doesNotMatch(boot.text, /^kernel /m);
    h.store.flushEvents();
    const event = h.store.events({ mac: MAC }).find((e) => e.kind === 'GET /boot');
    assert.equal(event?.decision, 'error');
    assert.match(event?.reason ?? '', /proxmox\.iso changed since it was added/);

    const verify = await cli(['assets', 'verify', 'proxmox-ve/9.1-1', '--config', ws.ini]);
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /proxmox-ve\/9\.1-1: FAILED: proxmox\.iso: checksum mismatch/);
    const good = await cli(['assets', 'verify', 'proxmox-ve/9.1-other', '--config', ws.ini]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /OK \(3 files\)/);

    const check = await cli(['check-config', '--config', ws.ini]);
    assert.match(check.stderr, /warning: install image proxmox-ve\/9\.1-1 is not offered: proxmox\.iso changed/);
  });

  test('a touched file (same bytes, new mtime) is caught by the cheap check; verify says the contents still match', async () => {
    const vmlinuz = join(ws.assets, 'proxmox-ve', '9.1-other', 'vmlinuz');
    const t = statSync(vmlinuz).mtime;
    utimesSync(vmlinuz, t, new Date(t.getTime() + 60_000));
    const img = scanAssets(ws.assets).find((i) => i.profile === 'proxmox-ve/9.1-other');
    assert.equal(img?.integrity, 'changed');
    assert.match(img?.integrityProblem ?? '', /vmlinuz changed since it was added \(modified/);
    const verify = await cli(['assets', 'verify', 'proxmox-ve/9.1-other', '--config', ws.ini]);
    assert.equal(verify.code, 1);
    assert.match(verify.stdout, /contents still match SHA256SUMS/);
  });
});

describe('GET /assets.json', { skip }, () => {
  test('lists images with their verification state and hosts; admin only', async () => {
    const ws = workspace();
    mkdirSync(join(ws.assets, 'debian', '13'), { recursive: true });
    writeFileSync(join(ws.assets, 'debian', '13', 'vmlinuz'), 'k');
    writeFileSync(join(ws.assets, 'debian', '13', 'initrd'), 'i');
    const h = await startHttp({
      assets: { dir: ws.assets },
      http: { adminToken: 'tok-0123456789' },
      hosts: [hostEntry(MAC, { action: 'install', profile: 'debian/13' })],
    });
    try {
      const denied = await fetch(`${h.base}/assets.json`);
      assert.equal(denied.status, 401);
      const r = await fetch(`${h.base}/assets.json`, { headers: { Authorization: 'Bearer tok-0123456789' } });
      assert.equal(r.status, 200);
      const body = (await r.json()) as { images: { profile: string; integrity: string; hosts: string[]; size: number }[] };
      assert.deepEqual(
        body.images.map((i) => [i.profile, i.integrity, i.hosts, i.size]),
        [['debian/13', 'unverified', [MAC], 2]],
      );
    } finally {
      await h.stop();
      ws.cleanup();
    }
  });
});

describe('GET /cpio/<image file>', { skip: skipUnless([...assetTools, 'cpio']) }, () => {
  test('the Proxmox ISO wrapped so the kernel unpacks it at /proxmox.iso; nothing outside the folder', async () => {
    const ws = workspace();
    const iso = join(ws.dir, 'pve.iso');
    buildProxmoxIso(iso);
    await addImage({ source: iso, assetsDir: ws.assets, answerUrl: 'http://127.0.0.1/answer', force: false, initrds: [], builtBy: 'test', progress: quiet });
    const h = await startHttp({ assets: { dir: ws.assets } });
    try {
      const r = await fetch(`${h.base}/cpio/proxmox-ve/9.1-1/proxmox.iso`);
      assert.equal(r.status, 200);
      const body = Buffer.from(await r.arrayBuffer());
      assert.equal(Number(r.headers.get('content-length')), body.length);
      const out = join(ws.dir, 'unpacked');
      mkdirSync(out);
      execFileSync('cpio', ['-i', '--quiet'], { cwd: out, input: body });
      assert.deepEqual(readFileSync(join(out, 'proxmox.iso')), readFileSync(join(ws.assets, 'proxmox-ve', '9.1-1', 'proxmox.iso')));
      for (const bad of ['/cpio/../pxe-pilot.ini', '/cpio/proxmox-ve/9.1-1/nope.iso', '/cpio/']) {
        const res = await rawRequest(h.port, 'GET', bad);
        assert.ok(res.status === 400 || res.status === 404, `${bad}: ${res.status}`);
      }
    } finally {
      await h.stop();
      ws.cleanup();
    }
  });
});
