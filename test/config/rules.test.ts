// [rule], [menu] and [host serial:/uuid:] sections as the loader reads them: what each gives, and
// every refusal naming file, section, key and value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, describeProfile, parseProfile } from '../../src/config/load.ts';

const FILE = '/etc/pxe-pilot/lab.ini';
const parse = (body: string) => parseProfile(`[server]\naddress = 10.0.0.1\n${body}`, FILE, { offline: true });

function problems(body: string): string[] {
  try {
    parse(body);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('expected the profile to be refused');
}

test('a rule reads every condition and setting, in file order, and check-config prints it back', () => {
  const p = parse(`
[rule big]
vendor = Dell*
product = PowerEdge R?50
serial = CN*
cpu_threads = >= 32
memory_gb = >= 128
disk_count = = 2
disk_model = *NVMe*
nic_speed_gbps = >= 25
lldp_switch = leaf-0?
lldp_port = Ethernet1/*
action = install
profile = debian/12
hostname = {{system.product_short}}-{{system.serial}}
install_disk = model:Samsung*
menu = gpu
[rule small]
cpu_threads = < 4
action = local
[menu gpu]
entries = ubuntu-server/*, debian/12
default = local
`);
  assert.deepEqual(
    p.rules.map((r) => r.name),
    ['big', 'small'],
  );
  const big = p.rules[0]!;
  assert.equal(big.file, FILE);
  assert.deepEqual(big.when.cpuThreads, { op: '>=', value: 32 });
  assert.deepEqual(big.when.diskCount, { op: '=', value: 2 });
  assert.equal(big.when.product?.source, 'PowerEdge R?50');
  assert.deepEqual(big.installDisk && big.installDisk.kind, 'model');
  assert.equal(big.hostname, '{{system.product_short}}-{{system.serial}}');
  assert.equal(p.menus.get('gpu')?.default, 'local');
  const printed = describeProfile(p);
  assert.match(printed, /; from \/etc\/pxe-pilot\/lab\.ini\n\[rule big\]\nvendor = Dell\*\nproduct = PowerEdge R\?50/);
  assert.match(printed, /cpu_threads = >= 32/);
  assert.match(printed, /\[menu gpu\]\nentries = ubuntu-server\/\*, debian\/12\ndefault = local/);
  const again = parseProfile(printed.replace(/^# .*$/m, ''), FILE, { offline: true });
  assert.deepEqual(
    again.rules.map((r) => [r.name, r.when.cpuThreads, r.action]),
    p.rules.map((r) => [r.name, r.when.cpuThreads, r.action]),
  );
});

test('wrong rule conditions and settings are refused, each naming file, section, key and value', () => {
  const lines = problems(`
[rule bad]
cpu_threads = sixteen
memory_gb = >= -4
product = 
install_disk = biggest
action = reboot
colour = red
menu = nowhere
[rule empty]
action = local
[rule needs-profile]
vendor = x
action = install
[rule bad-name.x]
vendor = y
`);
  const expect = [
    `${FILE}: [rule bad] cpu_threads = "sixteen": expected a comparison such as >= 16`,
    `${FILE}: [rule bad] memory_gb = ">= -4": expected a comparison`,
    `${FILE}: [rule bad] product = "": expected a pattern such as Dell*`,
    `${FILE}: [rule bad] install_disk = "biggest": expected smallest-ssd, largest, serial:<disk serial> or model:<glob>`,
    `${FILE}: [rule bad] action = "reboot": expected one of install, deploy, local, menu, inspect`,
    `${FILE}: [rule bad] colour = "red": unknown key; [rule …] takes vendor, product`,
    `${FILE}: [rule bad] menu = "nowhere": no [menu nowhere] section`,
    `${FILE}: [rule empty]: a rule needs at least one condition`,
    `${FILE}: [rule needs-profile] profile = "": action = install needs a profile`,
  ];
  for (const e of expect)
    assert.ok(
      lines.some((l) => l.startsWith(e)),
      `expected a problem starting with ${e}\n${lines.join('\n')}`,
    );
});

test('a rule takes a deploy’s net_dns, net_bond, net_vlan and net_mtu, and check-config prints them back', () => {
  const p = parse(`
[rule fabric]
lldp_switch = leaf-0?
action = deploy
profile = debian-cloud/12
net_dns = 10.0.1.1, 10.0.1.2
net_bond = eno1, eno2
net_vlan = 42
net_mtu = 9000
`);
  assert.deepEqual(p.rules[0]!.network, { netDns: '10.0.1.1, 10.0.1.2', netBond: 'eno1, eno2', netVlan: '42', netMtu: '9000' });
  assert.match(
    describeProfile(p),
    /\[rule fabric\]\nlldp_switch = leaf-0\?\naction = deploy\nprofile = debian-cloud\/12\nnet_dns = 10\.0\.1\.1, 10\.0\.1\.2\nnet_bond = eno1, eno2\nnet_vlan = 42\nnet_mtu = 9000\n/,
  );
});

test('a rule refuses one machine’s address (net_address, net_gateway, a MAC in net_bond) and wrong net_* values, naming file, section, key and value', () => {
  const lines = problems(`
[rule addressed]
vendor = acme
net_address = 10.0.1.21/24
[rule routed]
vendor = acme
net_gateway = 10.0.1.1
[rule bonded-by-mac]
vendor = acme
net_bond = 52:54:00:12:34:56, eno2
[rule wrong-vlan]
vendor = acme
net_vlan = 5000
[rule wrong-mtu]
vendor = acme
net_mtu = jumbo
`);
  const expect = [
    `${FILE}: [rule addressed] net_address = "10.0.1.21/24": a [rule] gives every machine it matches the same settings, so each would get this one address: put net_address in the machine's [host <mac>] section or its enrolment (pxe-pilot nodes enrol MAC --net-address …)`,
    `${FILE}: [rule routed] net_gateway = "10.0.1.1": a [rule] gives every machine it matches the same settings`,
    `${FILE}: [rule bonded-by-mac] net_bond = "52:54:00:12:34:56, eno2": 52:54:00:12:34:56 is one machine's NIC: name the bond's NICs as the inventory does`,
    `${FILE}: [rule wrong-vlan] net_vlan = "5000": vlan 5000 is not a VLAN id (1 to 4094)`,
    `${FILE}: [rule wrong-mtu] net_mtu = "jumbo": expected a whole number`,
  ];
  for (const e of expect)
    assert.ok(
      lines.some((l) => l.startsWith(e)),
      `expected a problem starting with ${e}\n${lines.join('\n')}`,
    );
  assert.ok(!lines.some((l) => /unknown key/.test(l)), `net_address and net_gateway get their own refusal, not "unknown key":\n${lines.join('\n')}`);
});

test('install_disk in a [host <mac>]: the choices a rule takes, and a wrong one named', () => {
  const p = parse(`
[host 52:54:00:12:34:56]
action = deploy
profile = debian-cloud/12
install_disk = serial:S3Z9NX0N123456
[host 52:54:00:12:34:57]
install_disk = model:*NVMe*
`);
  assert.deepEqual(p.hosts.get('52:54:00:12:34:56')?.installDisk, { kind: 'serial', serial: 'S3Z9NX0N123456' });
  assert.equal(p.hosts.get('52:54:00:12:34:57')?.installDisk?.kind, 'model');
  assert.match(describeProfile(p), /\[host 52:54:00:12:34:56\]\n(.*\n)*install_disk = serial:S3Z9NX0N123456\n/);
  const lines = problems(`
[host 52:54:00:12:34:56]
install_disk = biggest
`);
  assert.ok(
    lines.some((l) =>
      l.startsWith(`${FILE}: [host 52:54:00:12:34:56] install_disk = "biggest": expected smallest-ssd, largest, serial:<disk serial> or model:<glob>`),
    ),
    lines.join('\n'),
  );
});

test('[host serial:X] takes a deploy’s keys (install_disk, net_*): the serial is known once the agent has reported; a wrong one is refused, named', () => {
  const p = parse(`
[host serial:RR-0042]
action = deploy
profile = debian-cloud/12
install_disk = largest
net_bond = eno1, eno2
net_vlan = 42
net_address = 10.0.1.21/24
`);
  const bySerial = p.identityHosts.get('serial:rr-0042');
  assert.deepEqual(bySerial?.installDisk, { kind: 'largest' });
  assert.equal(bySerial?.netVlan, '42');
  assert.equal(bySerial?.netAddress, '10.0.1.21/24');
  assert.equal(bySerial?.netBond, 'eno1, eno2');
  const lines = problems(`
[host serial:RR-0043]
action = local
net_vlan = 5000
[host uuid:78563412BC9AF0DE1122334455667788]
action = local
install_disk = biggest
`);
  assert.ok(
    lines.some((l) => l.startsWith(`${FILE}: [host serial:RR-0043] net_vlan = "5000":`)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => l.includes('install_disk = "biggest"')),
    lines.join('\n'),
  );
});

test('[host serial:X] and [host uuid:U] select what boots; DHCP-time and power keys in them are refused, named', () => {
  const p = parse(`
[host serial:RR-0042]
action = install
profile = debian/12
inspect_first = true
x_rack = r7
[host uuid:78563412BC9AF0DE1122334455667788]
action = local
`);
  const bySerial = p.identityHosts.get('serial:rr-0042');
  assert.equal(bySerial?.action, 'install');
  assert.equal(bySerial?.inspectFirst, true);
  assert.equal(p.identityHosts.get('uuid:78563412-bc9a-f0de-1122-334455667788')?.section, 'host uuid:78563412-bc9a-f0de-1122-334455667788');
  assert.equal(p.hosts.size, 0, 'not a [host <mac>]');

  const lines = problems(`
[host serial:AB-1]
ip = 10.0.0.7
loader = grub
action = local
[host uuid:not-a-uuid]
action = local
[host uuid:ffffffff-ffff-ffff-ffff-ffffffffffff]
action = local
[host serial:Default string]
action = local
`);
  assert.ok(
    lines.some((l) => l.startsWith(`${FILE}: [host serial:AB-1] ip, loader = "10.0.0.7, grub": DHCP-time and power keys stay keyed by MAC`)),
    lines.join('\n'),
  );
  assert.ok(lines.some((l) => l.includes('[host uuid:not-a-uuid]: "not-a-uuid" is not a UUID')));
  assert.ok(lines.some((l) => l.includes('ffffffff-ffff-ffff-ffff-ffffffffffff is a placeholder UUID many boards report: it would select nothing')));
  assert.ok(lines.some((l) => l.includes('"Default string" is a placeholder serial many boards report')));
});

test('[boot] unknown = inspect, after_inspect, and action = inspect in a [host]', () => {
  const p = parse('[boot]\nunknown = inspect\nafter_inspect = wait\n[host 52:54:00:00:00:01]\naction = inspect\n');
  assert.equal(p.boot.unknown, 'inspect');
  assert.equal(p.boot.afterInspect, 'wait');
  assert.equal(p.hosts.get('52:54:00:00:00:01')?.action, 'inspect');
  assert.match(problems('[boot]\nafter_inspect = sleep\n')[0]!, /\[boot\] after_inspect = "sleep": expected one of poweroff, local, wait/);
  assert.match(problems('[menu m]\nentries =\n')[0]!, /\[menu m\] entries = "": a menu needs entries/);
});
