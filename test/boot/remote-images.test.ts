// Remote images ([image] sections) through the one boot resolution, and [boot] default_install:
// what iPXE and GRUB are told to load, the kernel line with our placeholders filled, and when the
// install is consumed. An in-memory store; the catalogue is the daemon's (folders + remote images).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstallImage } from '../../src/boot/catalogue.ts';
import type { ClientDescription } from '../../src/boot/client.ts';
import type { BootPorts, ImageCatalogue } from '../../src/boot/ports.ts';
import { resolveBoot, type BootOutcome, type BootRequest } from '../../src/boot/resolve.ts';
import { renderInstallScript, renderMenu } from '../../src/boot/ipxe.ts';
import { renderGrubInstall } from '../../src/boot/grub.ts';
import { CombinedCatalogue } from '../../src/assets/remote-cache.ts';
import { parseProfile } from '../../src/config/load.ts';
import { Store } from '../../src/store/store.ts';

const SHA_K = 'a'.repeat(64);
const MAC = '52:54:00:27:00:01';
const NO_HOSTNAME = '52:54:00:27:00:02';
const GRUB_HOST = '52:54:00:27:00:03';
const ARMED = '52:54:00:27:00:04';
const opts = { interfaces: [{ name: 'br0', address: '10.27.0.2', netmask: '255.255.255.0', internal: false }], interfaceExists: () => true };

const INI = [
  '[server]',
  'address = 10.27.0.2',
  '[https]',
  'enabled = false',
  '[image ubuntu/24.04-remote]',
  'kernel = http://images.lab:8090/noble/vmlinuz',
  `kernel_sha256 = ${SHA_K}`,
  'initrd = http://images.lab:8090/${mac_hyphen}/initrd',
  'cmdline = "console=ttyS0 m=${mac} mh=${mac_hyphen} ip=${ip} h=${hostname} a=${answer_url} s=${net0/ip} ds=nocloud-net;s=x"',
  '[image standin/remote]',
  'kernel = http://images.lab:8090/standin/vmlinuz',
  `kernel_sha256 = ${SHA_K}`,
  'initrd = http://images.lab:8090/standin/initrd',
  `initrd_sha256 = ${'b'.repeat(64)}`,
  'cmdline = console=ttyS0 pxe_mac=${mac}',
  'consumed_at = answer',
  `[host ${MAC}]`,
  'hostname = node1',
  'ip = 10.27.0.51',
  'action = install',
  'profile = ubuntu/24.04-remote',
  `[host ${NO_HOSTNAME}]`,
  'action = install',
  'profile = ubuntu/24.04-remote',
  `[host ${GRUB_HOST}]`,
  'hostname = node3',
  'action = install',
  'profile = ubuntu/24.04-remote',
  'loader = grub',
  '',
].join('\n');

function setup(extra = '') {
  const profile = parseProfile(INI + extra, '/etc/pxe-pilot/remote.ini', opts);
  const remote = (): InstallImage[] =>
    [...profile.images.values()].map((e) => {
      const [product, version] = e.name.split('/') as [string, string];
      return {
        profile: e.name,
        product,
        version,
        kernel: e.kernel.url,
        initrds: e.initrds.map((f) => f.url),
        cmdline: e.cmdline,
        integrity: 'unverified',
        remote: { kernel: e.kernel, initrds: e.initrds, consumedAt: e.consumedAt },
      };
    });
  const folders: ImageCatalogue = { images: () => [], all: () => [], find: () => undefined, invalidate: () => {} };
  const catalogue = new CombinedCatalogue(folders, remote);
  const store = Store.open(':memory:');
  const ports: BootPorts = {
    getNode: (mac) => store.getNode(mac),
    sawNode: (mac, facts, armed) => store.sawNode(mac, facts, armed),
    applyChange: (mac, change) => store.applyChange(mac, change),
    record: (event) => store.record(event),
  };
  const request = (mac: string, grub = false): BootRequest => {
    const client: ClientDescription = { mac, ip: '10.27.0.77', firmware: 'uefi', isIpxe: !grub, platform: 'efi' };
    return grub
      ? { client, event: { protocol: 'tftp', kind: 'GRUB config', detail: { client: '10.27.0.77', file: 'grub.cfg' } } }
      : { client, event: { protocol: 'http', kind: 'GET /boot', detail: { ip: '10.27.0.77' } } };
  };
  const resolve = (mac: string, grub = false): Promise<BootOutcome> => resolveBoot(request(mac, grub), profile, ports, catalogue);
  return { profile, store, resolve, catalogue };
}

function tagged<T extends BootOutcome['tag']>(outcome: BootOutcome, tag: T): Extract<BootOutcome, { tag: T }> {
  assert.equal(outcome.tag, tag, `expected ${tag}: ${outcome.reason}`);
  return outcome as Extract<BootOutcome, { tag: T }>;
}

test('iPXE: a pinned kernel from our cache, an unpinned initrd from its own URL, every placeholder of ours filled', async () => {
  const { store, resolve } = setup();
  const install = tagged(await resolve(MAC), 'install');
  assert.equal(install.image.profile, 'ubuntu/24.04-remote');
  const script = renderInstallScript(install.image, 'http://10.27.0.2/assets', install.cmdline, install.vars, install.reason);
  const kernel = script.split('\n').find((l) => l.startsWith('kernel '))!;
  assert.ok(kernel.startsWith(`kernel http://10.27.0.2/remote/${SHA_K}/vmlinuz initrd=initrd `), kernel);
  assert.match(
    kernel,
    / console=ttyS0 m=52:54:00:27:00:01 mh=52-54-00-27-00-01 ip=10\.27\.0\.51 h=node1 a=http:\/\/10\.27\.0\.2\/answer s=\$\{net0\/ip\} ds=nocloud-net;s=x \|\| goto failed$/,
  );
  assert.ok(script.includes('initrd --name initrd http://images.lab:8090/52-54-00-27-00-01/initrd || goto failed'), script);
  // Consumed when the script is served (consumed_at = script, the default).
  assert.match(install.consumed ?? '', /install consumed now/);
  assert.equal(store.getNode(MAC)?.state, 'installing');
  store.close();
});

