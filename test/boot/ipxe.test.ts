import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { renderInstallScript, renderMenu, renderBootstrapScript } from '../../src/boot/ipxe.ts';
import { compareVersionsDesc, type InstallImage } from '../../src/boot/catalogue.ts';

function image(product: string, version: string, extra: string[] = [], cmdline: string | null = null): InstallImage {
  return {
    profile: `${product}/${version}`,
    product,
    version,
    kernel: `${product}/${version}/vmlinuz`,
    initrds: [`${product}/${version}/initrd`, ...extra.map((e) => `${product}/${version}/${e}`)],
    cmdline,
  };
}
const vars = { mac: '52:54:00:12:34:56', ip: '10.0.0.50', hostname: 'pve1', server: 'http://10.0.0.1:8080', answerUrl: 'http://10.0.0.1:8080/answer' };

/** Every `goto X` / `--default X` / `|| goto X` names a label that exists. */
function assertTargetsExist(script: string): void {
  const labels = new Set([...script.matchAll(/^:(\S+)$/gm)].map((m) => m[1]));
  const items = new Set([...script.matchAll(/^item (?!--gap)(\S+)/gm)].map((m) => m[1]));
  for (const m of script.matchAll(/goto (\S+)/g)) if (m[1] !== '${target}') assert.ok(labels.has(m[1]), `goto ${m[1]} has no label`);
  for (const item of items) assert.ok(labels.has(item), `item ${item} has no label`);
  const def = /--default (\S+)/.exec(script);
  if (def) assert.ok(items.has(def[1]), `default ${def[1]} is not an item`);
}

test('the install script names every initrd on the kernel line (UEFI iPXE needs it)', () => {
  const s = renderInstallScript(image('proxmox-ve', '9.1-1', ['proxmox.iso']), 'http://10.0.0.1:8080/assets', 'console=ttyS0', vars, 'host has action=install');
  const kernel = s.split('\n').find((l) => l.startsWith('kernel '))!;
  assert.match(
    kernel,
    /^kernel http:\/\/10\.0\.0\.1:8080\/assets\/proxmox-ve\/9\.1-1\/vmlinuz initrd=initrd initrd=proxmox\.iso ramdisk_size=16777216 rw quiet splash=silent proxmox-start-auto-installer console=ttyS0 \|\| goto failed$/,
  );
  assert.match(s, /^initrd --name initrd http:\/\/10\.0\.0\.1:8080\/assets\/proxmox-ve\/9\.1-1\/initrd \|\| goto failed$/m);
  // The ISO comes wrapped in cpio from the server itself, so the kernel unpacks it at /proxmox.iso.
  assert.match(s, /^initrd --name proxmox\.iso http:\/\/10\.0\.0\.1:8080\/cpio\/proxmox-ve\/9\.1-1\/proxmox\.iso \|\| goto failed$/m);
  assert.match(s, /^boot \|\| goto failed$/m);
  assertTargetsExist(s);
});

test('cmdline placeholders are filled per machine; iPXE settings reach iPXE untouched', () => {
  const s = renderInstallScript(
    image(
      'ubuntu',
      '24.04',
      [],
      'ds=nocloud-net;s=${server}/nocloud/${mac}/ ip=${ip} host=${hostname} a=${answer_url} m=${mac_hyphen} b=${net0/ip} arch=${buildarch}',
    ),
    'http://x/assets',
    '',
    vars,
    'r',
  );
  const kernel = s.split('\n').find((l) => l.startsWith('kernel '))!;
  assert.equal(
    kernel,
    'kernel http://x/assets/ubuntu/24.04/vmlinuz initrd=initrd ds=nocloud-net;s=http://10.0.0.1:8080/nocloud/52:54:00:12:34:56/ ip=10.0.0.50 host=pve1 a=http://10.0.0.1:8080/answer m=52-54-00-12-34-56 b=${net0/ip} arch=${buildarch} || goto failed',
  );
});

test('a cmdline with a typo or an empty ${hostname} is refused at the console with the reason, not served mangled', () => {
  const typo = renderInstallScript(image('ubuntu', '24.04', [], 'autoinstall host=${hostnmae}'), 'http://x/assets', '', vars, 'r');
  assert.doesNotMatch(typo, /^kernel /m);
  assert.match(typo, /^echo pxe-pilot: cannot install ubuntu\/24\.04: .*unknown placeholder \$ \{hostnmae\}: did you mean \$ \{hostname\}\?/m);
  assert.match(typo, /^exit$/m);
  const empty = renderInstallScript(image('ubuntu', '24.04', [], 'autoinstall host=${hostname}'), 'http://x/assets', '', { ...vars, hostname: '' }, 'r');
  assert.doesNotMatch(empty, /^kernel /m);
  assert.match(empty, /\$ \{hostname\} in the kernel command line has no value: no \[host 52:54:00:12:34:56\] section with a hostname/);
  // A [host] cmdline with a typo is refused the same way.
  assert.doesNotMatch(renderInstallScript(image('debian', '12'), 'http://x/assets', 'x=${nope}', vars, 'r'), /^kernel /m);
});

