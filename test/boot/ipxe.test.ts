import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { renderInstallScript, renderMenu, renderBootstrapScript } from '../../src/boot/ipxe.ts';
import { parseIpxeScript, scriptOutcome } from '../../src/probe/ipxe-script.ts';
import { compareVersionsDesc, type DiskImage, type InstallImage } from '../../src/boot/catalogue.ts';

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
function disk(profile: string, sizeBytes = 2 * 1024 ** 3): DiskImage {
  return { profile, path: `${profile}/disk.raw.zst`, compression: 'zstd', sha256: 'a'.repeat(64), compressedBytes: 1000, sizeBytes, integrity: 'verified' };
}
const vars = { mac: '52:54:00:12:34:56', ip: '10.0.0.50', hostname: 'pve1', server: 'http://10.0.0.1:8080', answerUrl: 'http://10.0.0.1:8080/answer' };

/** Every `goto X` / `--default X` / `|| goto X` names a label that exists; each menu's default is one of its own items. */
function assertTargetsExist(script: string): void {
  const labels = new Set([...script.matchAll(/^:(\S+)$/gm)].map((m) => m[1]));
  const items = new Set([...script.matchAll(/^item (?!--gap)(\S+)/gm)].map((m) => m[1]));
  for (const m of script.matchAll(/goto (\S+)/g)) if (m[1] !== '${target}') assert.ok(labels.has(m[1]), `goto ${m[1]} has no label`);
  for (const item of items) assert.ok(labels.has(item), `item ${item} has no label`);
  for (const menu of script.split(/^(?=menu )/m).slice(1)) {
    const own = new Set([...menu.matchAll(/^item (?!--gap)(\S+)/gm)].map((m) => m[1]));
    const def = /^choose --default (\S+)/m.exec(menu);
    assert.ok(def, `a menu without a default: ${menu.split('\n')[0]}`);
    assert.ok(own.has(def[1]), `default ${def[1]} is not an item of ${menu.split('\n')[0]}`);
  }
}

