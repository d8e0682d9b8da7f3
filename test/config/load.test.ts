import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, describeProfile, parseProfile, profileWarnings, type InterfaceAddress } from '../../src/config/load.ts';

const ifaces: InterfaceAddress[] = [
  { name: 'lo', address: '127.0.0.1', netmask: '255.0.0.0', internal: true },
  { name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false },
  { name: 'br-boot', address: '10.20.0.1', netmask: '255.255.255.0', internal: false },
];
const opts = { interfaces: ifaces, interfaceExists: (n: string) => ifaces.some((i) => i.name === n) };
const FILE = '/etc/pxe-pilot/test.ini';

function problems(text: string): string[] {
  try {
    parseProfile(text, FILE, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.section}|${p.key}|${p.value}|${p.message}`);
  }
  return [];
}

test('the shipped profile is valid, serves HTTP and TFTP and no DHCP', () => {
  const p = parseProfile(readFileSync('etc/pxe-pilot.ini', 'utf8'), 'etc/pxe-pilot.ini', opts);
  assert.equal(p.dhcp.mode, 'off');
  assert.equal(p.tftp.enabled, true);
  assert.equal(p.http.port, 80);
  assert.equal(p.tftp.root, '/usr/lib/ipxe');
  assert.equal(p.server.address, '192.0.2.10', 'empty address takes the first non-loopback IPv4');
  assert.equal(p.server.addressSource, 'interface');
});

test('address comes from the named interface', () => {
  const p = parseProfile('[server]\ninterface = br-boot\n', FILE, opts);
  assert.equal(p.server.address, '10.20.0.1');
});

test('each problem names file, section, key and value, and all are reported at once', () => {
  let err: unknown;
  try {
    parseProfile('[server]\naddress = 10.0.0.300\nlog_level = loud\n[tftp]\nenabeld = true\n[nonsense]\nx = 1\n', FILE, opts);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const text = err.message;
  assert.match(text, /\/etc\/pxe-pilot\/test\.ini: \[server\] address = "10\.0\.0\.300": expected an IPv4 address/);
  assert.match(text, /\[server\] log_level = "loud": expected one of trace, debug/);
  assert.match(text, /\[tftp\] enabeld = "true": unknown key/);
  assert.match(text, /\[nonsense\]: unknown section/);
  assert.equal(err.problems.length, 4);
});

test('booleans are strict: enabled = 0 turns TFTP off, enabled = maybe is an error', () => {
  assert.equal(parseProfile('[tftp]\nenabled = 0\n', FILE, opts).tftp.enabled, false);
  assert.equal(parseProfile('[tftp]\nenabled = false\n', FILE, opts).tftp.enabled, false);
  assert.deepEqual(
    problems('[tftp]\nenabled = maybe\n').map((s) => s.split('|').slice(0, 3).join('|')),
    ['tftp|enabled|maybe'],
  );
});

test('server mode needs a range inside the subnet, a netmask and an interface', () => {
  assert.deepEqual(
    problems('[dhcp]\nmode = server\n').map((s) => s.split('|').slice(0, 2).join('|')),
    ['server|interface', 'dhcp|range_start', 'dhcp|range_end', 'dhcp|netmask'],
  );
  const out = problems('[server]\ninterface = br-boot\n[dhcp]\nmode = server\nrange_start = 10.20.1.10\nrange_end = 10.20.0.5\nnetmask = 255.255.255.0\n');
  assert.ok(
    out.some((s) => s.startsWith('dhcp|range_start|10.20.1.10|outside the subnet')),
    out.join('\n'),
  );
  assert.ok(
    out.some((s) => s.startsWith('dhcp|range_end|10.20.0.5|comes before')),
    out.join('\n'),
  );
  const ok = parseProfile(
    '[server]\ninterface = br-boot\n[dhcp]\nmode = server\nrange_start = 10.20.0.100\nrange_end = 10.20.0.200\nnetmask = 255.255.255.0\ndns = 10.20.0.1, 10.20.0.2\n',
    FILE,
    opts,
  );
  assert.deepEqual(ok.dhcp.dns, ['10.20.0.1', '10.20.0.2']);
});

test('proxy mode without an interface lists the candidates', () => {
  const out = problems('[dhcp]\nmode = proxy\n');
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^server\|interface\|\|.*candidates: eth0 \(192\.0\.2\.10\), br-boot \(10\.20\.0\.1\)/);
});

test('an interface that does not exist is an error', () => {
  assert.match(problems('[server]\ninterface = eth9\n')[0]!, /^server\|interface\|eth9\|no such network interface/);
});

test('host sections: MAC forms, bad MACs, dotted MACs, duplicate MACs, unknown keys, x_ variables', () => {
  const p = parseProfile('[host 52-54-00-AB-CD-EF]\nhostname = pve1\naction = install\nprofile = proxmox-ve/9.1-1\nx_disk = /dev/sda\n', FILE, opts);
  const h = p.hosts.get('52:54:00:ab:cd:ef');
  assert.ok(h);
  assert.equal(h.action, 'install');
  assert.equal(h.vars.x_disk, '/dev/sda');
  assert.match(problems('[host 52:54:00:zz:cd:ef]\nhostname = x\n')[0]!, /^host 52:54:00:zz:cd:ef\|\|\|"52:54:00:zz:cd:ef" is not a MAC address/);
  assert.match(problems('[host 5254.00ab.cdef]\nhostname = x\n')[0]!, /colons or hyphens/);
  assert.match(problems('[host 52:54:00:ab:cd:ef]\nhostnmae = x\n')[0]!, /^host 52:54:00:ab:cd:ef\|hostnmae\|x\|unknown key/);
  assert.match(problems('[host 52:54:00:ab:cd:ef]\naction = install\n')[0]!, /action = install needs a profile/);
  assert.match(problems('[host 52:54:00:ab:cd:ef]\nprofile = ../../etc\n')[0]!, /expected <product>\/<version>/);
  assert.match(problems('[host 52:54:00:ab:cd:ef]\nhostname = a\n[host 52-54-00-ab-cd-ef]\nhostname = b\n')[0]!, /a second section/);
});

test('boot file names cannot leave the TFTP root', () => {
  assert.match(problems('[boot]\nbios = ../../etc/shadow\n')[0]!, /^boot\|bios\|..\/..\/etc\/shadow\|/);
  assert.match(problems('[boot]\nuefi_x64 = /etc/shadow\n')[0]!, /^boot\|uefi_x64/);
});

test('a boot file missing from the TFTP root, or linking outside it (Debian ipxe.efi), is a startup warning', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-warn-'));
  try {
    mkdirSync(join(dir, 'root'));
    writeFileSync(join(dir, 'elsewhere.efi'), 'x');
    writeFileSync(join(dir, 'root', 'snponly.efi'), 'x');
    symlinkSync(join(dir, 'elsewhere.efi'), join(dir, 'root', 'ipxe.efi'));
    const warningsFor = (boot: string) =>
      profileWarnings(parseProfile(`[tftp]\nroot = ${join(dir, 'root')}\n[boot]\n${boot}\n`, FILE, opts)).filter((w) => w.startsWith('[boot]'));
    assert.deepEqual(warningsFor('uefi_x64 = snponly.efi\nbios = snponly.efi'), []);
    const [linked] = warningsFor('uefi_x64 = ipxe.efi\nbios = snponly.efi');
    assert.match(linked!, /^\[boot\] uefi_x64 = ipxe\.efi: .*ipxe\.efi is a link to .*elsewhere\.efi, outside \[tftp\] root.*use snponly\.efi/);
    const [missing] = warningsFor('bios = undionly.kpxe\nuefi_x64 = snponly.efi');
    assert.match(missing!, /^\[boot\] bios = undionly\.kpxe: not found in \[tftp\] root/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('answers allow takes CIDR blocks; admin_token must not be trivially short', () => {
  assert.deepEqual(parseProfile('[answers]\nallow = 10.0.0.0/24, 192.0.2.7/32\n', FILE, opts).answers.allow, ['10.0.0.0/24', '192.0.2.7/32']);
  assert.match(problems('[answers]\nallow = 10.0.0.0/33\n')[0]!, /^answers\|allow\|10.0.0.0\/33\|expected a CIDR/);
  assert.match(problems('[http]\nadmin_token = abc\n')[0]!, /too short/);
});

test('check-config output shows the effective profile and hides secrets', () => {
  const p = parseProfile('[http]\nadmin_token = 0123456789abcdef0123\n[answers]\ntoken = s3cret-s3cret\n', FILE, opts);
  const text = describeProfile(p);
  assert.match(text, /address = 192\.0\.2\.10 {3}; from the interface/);
  assert.doesNotMatch(text, /0123456789abcdef0123|s3cret/);
  assert.match(text, /admin_token = \(set\)/);
});

test('property: any text either parses to a profile or fails with ConfigError, never anything else', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => {
      try {
        parseProfile(text, FILE, opts);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `unexpected ${String(err)}`);
      }
    }),
    { numRuns: 300 },
  );
  const sections = fc.constantFrom('[server]', '[http]', '[tftp]', '[dhcp]', '[boot]', '[host 52:54:00:00:00:01]', '[bogus]');
  const keys = fc.constantFrom('address', 'port', 'mode', 'enabled', 'range_start', 'bios', 'action', 'profile', 'x_y', 'nope');
  const line = fc.oneof(
    sections,
    fc.tuple(keys, fc.string({ maxLength: 20 })).map(([k, v]) => `${k} = ${v}`),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
      try {
        parseProfile(lines.join('\n'), FILE, opts);
      } catch (err) {
        assert.ok(err instanceof ConfigError, `unexpected ${String(err)}`);
        for (const p of err.problems) assert.ok(p.message.length > 0 && p.file === FILE);
      }
    }),
    { numRuns: 300 },
  );
});
