// Everything a user can get wrong with `assets add`: a clear message, exit 2, and nothing left
// behind in the assets folder.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { findOnPath } from '../../src/assets/tools.ts';
import { buildDebianNetinstIso, buildOtherIso, buildProxmoxIso, cli, entriesUnder, workspace, assetTools, type Workspace } from './fixtures.ts';

const skip = skipUnless(assetTools);

describe('assets add refuses bad input', { skip }, () => {
  let ws: Workspace;
  let pve: string;
  before(() => {
    ws = workspace();
    pve = join(ws.dir, 'proxmox-ve_9.1-1.iso');
    buildProxmoxIso(pve);
  });
  after(() => ws.cleanup());

  async function refused(args: string[], message: RegExp, env?: NodeJS.ProcessEnv): Promise<void> {
    const r = await cli(['assets', 'add', ...args, '--config', ws.ini], env);
    assert.equal(r.code, 2, `exit 2 for ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(entriesUnder(ws.assets), [], 'nothing left in the assets folder');
  }

  test('a truncated ISO', async () => {
    const cut = join(ws.dir, 'cut.iso');
    copyFileSync(pve, cut);
    truncateSync(cut, Math.floor(readFileSync(pve).length / 2));
    await refused([cut], /truncated.*download it again/);
  });

  test('a file that is not an ISO or a tarball', async () => {
    const text = join(ws.dir, 'notes.txt');
    writeFileSync(text, 'hello\n'.repeat(10_000));
    await refused([text], /neither an ISO 9660 image nor a tar archive/);
  });

  test('a file that does not exist', async () => {
    await refused([join(ws.dir, 'nope.iso')], /nope\.iso does not exist/);
  });

  test('an ISO of an unknown kind without --kernel', async () => {
    const other = join(ws.dir, 'other.iso');
    buildOtherIso(other);
    await refused([other], /--kernel PATH --initrd PATH/);
    await refused([other, '--kernel', 'images/pxeboot/vmlinuz', '--initrd', 'images/pxeboot/initrd.img'], /need --product NAME and --version V/);
    await refused(
      [other, '--kernel', 'images/pxeboot/nothere', '--initrd', 'images/pxeboot/initrd.img', '--product', 'x', '--version', '1'],
      /\/images\/pxeboot\/nothere is not in other\.iso/,
    );
  });

  test('a Debian netinst ISO: use the netboot tarball', async () => {
    const netinst = join(ws.dir, 'debian-12.8.0-amd64-netinst.iso');
    buildDebianNetinstIso(netinst);
    await refused([netinst], /Debian installer ISO.*netboot tarball/s);
  });

  test('a Proxmox ISO whose installer cannot run unattended', async () => {
    const old = join(ws.dir, 'proxmox-ve_8.0-1.iso');
    buildProxmoxIso(old, { release: '8.0', capable: false });
    await refused([old], /no \/auto-installer-capable/);
  });

  test('--version ../x and other unsafe names', async () => {
    await refused([pve, '--version', '../x'], /--version "\.\.\/x" is not a folder name/);
    await refused([pve, '--product', 'a/b'], /--product "a\/b" is not a folder name/);
    await refused([pve, '--answer-url', 'ftp://x/answer'], /not an http:\/\/ or https:\/\/ URL/);
    await refused([pve, '--cert-fingerprint', 'abc'], /--cert-fingerprint must be/);
  });

  test('xorriso missing: the message names the Debian package', async () => {
    const bin = mkdtempSync(join(ws.dir, 'bin-'));
    for (const tool of ['zstd', 'gzip', 'tar']) symlinkSync(findOnPath(tool)!, join(bin, tool));
    await refused([pve], /xorriso is not installed.*apt-get install xorriso/, { ...process.env, PATH: bin });
  });

  test('an existing image without --force', async () => {
    const first = await cli(['assets', 'add', pve, '--config', ws.ini]);
    assert.equal(first.code, 0, first.stderr);
    const before = entriesUnder(ws.assets);
    const r = await cli(['assets', 'add', pve, '--config', ws.ini]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists.*--force/);
    assert.deepEqual(entriesUnder(ws.assets), before, 'the existing image is untouched, no partial folder beside it');
    rmSync(join(ws.assets, 'proxmox-ve'), { recursive: true });
  });
});

describe('assets add on a full disk', { skip: skipUnless([...assetTools, 'root', 'mount', 'umount']) }, () => {
  test('a small tmpfs: a clear message, exit 2, nothing left', async () => {
    const ws = workspace();
    const pve = join(ws.dir, 'pve.iso');
    buildProxmoxIso(pve);
    const small = join(ws.dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', small]);
    try {
      const assets = join(small, 'assets');
      mkdirSync(assets);
      writeFileSync(ws.ini, readFileSync(ws.ini, 'utf8').replace(`dir = ${ws.assets}`, `dir = ${assets}`));
      const r = await cli(['assets', 'add', pve, '--config', ws.ini]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /not enough free space|disk .*is full/);
      assert.deepEqual(entriesUnder(assets), []);
    } finally {
      execFileSync('umount', [small]);
      ws.cleanup();
    }
  });
});
