// Where a profile is written: the main file, its drop-ins ([server] include) and the command
// line's --set overrides, each problem naming the file or the flag that wrote it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, formatProblem, parseProfile, type InterfaceAddress } from '../../src/config/load.ts';
import { matchesFileName } from '../../src/config/file-pattern.ts';
import { OVERRIDE_FORM, parseOverride } from '../../src/config/sources.ts';

const ifaces: InterfaceAddress[] = [{ name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false }];
const opts = { interfaces: ifaces, interfaceExists: (n: string) => n === 'eth0' };
const dir = mkdtempSync(join(tmpdir(), 'pxp-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
/** A fresh folder with the main profile and its drop-ins, by relative path. */
function profileFolder(main: string, files: Record<string, string> = {}): string {
  const folder = join(dir, `p${++counter}`);
  mkdirSync(folder);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(folder, name, '..'), { recursive: true });
    writeFileSync(join(folder, name), text);
  }
  writeFileSync(join(folder, 'pxe-pilot.ini'), main);
  return join(folder, 'pxe-pilot.ini');
}

function load(file: string, overrides: string[] = []) {
  return parseProfile(readFileSync(file, 'utf8'), file, { ...opts, overrides });
}

function messages(file: string, overrides: string[] = []): string[] {
  try {
    load(file, overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(formatProblem);
  }
  return [];
}

test('--set overrides a key of the file, validated as the file is, and the error names the flag', () => {
  const file = profileFolder('[http]\nport = 8080\n');
  assert.equal(load(file).http.port, 8080);
  assert.equal(load(file, ['http.port=8081']).http.port, 8081);
  assert.equal(load(file, ['http.port=8081', 'http.port=8082']).http.port, 8082, 'the last one given wins');
  assert.equal(load(file, ['dhcp.dns=10.0.0.1, 10.0.0.2']).dhcp.dns.join(' '), '10.0.0.1 10.0.0.2');
  assert.deepEqual(messages(file, ['http.port=abc']), ['--set http.port=abc: expected a whole number from 0 to 65535']);
  assert.deepEqual(messages(file, ['htp.port=1']).length, 1);
  assert.match(messages(file, ['htp.port=1'])[0]!, /^--set htp\.port=1: unknown section; known sections: \[server\]/);
  assert.match(messages(file, ['http.prot=1'])[0]!, /^--set http\.prot=1: unknown key; \[http\] takes port, bind/);
  assert.deepEqual(messages(file, ['http.port']), [`--set http.port: ${OVERRIDE_FORM}`]);
  // A check across keys names the flag of the key it is about.
  assert.deepEqual(messages(file, ['https.port=8080']), ['--set https.port=8080: the same port as [http] port; pick another (443 is the usual)']);
  // What the file says wrong is still the file's.
  const bad = profileFolder('[http]\nport = 99999\n');
  assert.deepEqual(messages(bad), [`${bad}: [http] port = "99999": expected a whole number from 0 to 65535`]);
  assert.deepEqual(messages(bad, ['http.port=81']), [], 'an override replaces the wrong value');
});

test('--set on a host section: the MAC in any spelling, a new host, a bad MAC named by its flag', () => {
  const file = profileFolder('[host 52-54-00-12-34-56]\naction = local\n');
  const p = load(file, ['host 52:54:00:12:34:56.action=menu', 'host 52:54:00:00:00:02.hostname=pve2']);
  assert.equal(p.hosts.get('52:54:00:12:34:56')?.action, 'menu', 'the existing section, however its MAC is written');
  assert.equal(p.hosts.size, 2);
  assert.equal(p.hosts.get('52:54:00:00:00:02')?.hostname, 'pve2');
  assert.deepEqual(messages(file, ['host 52:54:00:12:34:zz.action=local']), [
    '--set host 52:54:00:12:34:zz.action=local: "52:54:00:12:34:zz" is not a MAC address',
  ]);
  assert.deepEqual(messages(file, ['host 52:54:00:12:34:56.action=reboot']), [
    '--set host 52:54:00:12:34:56.action=reboot: expected one of install, deploy, local, menu, inspect, wipe',
  ]);
});

test('override texts: section, key and value split where documented (property)', () => {
  const name = fc.stringMatching(/^[a-z][a-z_]{0,12}$/);
  const section = fc.oneof(name, fc.constantFrom('host 52:54:00:12:34:56', 'scope lab-a', 'rule dell r640'));
  const value = fc.string({ maxLength: 40 }).map((v) => v.trim());
  fc.assert(
    fc.property(section, name, value, (s, k, v) => {
      const parsed = parseOverride(`${s}.${k}=${v}`);
      assert.ok(!('problem' in parsed));
      assert.deepEqual([parsed.section, parsed.key, parsed.value], [s, k, v]);
    }),
  );
  // Without a dot or an = it is refused, never guessed.
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => {
      const parsed = parseOverride(text);
      if (!text.includes('=') || !text.slice(0, text.indexOf('=')).includes('.')) assert.ok('problem' in parsed);
    }),
  );
});

