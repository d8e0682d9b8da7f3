// Where a machine's settings come from: [host <mac>] > [host serial/uuid] > enrolment > the first
// matching [rule], each with its reason; placeholders and shared identities select nothing; the
// install disk and the hostname template come from the inventory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { swapUuidFields } from '../../src/agent/identity.ts';
import type { NodeRecord } from '../../src/boot/ports.ts';
import { chooseInstallDisk } from '../../src/boot/rules.ts';
import { censusOf, isDiscovered, nodeIdentity, settingsFor, type SettingsNode } from '../../src/boot/settings.ts';
import { fillHostname } from '../../src/boot/inventory-values.ts';
import { parseInstallDisk } from '../../src/config/rules.ts';
import { parseProfile } from '../../src/config/load.ts';
import type { Inventory } from '../../src/agent/inventory.ts';
import { testDisk, testInventory, testNic } from '../helpers/inventory.ts';

const MAC = '52:54:00:5e:00:01';
const OTHER = '52:54:00:5e:00:02';
// Its byte order shows the difference: option 97 and iPXE's ${uuid} carry 78563412-bc9a-f0de-….
const UUID = '12345678-9abc-def0-1122-334455667788';

function profileOf(body: string) {
  return parseProfile(`[server]\naddress = 10.0.0.1\n${body}`, '/etc/pxe-pilot/lab.ini', { offline: true });
}

function node(fields: Partial<NodeRecord> = {}): SettingsNode {
  return {
    mac: MAC,
    state: 'seen',
    profile: null,
    localBoot: null,
    armedAt: null,
    armedBy: null,
    consumedAt: null,
    installedAt: null,
    serial: null,
    uuid: null,
    ...fields,
  };
}

function inspected(inventory: Inventory = testInventory(), fields: Partial<NodeRecord> = {}): SettingsNode {
  return node({ inventory: { document: inventory, reportedAt: Date.parse('2026-12-07T05:00:00Z'), session: 's1' }, ...fields });
}

const RULES = `
[rule tiny]
cpu_threads = < 4
action = local
[rule big-memory]
memory_gb = >= 64
action = menu
[rule roadrunner]
vendor = acme
product = Roadrunner-*
disk_count = >= 2
action = install
profile = debian/12
hostname = {{system.product_short}}-{{system.serial}}
install_disk = smallest-ssd
`;

test('the first matching rule gives the settings, and says why each earlier rule did not match', () => {
  const settings = settingsFor(MAC, inspected(), profileOf(RULES));
  assert.equal(settings.source, 'rule');
  assert.equal(settings.rule, 'roadrunner');
  assert.equal(settings.action, 'install');
  assert.equal(settings.profile, 'debian/12');
  assert.equal(settings.hostname, 'roadrunner-9-rr-0042', 'the hostname template filled from the inventory, made a host name');
  assert.match(settings.reason, /\[rule roadrunner\] matches: vendor "Acme" matches acme, product "Roadrunner-9" matches Roadrunner-\*, disk_count 2 >= 2/);
  assert.deepEqual(settings.passedOver, ['[rule tiny]: cpu_threads 16 is not < 4', '[rule big-memory]: memory_gb 15.7 is not >= 64']);
});

test('rules match on the inventory only: a machine never inspected matches none, and is told why', () => {
  const settings = settingsFor(MAC, node(), profileOf(RULES));
  assert.equal(settings.source, 'none');
  assert.match(settings.passedOver[0]!, /\[rule tiny\]: the machine has not been inspected/);
  assert.equal(isDiscovered(node(), settings), false, 'not inspected: not discovered either');
  const plain = settingsFor(MAC, inspected(testInventory({ system: { vendor: 'Other' } })), profileOf(RULES));
  assert.equal(plain.source, 'none');
  assert.ok(isDiscovered(inspected(), plain), 'inspected, and nothing gives it settings: discovered');
});

test('precedence: [host <mac>] beats [host serial], which beats an enrolment, which beats a rule', () => {
  const enrolment = {
    hostname: 'e1',
    profile: 'debian/13',
    action: 'install' as const,
    bmc: null,
    enrolledAt: Date.parse('2026-12-07T05:10:00Z'),
    enrolledBy: 'admin',
  };
  const n = inspected(testInventory(), { enrolment });
  const withAll = profileOf(`${RULES}\n[host serial:RR-0042]\naction = menu\n[host ${MAC}]\naction = local\n`);
  assert.equal(settingsFor(MAC, n, withAll).source, 'host');
  assert.equal(settingsFor(MAC, n, withAll).from, `host ${MAC}`);
  const noMac = profileOf(`${RULES}\n[host serial:RR-0042]\naction = menu\n`);
  const bySerial = settingsFor(MAC, n, noMac);
  assert.equal(bySerial.source, 'host');
  assert.equal(bySerial.from, 'host serial:RR-0042');
  assert.match(bySerial.reason, /\[host serial:RR-0042\] in \/etc\/pxe-pilot\/lab.ini \(serial RR-0042\)/);
  const enrolled = settingsFor(MAC, n, profileOf(RULES));
  assert.equal(enrolled.source, 'enrolment');
  assert.equal(enrolled.profile, 'debian/13');
  assert.match(enrolled.reason, /enrolled by admin at 2026-12-07T05:10:00Z/);
  assert.equal(settingsFor(MAC, inspected(), profileOf(RULES)).source, 'rule');
});

