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