test('drop-ins: [host] and [scope] sections from conf.d join the profile in name order; problems name the drop-in', () => {
  const main =
    '[server]\naddress = 10.0.0.1\ninterface = eth0\ninclude = conf.d/*.ini, more/extra.ini\n[dhcp]\nmode = server\nrange_start = 10.0.0.100\nrange_end = 10.0.0.200\nnetmask = 255.255.255.0\n[host 52:54:00:00:00:01]\naction = local\n';
  const file = profileFolder(main, {
    'conf.d/20-rack2.ini': '[host 52:54:00:00:00:03]\nhostname = b\n[scope rack2]\nsubnet = 10.2.0.0/24\nrange_start = 10.2.0.10\nrange_end = 10.2.0.20\n',
    'conf.d/10-rack1.ini': '[host 52:54:00:00:00:02]\nhostname = a\n',
    'conf.d/notes.txt': '[dhcp]\nmode = off\n',
    'conf.d/.#10-rack1.ini': '[dhcp]\nmode = off\n',
    'more/extra.ini': '[host 52:54:00:00:00:04]\naction = menu\n',
  });
  const p = load(file);
  assert.deepEqual(
    [...p.hosts.keys()],
    ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03', '52:54:00:00:00:04'],
    'main file first, then by file name',
  );
  assert.equal(p.hosts.get('52:54:00:00:00:02')?.hostname, 'a');
  assert.equal(p.scopes.get('rack2')?.rangeStart, '10.2.0.10');
  // --set reaches a host written in a drop-in.
  assert.equal(load(file, ['host 52:54:00:00:00:02.hostname=c']).hosts.get('52:54:00:00:00:02')?.hostname, 'c');

  const broken = profileFolder(main, { 'conf.d/30-bad.ini': '[host 52:54:00:00:00:09]\nip = 10.9.0.1\naction = reboot\n', 'more/extra.ini': '' });
  const dropIn = join(broken, '..', 'conf.d/30-bad.ini');
  assert.deepEqual(
    messages(broken).sort(),
    [
      `${dropIn}: [host 52:54:00:00:00:09] action = "reboot": expected one of install, deploy, local, menu, inspect, wipe`,
      `${dropIn}: [host 52:54:00:00:00:09] ip = "10.9.0.1": outside the subnet served: 10.0.0.0/24`,
    ].sort(),
  );
});

test('drop-ins: [rule] and [image] sections join after the main file; an image problem names its drop-in', () => {
  const main = '[server]\naddress = 10.0.0.1\ninclude = conf.d/*.ini\n[rule first]\nvendor = Dell*\naction = local\n';
  const file = profileFolder(main, {
    'conf.d/10-gpu.ini':
      '[rule gpu]\nproduct = *GPU*\naction = inspect\n[image ubuntu/24.04-remote]\nkernel = http://images.lab.example/noble/vmlinuz\ninitrd = http://images.lab.example/noble/initrd\ninitrd = http://images.lab.example/noble/extra.img\ncmdline = ip=dhcp\n',
  });
  const p = load(file);
  assert.deepEqual(
    p.rules.map((r) => r.name),
    ['first', 'gpu'],
    'the main file first, then the drop-in',
  );
  const image = p.images.get('ubuntu/24.04-remote');
  assert.ok(image, `the drop-in's image joins (images: ${[...p.images.keys()].join(', ')})`);
  assert.deepEqual(
    image.initrds.map((f) => f.url),
    ['http://images.lab.example/noble/initrd', 'http://images.lab.example/noble/extra.img'],
  );

  const broken = profileFolder(main, {
    'conf.d/20-bad.ini': '[image debian/13-remote]\nkernel = http://h/vmlinuz\ninitrd = http://h/initrd\ncmdline = host=${hostnmae}\n',
  });
  const dropIn = join(broken, '..', 'conf.d/20-bad.ini');
  const said = messages(broken);
  assert.ok(
    said.some((m) => m.startsWith(`${dropIn}: [image debian/13-remote]`) && m.includes('hostnmae')),
    said.join('\n'),
  );
});