test('a filled value cannot inject iPXE variables or commands', () => {
  const s = renderInstallScript(image('debian', '12', [], 'h=${hostname}'), 'http://x/assets', '', { ...vars, hostname: 'a${net0/ip}||shell' }, 'r');
  const kernel = s.split('\n').find((l) => l.startsWith('kernel '))!;
  assert.doesNotMatch(kernel, /\$\{|\|\|\s*shell/);
});

test('the menu lists products by name and versions newest first, with a working default and timeout', () => {
  const s = renderMenu(
    [image('proxmox-ve', '8.4-1'), image('proxmox-ve', '9.1-1'), image('proxmox-ve', '9.0-2'), image('debian', '13'), image('proxmox-bs', '4.0-1')],
    {
      mac: '52:54:00:12:34:56',
      httpBase: 'http://10.0.0.1:8080',
      defaultItem: 'local',
      timeoutSeconds: 10,
      reason: 'r',
    },
  );
  const entries = [...s.matchAll(/^item (?:--gap -- )?(.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(entries.slice(0, 9), [
    'Debian',
    'image0 Install Debian 13',
    'Proxmox Backup Server',
    'image1 Install Proxmox Backup Server 4.0-1',
    'Proxmox VE',
    'image2 Install Proxmox VE 9.1-1',
    'image3 Install Proxmox VE 9.0-2',
    'image4 Install Proxmox VE 8.4-1',
    'Other',
  ]);
  assert.match(s, /^choose --default local --timeout 10000 target \|\| goto local$/m);
  assert.match(s, /chain --autofree http:\/\/10\.0\.0\.1:8080\/install\?mac=52-54-00-12-34-56&profile=proxmox-ve%2F9\.1-1 \|\| goto local/);
  assertTargetsExist(s);
});

test('a menu default that names a missing image falls back to local disk', () => {
  const s = renderMenu([image('proxmox-ve', '9.1-1')], { mac: 'm', httpBase: 'h', defaultItem: 'proxmox-ve/7.0-1', timeoutSeconds: 3, reason: 'r' });
  assert.match(s, /--default local --timeout 3000/);
  const t = renderMenu([image('proxmox-ve', '9.1-1')], { mac: 'm', httpBase: 'h', defaultItem: 'proxmox-ve/9.1-1', timeoutSeconds: 3, reason: 'r' });
  assert.match(t, /--default image0 /);
});

test('property: any set of images gives a menu whose every target exists', () => {
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,10}$/);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(name, name), { maxLength: 12, selector: ([p, v]) => `${p}/${v}` }),
      fc.constantFrom('local', 'shell', 'x/y'),
      (pairs, def) => {
        const s = renderMenu(
          pairs.map(([p, v]) => image(p, v)),
          { mac: 'm', httpBase: 'h', defaultItem: def, timeoutSeconds: 1, reason: 'because ${x} || evil' },
        );
        assertTargetsExist(s);
        assert.doesNotMatch(s.split('\n')[1]!, /\$\{x\}|\|\|/, 'the reason cannot inject iPXE syntax');
      },
    ),
  );
});

test('versions sort newest first by numeric parts', () => {
  assert.deepEqual(['8.4-1', '9.1-1', '10.0-1', '9.0-2', '9.1-10'].sort(compareVersionsDesc), ['10.0-1', '9.1-10', '9.1-1', '9.0-2', '8.4-1']);
});

test('the bootstrap chains to /boot with the booting NIC and falls back to the firmware', () => {
  const s = renderBootstrapScript('http://10.0.0.1');
  assert.match(s, /^#!ipxe/);
  assert.match(s, /chain --autofree http:\/\/10\.0\.0\.1\/boot\?mac=\$\{mac:hexhyp\}&arch=\$\{buildarch\}&platform=\$\{platform\}.* \|\| goto unreachable/);
  // Both ways back to the firmware end with an error status on UEFI, so EDK2 goes on to the disk.
  assert.match(s, /chain .*\niseq \$\{platform\} efi && exit 1 \|\| exit\n:unreachable\n.*\niseq \$\{platform\} efi && exit 1 \|\| exit\n$/);
});