test('a remote image with consumed_at = answer stays pending until the installer fetches its answer', async () => {
  const { store, resolve } = setup(`[host ${ARMED}]\naction = install\nprofile = standin/remote\n`);
  const install = tagged(await resolve(ARMED), 'install');
  assert.equal(install.consumed, null);
  assert.equal(store.getNode(ARMED)?.state, 'install-pending');
  const script = renderInstallScript(install.image, 'http://10.27.0.2/assets', install.cmdline, install.vars, install.reason);
  assert.ok(script.includes(`initrd --name initrd http://10.27.0.2/remote/${'b'.repeat(64)}/initrd`), script);
  assert.match(script, / console=ttyS0 pxe_mac=52:54:00:27:00:04 \|\| goto failed/);
  store.close();
});

test('${hostname} without a value is an error before anything is consumed', async () => {
  const { store, resolve } = setup();
  const error = tagged(await resolve(NO_HOSTNAME), 'error');
  assert.match(error.reason, /cannot install ubuntu\/24\.04-remote: \$\{hostname\} in the kernel command line has no value/);
  assert.equal(store.getNode(NO_HOSTNAME)?.state, 'install-pending');
  store.close();
});

test('GRUB: an unpinned file cannot be served (no HTTP): an error naming the URL and the pin, nothing consumed; pinned files come over TFTP', async () => {
  const { store, resolve, profile, catalogue } = setup();
  const error = tagged(await resolve(GRUB_HOST, true), 'error');
  // The iPXE setting is found first; with it gone, the unpinned initrd is.
  assert.match(error.reason, /GRUB \(loader = grub\) cannot expand/);
  assert.equal(store.getNode(GRUB_HOST)?.state, 'install-pending');
  const image = catalogue.find('', 'ubuntu/24.04-remote')!;
  const plain = { ...image, cmdline: 'console=ttyS0' };
  const vars = { mac: GRUB_HOST, ip: '10.27.0.77', hostname: 'node3', server: 'http://10.27.0.2', answerUrl: 'http://10.27.0.2/answer' };
  const refused = renderGrubInstall(plain, '10.27.0.2', '', vars, 'test');
  assert.match(
    refused,
    /http:\/\/images\.lab:8090\/\$\{mac_hyphen\}\/initrd is not pinned, and GRUB \(loader = grub\) has no HTTP to fetch it; pin it with initrd_sha256/,
  );
  const pinned = catalogue.find('', 'standin/remote')!;
  const config = renderGrubInstall(pinned, '10.27.0.2', '', vars, 'test');
  assert.ok(config.includes(`linux '(tftp,10.27.0.2)/remote/${SHA_K}/vmlinuz' 'console=ttyS0' 'pxe_mac=52:54:00:27:00:03'`), config);
  assert.ok(config.includes(`initrd '(tftp,10.27.0.2)/remote/${'b'.repeat(64)}/initrd'`), config);
  assert.equal(profile.images.size, 2);
  store.close();
});

test('the menu offers remote images beside the folders, and the menu picks them by name', () => {
  const { catalogue } = setup();
  const menu = renderMenu(catalogue.images(''), { mac: MAC, httpBase: 'http://10.27.0.2', defaultItem: 'standin/remote', timeoutSeconds: 5, reason: 'test' });
  assert.match(menu, /item image\d Install standin remote/);
  assert.match(menu, /item image\d Install Ubuntu 24\.04-remote/);
  assert.match(menu, /profile=standin%2Fremote/);
});

test('[boot] default_install: a reinstall that names no profile installs it; without it, the menu says how to name one', async () => {
  for (const [extra, expected] of [
    ['[boot]\ndefault_install = standin/remote\n', 'install'],
    ['', 'menu'],
  ] as const) {
    const { store, resolve } = setup(extra);
    const mac = '52:54:00:27:00:09';
    store.sawNode(mac, {}, false);
    await store.applyChange(mac, { kind: 'arm', profile: null, by: 'admin' });
    const outcome = await resolve(mac);
    assert.equal(outcome.tag, expected, outcome.reason);
    if (outcome.tag === 'install') {
      assert.equal(outcome.image.profile, 'standin/remote');
      assert.match(outcome.reason, /^reinstall flag set by admin at \d\d:\d\d:\d\d, no profile named: \[boot\] default_install = standin\/remote$/);
    } else assert.match(outcome.reason, /but no profile is named: set profile in \[host .*\], in the reinstall request, or \[boot\] default_install/);
    store.close();
  }
});

test('after a remote image is consumed, the reason says how, by its own consumed_at', async () => {
  const { store, resolve } = setup(`[host ${ARMED}]\naction = install\nprofile = standin/remote\n`);
  tagged(await resolve(ARMED), 'install');
  await store.applyChange(ARMED, { kind: 'consume', profile: 'standin/remote' });
  assert.match(tagged(await resolve(ARMED), 'local').reason, /^install consumed: answer fetched at /);
  tagged(await resolve(MAC), 'install');
  assert.match(tagged(await resolve(MAC), 'local').reason, /^install consumed: its install script was served at /);
  store.close();
});