test('drop-ins: any other section is refused, naming file and section', () => {
  const file = profileFolder('[server]\ninclude = conf.d/*.ini\n', {
    'conf.d/a.ini': '[dhcp]\nmode = proxy\n[http]\nport = 1\n[hosts 52:54:00:00:00:01]\naction = local\n',
  });
  const dropIn = join(file, '..', 'conf.d/a.ini');
  const kinds = '[host …], [rule …], [image …], [scope …]';
  assert.deepEqual(messages(file), [
    `${dropIn}: [dhcp]: a drop-in holds ${kinds} sections only; [dhcp] belongs in ${file}`,
    `${dropIn}: [http]: a drop-in holds ${kinds} sections only; [http] belongs in ${file}`,
    `${dropIn}: [hosts 52:54:00:00:00:01]: a drop-in holds ${kinds} sections only; [hosts 52:54:00:00:00:01] belongs in ${file}`,
  ]);
});

test('drop-ins: a section written twice, in the main file and a drop-in or in two drop-ins, names both files', () => {
  const file = profileFolder('[server]\ninclude = conf.d/*.ini\n[host 52:54:00:00:00:01]\naction = local\n', {
    'conf.d/a.ini': '[host 52-54-00-00-00-01]\naction = menu\n[scope lab]\nsubnet = 10.2.0.0/24\nrange_start = 10.2.0.10\nrange_end = 10.2.0.20\n',
    'conf.d/b.ini': '[scope lab]\nsubnet = 10.3.0.0/24\n',
  });
  const [a, b] = ['a', 'b'].map((n) => join(file, '..', `conf.d/${n}.ini`));
  assert.deepEqual(messages(file), [
    `${a}: [host 52-54-00-00-00-01]: also written in ${file} (as [host 52:54:00:00:00:01]): write each section in one file`,
    `${b}: [scope lab]: also written in ${a} (as [scope lab]): write each section in one file`,
  ]);
});

test('drop-ins: a missing folder, a wildcard folder and a missing named file are problems; an empty folder is not', () => {
  const empty = profileFolder('[server]\ninclude = conf.d/*.ini\n', { 'conf.d/README': 'nothing here\n' });
  assert.equal(load(empty).hosts.size, 0);
  const file = profileFolder('[server]\ninclude = nope.d/*.ini, */x.ini, one.ini\n');
  const folder = join(file, '..');
  assert.deepEqual(messages(file), [
    `${file}: [server] include = "nope.d/*.ini": cannot list the folder ${join(folder, 'nope.d')}: ENOENT`,
    `${file}: [server] include = "*/x.ini": wildcards go in the file name only, such as conf.d/*.ini`,
    `${file}: [server] include = "one.ini": no such file ${join(folder, 'one.ini')}`,
  ]);
  // --set can name the drop-ins too, and its problems name the flag.
  assert.deepEqual(messages(empty, ['server.include=other.d/*.ini']), [
    `--set server.include=other.d/*.ini: cannot list the folder ${join(empty, '..', 'other.d')}: ENOENT`,
  ]);
});

test('file-name patterns: * ? and [set] as in the shell, other characters literal, hidden files left out (property)', () => {
  const safe = fc.stringMatching(/^[A-Za-z0-9_.+()$^{}|\\-]{1,20}$/);
  fc.assert(
    fc.property(safe, safe, (name, other) => {
      assert.equal(matchesFileName(name, name), true, 'a name without wildcards matches itself');
      if (other !== name) assert.equal(matchesFileName(name, other), false);
      assert.equal(matchesFileName('*.ini', `${name}.ini`), !name.startsWith('.'));
      assert.equal(matchesFileName('*.ini', `${name}.ini.bak`), false);
    }),
  );
  assert.equal(matchesFileName('?0-*.ini', '10-rack.ini'), true);
  assert.equal(matchesFileName('[0-9]*.ini', 'a.ini'), false);
  assert.equal(matchesFileName('[!0-9]*.ini', 'a.ini'), true);
  assert.equal(matchesFileName('.*.ini', '.hidden.ini'), true);
});
