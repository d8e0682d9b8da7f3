// `pxe-pilot assets add <folder>`: the netboot tree Debian's debian-installer-12-netboot-amd64
// package installs (or netboot.tar.gz unpacked), in the three spellings a user may give.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { parseImageManifest } from '../../src/assets/manifest.ts';
import { cli, entriesUnder, initrdBytes, kernelBytes, workspace, type Workspace } from './fixtures.ts';

const skip = skipUnless(['sha256sum']);
const packageTree = '/usr/lib/debian-installer/images/12/amd64/text';

/** The package's layout: <arch>/{text,gtk}/ with version.info, debian-installer/amd64/ and the top-level links. */
function packageShapedTree(root: string): { text: string; gtk: string } {
  const trees = { text: join(root, 'amd64', 'text'), gtk: join(root, 'amd64', 'gtk') };
  for (const [flavour, dir] of Object.entries(trees)) {
    const arch = join(dir, 'debian-installer', 'amd64');
    mkdirSync(join(arch, 'pxelinux.cfg'), { recursive: true });
    writeFileSync(join(dir, 'version.info'), 'Debian version:  12 (bookworm)\nInstaller build: 20230607+deb12u15\n');
    writeFileSync(join(arch, 'linux'), flavour === 'text' ? kernelBytes : Buffer.from('gtk kernel'));
    writeFileSync(join(arch, 'initrd.gz'), flavour === 'text' ? initrdBytes : Buffer.from('gtk initrd'));
    writeFileSync(join(arch, 'pxelinux.0'), 'pxelinux');
    symlinkSync('debian-installer/amd64/pxelinux.0', join(dir, 'pxelinux.0'));
  }
  return trees;
}

function manifestOf(folder: string) {
  const m = parseImageManifest(readFileSync(join(folder, 'image.json'), 'utf8'));
  assert.notEqual(typeof m, 'string', `image.json parses: ${typeof m === 'string' ? m : 'ok'}`);
  return m as Exclude<typeof m, string>;
}

describe('assets add on a netboot folder', { skip }, () => {
  let ws: Workspace;
  let trees: { text: string; gtk: string };
  before(() => {
    ws = workspace();
    trees = packageShapedTree(join(ws.dir, 'package'));
  });
  after(() => ws.cleanup());

  test("the package's text folder becomes debian/12 with the preseed cmdline, checkable by sha256sum", async () => {
    const r = await cli(['assets', 'add', trees.text, '--config', ws.ini]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /added debian\/12 \(Debian 12\)/);
    const folder = join(ws.assets, 'debian', '12');
    assert.deepEqual(readdirSync(folder).sort(), ['SHA256SUMS', 'cmdline', 'image.json', 'initrd', 'vmlinuz']);
    assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), kernelBytes);
    assert.deepEqual(readFileSync(join(folder, 'initrd')), initrdBytes);
    assert.equal(readFileSync(join(folder, 'cmdline'), 'utf8'), 'auto=true priority=critical interface=auto url=${server}/preseed/${mac}.cfg\n');
    const m = manifestOf(folder);
    assert.equal(m.kind, 'netboot');
    assert.equal(m.source.name, trees.text, 'the folder it came from');
    assert.equal(m.source.size, kernelBytes.length + initrdBytes.length);
    assert.match(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: folder, encoding: 'utf8' }), /vmlinuz: OK/);
  });

  test('the same tree gives the same source digest; the architecture folder takes text over gtk', async () => {
    const r = await cli(['assets', 'add', join(trees.text, '..'), '--config', ws.ini, '--version', '12-again']);
    assert.equal(r.code, 0, r.stderr);
    const folder = join(ws.assets, 'debian', '12-again');
    assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), kernelBytes, 'text, the flavour that speaks on a serial console');
    assert.equal(manifestOf(folder).source.sha256, manifestOf(join(ws.assets, 'debian', '12')).source.sha256);
  });

  test('the debian-installer/amd64 folder itself finds version.info at the tree root', async () => {
    const r = await cli(['assets', 'add', join(trees.gtk, 'debian-installer', 'amd64'), '--config', ws.ini, '--product', 'debian-gtk']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(ws.assets, 'debian-gtk', '12', 'vmlinuz'), 'utf8'), 'gtk kernel');
  });

  test('a folder without an installer, or with --kernel, is refused with exit 2 and nothing is left behind', async () => {
    const before = entriesUnder(ws.assets);
    const empty = join(ws.dir, 'empty');
    mkdirSync(empty);
    const r = await cli(['assets', 'add', empty, '--config', ws.ini]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /a folder without a netboot installer \(debian-installer\/amd64\/linux and initrd\.gz\).*debian-installer-12-netboot-amd64/);
    const k = await cli(['assets', 'add', trees.text, '--config', ws.ini, '--kernel', 'linux', '--initrd', 'initrd.gz', '--product', 'x', '--version', '1']);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /--kernel and --initrd take paths inside an ISO or tarball/);
    assert.deepEqual(entriesUnder(ws.assets), before);
  });

  test(
    "Debian's own package folder (debian-installer-12-netboot-amd64)",
    { skip: skipUnless([join(packageTree, 'debian-installer', 'amd64', 'linux')]) },
    async () => {
      const r = await cli(['assets', 'add', packageTree, '--config', ws.ini, '--product', 'debian-package']);
      assert.equal(r.code, 0, r.stderr);
      const folder = join(ws.assets, 'debian-package', '12');
      assert.deepEqual(readFileSync(join(folder, 'vmlinuz')), readFileSync(join(packageTree, 'debian-installer', 'amd64', 'linux')));
      assert.equal(manifestOf(folder).displayName, 'Debian');
    },
  );
});