test('a deploy’s net_* keys and install_disk come whole from the source that gives the settings: [host] > enrolment > rule', () => {
  const fabric = `${RULES.replace('install_disk = smallest-ssd', 'install_disk = smallest-ssd\nnet_bond = eth0, eth1\nnet_vlan = 42\nnet_mtu = 9000')}`;
  // A rule: every machine it matches gets its keys.
  const ruled = settingsFor(MAC, inspected(), profileOf(fabric));
  assert.equal(ruled.source, 'rule');
  assert.deepEqual(ruled.network, { netBond: 'eth0, eth1', netVlan: '42', netMtu: '9000' });
  assert.deepEqual(ruled.installDisk, { kind: 'smallest-ssd' });
  // Enrolled: the enrolment's keys only; the rule that also matches gives nothing, as for the action or profile.
  const enrolment = {
    hostname: 'web7',
    profile: null,
    action: 'local' as const,
    bmc: null,
    enrolledAt: Date.parse('2026-12-07T05:10:00Z'),
    enrolledBy: 'admin',
    network: { netAddress: '10.0.1.27/24', netGateway: '10.0.1.1' },
    installDisk: 'serial:BIG1',
  };
  const enrolled = settingsFor(MAC, inspected(testInventory(), { enrolment }), profileOf(fabric));
  assert.equal(enrolled.source, 'enrolment');
  assert.deepEqual(enrolled.network, { netAddress: '10.0.1.27/24', netGateway: '10.0.1.1' });
  assert.deepEqual(enrolled.installDisk, { kind: 'serial', serial: 'BIG1' });
  const bare = settingsFor(MAC, inspected(testInventory(), { enrolment: { ...enrolment, network: undefined, installDisk: undefined } }), profileOf(fabric));
  assert.deepEqual([bare.network, bare.installDisk], [{}, null], 'an enrolment without them: DHCP and no install_disk, nothing from the rule');
  // A [host <mac>] beats both, with its own keys or none.
  const hosted = settingsFor(
    MAC,
    inspected(testInventory(), { enrolment }),
    profileOf(`${fabric}\n[host ${MAC}]\naction = local\nnet_address = 10.0.1.21/24\nnet_dns = 10.0.1.1\ninstall_disk = largest\n`),
  );
  assert.equal(hosted.source, 'host');
  assert.deepEqual(hosted.network, { netAddress: '10.0.1.21/24', netDns: '10.0.1.1' });
  assert.deepEqual(hosted.installDisk, { kind: 'largest' });
  const plainHost = settingsFor(MAC, inspected(testInventory(), { enrolment }), profileOf(`${fabric}\n[host ${MAC}]\naction = local\n`));
  assert.deepEqual([plainHost.network, plainHost.installDisk], [{}, null]);
  // A [host serial:…] takes no net_* keys (refused in the profile): its machine gets DHCP, not the enrolment's keys.
  assert.deepEqual(settingsFor(MAC, inspected(testInventory(), { enrolment }), profileOf(`[host serial:RR-0042]\naction = local\n`)).network, {});
});

test('UUID sections compare the normal form: the inventory gives it, iPXE and option 97 give the stored bytes', () => {
  const p = profileOf(`[host uuid:${UUID.toUpperCase()}]\naction = local\n`);
  // From the inventory (the kernel prints the normal form).
  assert.equal(settingsFor(MAC, inspected(), p).from, `host uuid:${UUID}`);
  // From iPXE's ${uuid}: the first three fields arrive byte-swapped.
  const swapped = swapUuidFields(UUID);
  assert.equal(swapped, '78563412-bc9a-f0de-1122-334455667788');
  assert.equal(settingsFor(MAC, node({ uuid: swapped }), p).source, 'host');
  // The normal form arriving through iPXE is some other machine's stored bytes: no match.
  assert.equal(settingsFor(MAC, node({ uuid: UUID }), p).source, 'none');
  assert.deepEqual(nodeIdentity(node({ uuid: swapped })).uuids, [UUID]);
});

