// `pxe-pilot assets add` on installer-shaped ISOs and tarballs built here with xorriso and tar:
// every output file, the TOML inside the produced ISO, the manifest, and `sha256sum -c`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { parseImageManifest } from '../../src/assets/manifest.ts';
import {
  buildNetbootTarball,
  buildOtherIso,
  buildProxmoxIso,
  buildUbuntuIso,
  cli,
  elTorito,
  initrdBytes,
  isoFile,
  isoListing,
  kernelBytes,
  workspace,
  assetTools,
  type Workspace,
} from './fixtures.ts';

const skip = skipUnless(assetTools);

function manifestOf(folder: string) {
  const m = parseImageManifest(readFileSync(join(folder, 'image.json'), 'utf8'));
  assert.notEqual(typeof m, 'string', `image.json parses: ${typeof m === 'string' ? m : 'ok'}`);
  return m as Exclude<typeof m, string>;
}

function sha256sumCheck(folder: string): string {
  return execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: folder, encoding: 'utf8' });
}

describe('assets add', { skip }, () => {
  let ws: Workspace;
  before(() => {
    ws = workspace();
  });
  after(() => ws.cleanup());

  test('a Proxmox VE ISO becomes vmlinuz, a gzip initrd and proxmox.iso with the answer URL and without /boot', async () => {
    const iso = join(ws.dir, 'proxmox-ve_9.1-1.iso');
    buildProxmoxIso(iso);
    const r = await cli(['assets', 'add', iso, '--config', ws.ini, '--cert-fingerprint', Array(32).fill('ab').join(':'), '--answer-token', 'sekret']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added proxmox-ve\/9\.1-1/);
    assert.match(r.stderr, /writing proxmox\.iso/, 'a line per step without a terminal');
    const folder = join(ws.assets, 'proxmox-ve', '9.1-1');
    assert.deepEqual(readdirSync(folder).sort(), ['SHA256SUMS', 'image.json', 'initrd', 'proxmox.iso', 'vmlinuz']);
    assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), kernelBytes);
    const initrd = readFileSync(join(folder, 'initrd'));
    assert.equal(initrd.readUInt16BE(0), 0x1f8b, 'the initrd is gzip (iPXE and the kernel read it)');
    assert.deepEqual(gunzipSync(initrd), initrdBytes);
    assert.equal(initrd.length % 4, 0, 'padded to 4 bytes: on UEFI the cpio-wrapped ISO right after it must start where the kernel looks');

    const out = join(folder, 'proxmox.iso');
    const toml = (await isoFile(out, '/auto-installer-mode.toml', ws.dir)).toString('utf8');
    assert.equal(toml, `mode = "http"\n\n[http]\nurl = "https://10.9.8.7/answer"\ncert_fingerprint = "${Array(32).fill('AB').join(':')}"\ntoken = "sekret"\n`);
    const listing = await isoListing(out);
    assert.ok(listing.includes('/pve-base.squashfs') && listing.includes('/.cd-info'), listing.join(' '));
    assert.ok(!listing.some((f) => f.startsWith('/boot/')), `no /boot left: ${listing.join(' ')}`);
    const boot = await elTorito(out);
    assert.match(boot, /BIOS/, 'BIOS boot record kept');
    assert.match(boot, /UEFI/, 'UEFI boot record kept');

    const m = manifestOf(folder);
    assert.equal(m.profile, 'proxmox-ve/9.1-1');
    assert.equal(m.displayName, 'Proxmox VE');
    assert.equal(m.answerUrl, 'https://10.9.8.7/answer', 'HTTPS is on by default, so the answer URL in the ISO is HTTPS');
    assert.equal(m.source.name, 'proxmox-ve_9.1-1.iso');
    assert.equal(m.source.sha256, execFileSync('sha256sum', [iso], { encoding: 'utf8' }).slice(0, 64));
    assert.match(m.builtBy, /^pxe-pilot /);
    assert.deepEqual(
      m.files.map((f) => f.path),
      ['initrd', 'proxmox.iso', 'vmlinuz'],
    );
    assert.match(sha256sumCheck(folder), /proxmox\.iso: OK/);

    const ls = await cli(['assets', 'ls', '--json', '--config', ws.ini]);
    const rows = JSON.parse(ls.stdout) as { profile: string; integrity: string }[];
    assert.deepEqual(
      rows.map((x) => [x.profile, x.integrity]),
      [['proxmox-ve/9.1-1', 'verified']],
    );
  });

  test('--answer-url, --product and --version override what the ISO and the profile say; Backup Server gets its folder', async () => {
    const iso = join(ws.dir, 'pbs.iso');
    buildProxmoxIso(iso, { product: 'pbs', release: '4.0', isorelease: '2' });
    const r = await cli(['assets', 'add', iso, '--config', ws.ini, '--answer-url', 'https://answers.example:8443/answer']);
    assert.equal(r.code, 0, r.stderr);
    const folder = join(ws.assets, 'proxmox-bs', '4.0-2');
    const toml = (await isoFile(join(folder, 'proxmox.iso'), '/auto-installer-mode.toml', ws.dir)).toString('utf8');
    assert.match(toml, /^url = "https:\/\/answers\.example:8443\/answer"$/m);
    assert.doesNotMatch(toml, /token|cert_fingerprint/, 'left out when unset');
    const r2 = await cli(['assets', 'add', iso, '--config', ws.ini, '--product', 'proxmox-bs', '--version', '4.0-lab']);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(existsSync(join(ws.assets, 'proxmox-bs', '4.0-lab', 'proxmox.iso')));
    // Without --answer-url and --cert-fingerprint: this server's HTTPS URL, pinned by its own certificate.
    const own = (await isoFile(join(ws.assets, 'proxmox-bs', '4.0-lab', 'proxmox.iso'), '/auto-installer-mode.toml', ws.dir)).toString('utf8');
    const cert = await cli(['cert', '--config', ws.ini]);
    assert.equal(cert.code, 0, cert.stderr);
    assert.match(own, /^url = "https:\/\/10\.9\.8\.7\/answer"$/m);
    assert.match(own, new RegExp(`^cert_fingerprint = "${cert.stdout.trim()}"$`, 'm'), 'the fingerprint `pxe-pilot cert` prints');
    assert.match(r2.stdout, /certificate pinned in the ISO: ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  });

  test('an Ubuntu live-server ISO: kernel, initrd, the ISO under iso/ and a NoCloud cmdline', async () => {
    const iso = join(ws.dir, 'ubuntu-24.04.1-live-server-amd64.iso');
    buildUbuntuIso(iso);
    const r = await cli(['assets', 'add', iso, '--config', ws.ini]);
    assert.equal(r.code, 0, r.stderr);
    const folder = join(ws.assets, 'ubuntu-server', '24.04.1');
    assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), kernelBytes);
    assert.deepEqual(readFileSync(join(folder, 'initrd')), initrdBytes);
    assert.deepEqual(readFileSync(join(folder, 'iso', 'ubuntu-24.04.1-live-server-amd64.iso')), readFileSync(iso));
    const cmdline = readFileSync(join(folder, 'cmdline'), 'utf8');
    assert.match(cmdline, /url=\$\{server\}\/assets\/ubuntu-server\/24\.04\.1\/iso\/ubuntu-24\.04\.1-live-server-amd64\.iso/);
    assert.match(cmdline, /cloud-config-url=\/dev\/null autoinstall ds=nocloud-net;s=\$\{server\}\/nocloud\/\$\{mac\}\//);
    assert.match(sha256sumCheck(folder), /iso\/ubuntu-24\.04\.1-live-server-amd64\.iso: OK/);
  });

  test('a Debian netboot tarball: linux and initrd.gz of the amd64 installer and a preseed cmdline', async () => {
    const tarball = join(ws.dir, 'netboot.tar.gz');
    buildNetbootTarball(tarball);
    const r = await cli(['assets', 'add', tarball, '--config', ws.ini]);
    assert.equal(r.code, 0, r.stderr);
    const folder = join(ws.assets, 'debian', '12');
    assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), kernelBytes);
    assert.deepEqual(readFileSync(join(folder, 'initrd')), initrdBytes);
    assert.match(readFileSync(join(folder, 'cmdline'), 'utf8'), /url=\$\{server\}\/preseed\/\$\{mac\}\.cfg/);
    assert.equal(manifestOf(folder).kind, 'netboot');
    sha256sumCheck(folder);
  });

  test('any other ISO with --kernel and --initrd', async () => {
    const iso = join(ws.dir, 'other.iso');
    buildOtherIso(iso);
    const r = await cli([
      'assets',
      'add',
      iso,
      '--config',
      ws.ini,
      '--kernel',
      'images/pxeboot/vmlinuz',
      '--initrd',
      '/images/pxeboot/initrd.img',
      '--initrd',
      'images/install.img',
      '--product',
      'fedora',
      '--version',
      '41',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const folder = join(ws.assets, 'fedora', '41');
    assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), kernelBytes);
    assert.deepEqual(readFileSync(join(folder, 'initrd')), initrdBytes);
    assert.ok(existsSync(join(folder, '01-install.img')), readdirSync(folder).join(' '));
    sha256sumCheck(folder);
  });

  test('--force replaces an image; rm refuses while a [host] names it', async () => {
    const iso = join(ws.dir, 'proxmox-ve_9.1-1.iso');
    const again = await cli(['assets', 'add', iso, '--config', ws.ini, '--force']);
    assert.equal(again.code, 0, again.stderr);
    const hosts = workspace(`[host 52:54:00:aa:bb:01]\naction = install\nprofile = proxmox-ve/9.1-1\n`);
    try {
      const add = await cli(['assets', 'add', iso, '--config', hosts.ini]);
      assert.equal(add.code, 0, add.stderr);
      const ls = await cli(['assets', 'ls', '--config', hosts.ini]);
      assert.match(ls.stdout, /proxmox-ve\/9\.1-1\s+install\s+Proxmox VE\s+9\.1-1\s+\S+ \S+\s+yes\s+52:54:00:aa:bb:01/);
      const refused = await cli(['assets', 'rm', 'proxmox-ve/9.1-1', '--config', hosts.ini]);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /named by \[host\] 52:54:00:aa:bb:01/);
      assert.ok(existsSync(join(hosts.assets, 'proxmox-ve', '9.1-1')));
      const forced = await cli(['assets', 'rm', 'proxmox-ve/9.1-1', '--force', '--config', hosts.ini]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok(!existsSync(join(hosts.assets, 'proxmox-ve', '9.1-1')));
    } finally {
      hosts.cleanup();
    }
  });
});