/** The label a menu's timeout takes, for each menu of the script. */
function defaultsOf(script: string): string[] {
  return [...script.matchAll(/^choose --default (\S+)/gm)].map((m) => m[1]!);
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

test('disk images are their own group, "Deploy <product> <version> (<size>)", apart from the Install items', () => {
  const s = renderMenu(
    [image('debian', '13')],
    { mac: '52:54:00:12:34:56', httpBase: 'http://10.0.0.1:8080', defaultItem: 'debian/13', timeoutSeconds: 10, reason: 'r' },
    [disk('debian-cloud/12'), disk('debian-cloud/13', 3 * 1024 ** 3 + 512 * 1024 ** 2)],
  );
  const main = s.slice(0, s.indexOf('goto ${target}'));
  const entries = [...main.matchAll(/^item (?:--gap -- )?(.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(entries, [
    'Debian',
    'image0 Install Debian 13',
    'Deploy a disk image (erases the disk)',
    'disk0 Deploy debian-cloud 13 (3.5 GiB)',
    'disk1 Deploy debian-cloud 12 (2.0 GiB)',
    'Other',
    'local Boot from local disk',
    'shell iPXE shell',
  ]);
  assertTargetsExist(s);
});

test('choosing a disk image asks first, and its timeout or Esc goes back to the menu, never to the deploy', () => {
  const s = renderMenu([], { mac: '52:54:00:12:34:56', httpBase: 'http://10.0.0.1:8080', defaultItem: 'local', timeoutSeconds: 10, reason: 'r' }, [
    disk('debian-cloud/12'),
  ]);
  const question = s.slice(s.indexOf(':disk0\n'), s.indexOf(':deploy0\n'));
  assert.equal(
    question,
    [
      ':disk0',
      'menu This erases the disk of 52:54:00:12:34:56: deploy debian-cloud/12?',
      'item top No, back to the menu',
      'item deploy0 Yes, erase the disk and deploy debian-cloud/12 (2.0 GiB)',
      'choose --default top --timeout 30000 target || goto top',
      'goto ${target}',
      '',
    ].join('\n'),
  );
  // Back to the menu is back to its top: the main menu is drawn again, with its own default.
  assert.match(s, /^:top\nmenu pxe-pilot: 52:54:00:12:34:56$/m);
  assert.match(
    s,
    /^:deploy0\nchain --autofree http:\/\/10\.0\.0\.1:8080\/install\?mac=52-54-00-12-34-56&profile=debian-cloud%2F12&erase=yes&arch=\$\{buildarch\} \|\| goto local$/m,
  );
  assert.deepEqual(defaultsOf(s), ['local', 'top']);
  // A menu without a timeout (0) asks without one too; a longer one is kept.
  const never = renderMenu([], { mac: 'm', httpBase: 'h', defaultItem: 'local', timeoutSeconds: 0, reason: 'r' }, [disk('c/1')]);
  assert.match(never, /^choose --default top --timeout 0 target/m);
  const long = renderMenu([], { mac: 'm', httpBase: 'h', defaultItem: 'local', timeoutSeconds: 90, reason: 'r' }, [disk('c/1')]);
  assert.match(long, /^choose --default top --timeout 90000 target/m);
  assertTargetsExist(s);
});

test('a menu default naming a disk image is local disk, and the script says why', () => {
  const s = renderMenu([image('debian', '13')], { mac: 'm', httpBase: 'h', defaultItem: 'debian-cloud/12', timeoutSeconds: 5, reason: 'r' }, [
    disk('debian-cloud/12'),
  ]);
  assert.deepEqual(defaultsOf(s), ['local', 'top']);
  assert.match(s, /^# the default debian-cloud\/12 is a disk image: a timeout never deploys, so it is local disk$/m);
});

test('an unattended machine, at the menu or left in the erase question, ends at local disk (the probe follows each timeout)', () => {
  const s = renderMenu([], { mac: 'm', httpBase: 'http://h', defaultItem: 'c/1', timeoutSeconds: 5, reason: 'r' }, [disk('c/1')]);
  const parsed = parseIpxeScript(s);
  assert.ok(parsed.ok);
  assert.deepEqual(scriptOutcome(parsed.commands), { kind: 'exit', said: ['pxe-pilot: booting from local disk'] });
  // Left in the question (the person chose the image, then walked away): its timeout takes `top`, the
  // menu drawn again, whose own timeout is the local disk just followed.
  const question = parsed.commands.findIndex((c) => c.name === ':' && c.args[0] === 'disk0');
  const asked = parsed.commands.slice(question).find((c) => c.name === 'choose')!;
  assert.equal(asked.options.default, 'top');
  assert.deepEqual(
    parsed.commands.slice(0, 2).map((c) => [c.name, c.args[0]]),
    [
      [':', 'top'],
      ['menu', 'pxe-pilot:'],
    ],
  );
  // Answering yes is what chains to the deploy.
  const yes = parsed.commands.findIndex((c) => c.name === ':' && c.args[0] === 'deploy0');
  const chained = scriptOutcome(parsed.commands.slice(yes));
  assert.equal(chained.kind, 'chain');
  assert.match(chained.kind === 'chain' ? chained.url : '', /\/install\?mac=m&profile=c%2F1&erase=yes&arch=\$\{buildarch\}$/);
});

test('property: with disk images, every target exists and no menu times out to a deploy', () => {
  const name = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,10}$/);
  const pairs = fc.uniqueArray(fc.tuple(name, name), { maxLength: 8, selector: ([p, v]) => `${p}/${v}` });
  fc.assert(
    fc.property(pairs, pairs, fc.nat({ max: 600 }), (installers, disks, timeout) => {
      const taken = new Set(installers.map(([p, v]) => `${p}/${v}`));
      const deployable = disks.filter(([p, v]) => !taken.has(`${p}/${v}`)).map(([p, v]) => disk(`${p}/${v}`, (v.length + 1) * 1024 ** 2));
      const def = deployable[0]?.profile ?? 'local';
      const s = renderMenu(
        installers.map(([p, v]) => image(p, v)),
        { mac: 'm', httpBase: 'h', defaultItem: def, timeoutSeconds: timeout, reason: 'r' },
        deployable,
      );
      assertTargetsExist(s);
      for (const label of defaultsOf(s)) assert.doesNotMatch(label, /^(disk|deploy)\d+$/, 'a timeout reaches a deploy');
      assert.equal([...s.matchAll(/&erase=yes/g)].length, deployable.length);
    }),
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