test('a UUID or serial two machines share selects nothing, and the reason says so', () => {
  const p = profileOf(`[host serial:RR-0042]\naction = local\n[host uuid:${UUID}]\naction = menu\n`);
  const mine = inspected();
  const twin = { ...inspected(), mac: OTHER };
  const census = censusOf(() => [
    { ...mine, mac: MAC },
    { ...twin, mac: OTHER },
  ]);
  const settings = settingsFor(MAC, mine, p, census);
  assert.equal(settings.source, 'none');
  assert.deepEqual(settings.passedOver, [
    `[host uuid:${UUID}]: uuid ${UUID} is shared with ${OTHER}, so it selects nothing`,
    `[host serial:RR-0042]: serial RR-0042 is shared with ${OTHER}, so it selects nothing`,
  ]);
  // Two NICs of one machine are one machine: its inventory lists both.
  const twoNics = testInventory({ nics: [testNic('eth0', MAC), testNic('eth1', OTHER)] });
  const nic1 = inspected(twoNics);
  const nic2 = { ...node({ serial: 'RR-0042' }), mac: OTHER };
  assert.equal(
    settingsFor(
      MAC,
      nic1,
      p,
      censusOf(() => [nic1, nic2]),
    ).from,
    `host uuid:${UUID}`,
  );
  // Alone, the same machine is selected.
  assert.equal(
    settingsFor(
      MAC,
      mine,
      p,
      censusOf(() => [{ ...mine, mac: MAC }]),
    ).from,
    `host uuid:${UUID}`,
  );
});

test('placeholder identities select nothing: refused in the profile, and skipped with the reason if they get there', () => {
  for (const section of [
    'host serial:Default string',
    'host serial:System Serial Number',
    'host serial:0123456789',
    'host serial:XXXXXXXX',
    'host uuid:03000200-0400-0500-0006-000700080009',
    'host uuid:00000000-0000-0000-0000-000000000000',
  ])
    assert.throws(() => profileOf(`[${section}]\naction = local\n`), /placeholder .* would select nothing/, section);
  const p = profileOf('');
  p.identityHosts.set('serial:default string', { section: 'host serial:Default string', action: 'local', profile: '' });
  const settings = settingsFor(MAC, inspected(testInventory({ system: { serial: 'Default string', uuid: null } })), p);
  assert.equal(settings.source, 'none');
  assert.match(settings.passedOver[0]!, /serial Default string is a placeholder many machines report, so it selects nothing/);
});

test('install_disk: smallest-ssd, largest, serial:X and model:GLOB over the non-removable disks; the reason when none fits', () => {
  const inv = testInventory({
    disks: [
      testDisk('sda', { sizeBytes: 4e12, rotational: true, model: 'ST4000' }),
      testDisk('vdb', { sizeBytes: 2e11, rotational: false, serial: 'S2' }),
      testDisk('nvme0n1', { sizeBytes: 1e12, rotational: false, model: 'Samsung 990' }),
      testDisk('sdz', { sizeBytes: 1e9, rotational: false, removable: true, serial: 'USB' }),
    ],
  });
  const pick = (text: string) => {
    const parsed = parseInstallDisk(text);
    assert.ok(parsed.ok, text);
    return chooseInstallDisk(parsed.choice, inv);
  };
  const path = (text: string) => {
    const c = pick(text);
    return c.ok ? c.path : c.reason;
  };
  assert.equal(path('smallest-ssd'), '/dev/vdb', 'the removable USB stick is smaller but never chosen');
  assert.equal(path('largest'), '/dev/sda');
  assert.equal(path('serial:S2'), '/dev/vdb');
  assert.equal(path('model:samsung*'), '/dev/nvme0n1');
  assert.match(path('serial:USB'), /no disk has that serial/);
  assert.match(path('model:Intel*'), /no disk model matches/);
  const spinning = testInventory({ disks: [testDisk('sda', { rotational: true })] });
  const none = chooseInstallDisk({ kind: 'smallest-ssd' }, spinning);
  assert.equal(none.ok, false);
  assert.match(none.ok ? '' : none.reason, /none of sda is known to be non-rotational/);
  const uninspected = chooseInstallDisk({ kind: 'largest' }, null);
  assert.match(uninspected.ok ? '' : uninspected.reason, /has not been inspected/);
  assert.equal(parseInstallDisk('biggest').ok, false);
});

test('a hostname template over a fact the inventory lacks is a problem, never a blank', () => {
  const inv = testInventory({ system: { serial: null } });
  const filled = fillHostname('{{system.product_short}}-{{system.serial}}', inv);
  assert.deepEqual(filled, { ok: false, problem: 'hostname {{system.product_short}}-{{system.serial}}: the inventory has no system.serial' });
  const settings = settingsFor(MAC, inspected(inv), profileOf(RULES));
  assert.equal(settings.hostname, null);
  assert.match(settings.hostnameProblem ?? '', /no system.serial/);
  assert.deepEqual(fillHostname('{{inventory.system.product_short}}', testInventory({ system: { vendor: 'Dell Inc.', product: 'PowerEdge R650' } })), {
    ok: true,
    text: 'poweredge-r650',
  });
});
