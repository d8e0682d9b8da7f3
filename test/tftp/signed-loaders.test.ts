// TFTP for loader = grub, on 127.0.0.1: what Debian's signed shim and GRUB ask for (leading
// slashes, shim's optional files, their block and window sizes) and what they get (the signed
// binaries from [boot] grub_dir, GRUB's generated configurations, the image folders).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BootEvent } from '../../src/boot/events.ts';
import { SIGNED_CHAINS, signedFileOnDisk } from '../../src/boot/loaders.ts';
import { AssetCatalogue } from '../../src/assets/catalogue-scan.ts';
import { silentLogger } from '../../src/log.ts';
import { Store } from '../../src/store/store.ts';
import { TftpService } from '../../src/tftp/server.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import { waitFor } from '../helpers/netns.ts';
import { RawClient, download, sha256 } from '../helpers/tftp.ts';

const installMac = '52:54:00:5b:00:01';
const localMac = '52:54:00:5b:00:02';

describe('tftp for the signed shim → GRUB chain', () => {
  const base = mkdtempSync(join(tmpdir(), 'pxp-sb-'));
  const grubDir = join(base, 'images');
  const assets = join(base, 'assets');
  const root = join(base, 'root');
  const binaries = new Map<string, Buffer>();
  const events: BootEvent[] = [];
  let store: Store;
  let service: TftpService;
  let port = 0;

  before(async () => {
    for (const chain of SIGNED_CHAINS) {
      for (const file of [chain.shim, chain.grub]) {
        const path = signedFileOnDisk(grubDir, chain, file);
        mkdirSync(join(path, '..'), { recursive: true });
        const bytes = randomBytes(40_000 + binaries.size * 1000);
        writeFileSync(path, bytes);
        binaries.set(`${chain.folder}/${file}`, bytes);
      }
      // The package's own GRUB folder exists on disk; it must not be what GRUB reads.
      mkdirSync(join(signedFileOnDisk(grubDir, chain, 'grub'), chain.platform), { recursive: true });
      writeFileSync(join(signedFileOnDisk(grubDir, chain, 'grub'), chain.platform, 'grub.cfg'), 'menuentry installer {}\n');
    }
    mkdirSync(join(assets, 'debian', '12'), { recursive: true });
    writeFileSync(join(assets, 'debian', '12', 'vmlinuz'), randomBytes(30_000));
    writeFileSync(join(assets, 'debian', '12', 'initrd'), randomBytes(20_000));
    writeFileSync(join(assets, 'debian', '12', 'cmdline'), 'console=ttyS0 auto=true\n');
    writeFileSync(join(base, 'secret.txt'), 'not for TFTP\n');
    symlinkSync(join(base, 'secret.txt'), join(assets, 'debian', '12', 'leak'));
    mkdirSync(root);
    store = Store.open(':memory:');
    const sink = {
      ...store,
      getNode: store.getNode.bind(store),
      sawNode: store.sawNode.bind(store),
      applyChange: store.applyChange.bind(store),
      record: (event: Parameters<Store['record']>[0]) => {
        events.push({ time: Date.now(), ...event });
        store.record(event);
      },
    };
    const profile = testProfile({
      tftp: { root, port: 0, bind: '127.0.0.1' },
      boot: { loader: 'grub', grubDir, menuTimeout: 2 },
      assets: { dir: assets },
      hosts: [hostEntry(installMac, { action: 'install', profile: 'debian/12', cmdline: 'priority=critical' }), hostEntry(localMac, { action: 'local' })],
    });
    service = new TftpService({ profile, logger: silentLogger(), events: sink, nodes: sink, catalogue: new AssetCatalogue(), stopGraceMs: 200 });
    await service.start();
    port = service.port;
  });
  after(async () => {
    await service.stop();
    store.close();
    rmSync(base, { recursive: true, force: true });
  });

  test("shim's request (leading slash, blksize 512, windowsize 4) gets the signed file from [boot] grub_dir, for x86-64 and arm64", async () => {
    for (const [path, bytes] of binaries) {
      const got = await download(port, `/${path}`, { blksize: 512, windowsize: 4 });
      assert.equal(sha256(got.bytes), sha256(bytes), path);
    }
  });

  test("GRUB's request (blksize 1024 with tsize) is acknowledged with both, the size being the file's", async () => {
    const client = await RawClient.open();
    try {
      client.request(port, '/debian-installer/amd64/grubx64.efi', [
        { name: 'blksize', value: '1024' },
        { name: 'tsize', value: '0' },
      ]);
      const oack = await client.next();
      assert.deepEqual(oack?.packet, {
        opcode: 6,
        options: [
          { name: 'blksize', value: '1024' },
          { name: 'tsize', value: String(binaries.get('debian-installer/amd64/grubx64.efi')!.length) },
        ],
      });
    } finally {
      client.close();
    }
  });

  test("shim's optional files get a quiet file-not-found: an ERROR 1, no warning event", async () => {
    for (const name of ['revocations_sbat.efi', 'revocations_sku.efi', 'shim_certificate_0.efi']) {
      await assert.rejects(download(port, `/debian-installer/amd64/${name}`), /ERROR 1: file not found/);
    }
    assert.ok(!events.some((e) => /revocations|shim_certificate/.test(e.kind)), 'no event for the probes');
  });

  test("GRUB's platform config is not found, so it reads $prefix/grub.cfg, which sends each machine to its own", async () => {
    for (const chain of SIGNED_CHAINS) {
      await assert.rejects(download(port, `${chain.prefix}/${chain.platform}/grub.cfg`), /ERROR 1/);
      const text = (await download(port, `${chain.prefix}/grub.cfg`)).bytes.toString('utf8');
      assert.match(text, /configfile "\$prefix\/pxe-pilot\/\$\{net_default_mac\}\.cfg"/);
    }
  });

  test('an armed machine gets its install over TFTP once (the same rule as /boot?mac=), then local disk', async () => {
    const path = `/debian-installer/amd64/grub/pxe-pilot/${installMac}.cfg`;
    const first = (await download(port, path)).bytes.toString('utf8');
    assert.match(first, /linux '\(tftp,127\.0\.0\.1\)\/assets\/debian\/12\/vmlinuz' 'console=ttyS0' 'auto=true' 'priority=critical'/);
    assert.match(first, /initrd '\(tftp,127\.0\.0\.1\)\/assets\/debian\/12\/initrd'\nboot/);
    assert.match(first, /installing debian\/12: host 52:54:00:5b:00:01 has action=install in \(test\), profile debian\/12/);
    await waitFor('the install consumed', () => store.getNode(installMac)?.state === 'installing');
    const again = (await download(port, path)).bytes.toString('utf8');
    assert.match(again, /local disk: install consumed/);
    assert.match(again, /\nexit\n/);
    assert.doesNotMatch(again, /^linux/m);
    const decisions = events.filter((e) => e.mac === installMac && e.code === 'grub-config').map((e) => e.decision);
    assert.deepEqual(decisions, ['install', 'local']);
  });

  test('a machine with action = local exits to the firmware; an unknown one gets the menu with its timeout', async () => {
    const local = (await download(port, `/debian-installer/arm64/grub/pxe-pilot/${localMac}.cfg`)).bytes.toString('utf8');
    assert.match(local, /echo 'pxe-pilot: local disk: host 52:54:00:5b:00:02 has action=local'\nexit/);
    const menu = (await download(port, '/debian-installer/amd64/grub/pxe-pilot/52:54:00:5b:00:99.cfg')).bytes.toString('utf8');
    assert.match(menu, /set default=local\nset timeout=2/);
    assert.match(menu, /menuentry 'Install Debian 12' --id image0 \{/);
    assert.match(menu, /menuentry 'Boot from local disk' --id local \{\n.*\n {2}exit\n\}/);
  });

  test('image folders are readable under /assets, read-only and never beyond [assets] dir', async () => {
    const kernel = await download(port, '/assets/debian/12/vmlinuz', { blksize: 1024 });
    assert.equal(kernel.bytes.length, 30_000);
    await assert.rejects(download(port, '/assets/debian/12/leak'), /ERROR 2/);
    await assert.rejects(download(port, '/assets/../secret.txt'), /ERROR 2/);
    await assert.rejects(download(port, '/assets/nothing/here'), /ERROR 1/);
  });
});
