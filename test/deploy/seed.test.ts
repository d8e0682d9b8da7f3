// The cloud-init seed a deployed image gets: network-config v2 (DHCP, static, LACP bond, VLAN),
// meta-data and the cloud-config header rule. The documents are JSON, which cloud-init reads as YAML.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cloudConfigUserData, renderMetaData, renderNetworkConfig, type SeedNic } from '../../src/deploy/seed.ts';

const NICS: SeedNic[] = [
  { name: 'eno1', mac: '52:54:00:00:00:01' },
  { name: 'eno2', mac: '52:54:00:00:00:02' },
];
const BOOT = '52:54:00:00:00:01';

function network(text: string): Record<string, unknown> {
  return (JSON.parse(text) as { network: Record<string, unknown> }).network;
}

describe('network-config version 2', () => {
  test('nothing said: DHCP on the boot NIC, matched by its MAC', () => {
    const r = renderNetworkConfig({}, NICS, BOOT);
    assert.ok(r.ok);
    assert.deepEqual(network(r.text), { version: 2, ethernets: { boot: { match: { macaddress: BOOT }, dhcp4: true } } });
  });

  test('a static address with gateway and DNS', () => {
    const r = renderNetworkConfig({ address: '10.0.1.21/24', gateway: '10.0.1.1', dns: ['10.0.1.53', '1.1.1.1'] }, NICS, BOOT);
    assert.ok(r.ok);
    assert.deepEqual(network(r.text).ethernets, {
      boot: {
        match: { macaddress: BOOT },
        addresses: ['10.0.1.21/24'],
        routes: [{ to: 'default', via: '10.0.1.1' }],
        nameservers: { addresses: ['10.0.1.53', '1.1.1.1'] },
      },
    });
  });

  test('an LACP bond of two NICs named from the inventory, with a VLAN carrying the address', () => {
    const r = renderNetworkConfig({ address: '10.20.0.5/24', gateway: '10.20.0.1', bond: ['eno1', '52:54:00:00:00:02'], vlan: 20, mtu: 9000 }, NICS, BOOT);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    const n = network(r.text);
    assert.deepEqual(n.ethernets, {
      'bond-member0': { match: { macaddress: '52:54:00:00:00:01' }, dhcp4: false, mtu: 9000 },
      'bond-member1': { match: { macaddress: '52:54:00:00:00:02' }, dhcp4: false, mtu: 9000 },
    });
    const bond = (n.bonds as Record<string, Record<string, unknown>>).bond0!;
    assert.deepEqual(bond.interfaces, ['bond-member0', 'bond-member1']);
    assert.equal((bond.parameters as Record<string, unknown>).mode, '802.3ad');
    assert.equal(bond.dhcp4, false, 'the address is on the VLAN, not the bond');
    assert.deepEqual(n.vlans, { vlan20: { id: 20, link: 'bond0', addresses: ['10.20.0.5/24'], routes: [{ to: 'default', via: '10.20.0.1' }] } });
  });

  test('what cannot work is refused with the reason', () => {
    const cases: [Parameters<typeof renderNetworkConfig>[0], RegExp][] = [
      [{ address: '10.0.1.21' }, /not an IPv4 address with its prefix/],
      [{ address: '10.0.1.21/24', gateway: 'router' }, /"router" is not an IPv4 address/],
      [{ gateway: '10.0.1.1' }, /a gateway without an address/],
      [{ bond: ['eno1', 'eth9'] }, /bond member "eth9" is neither a MAC nor a NIC of this machine's inventory \(eno1, eno2\)/],
      [{ bond: ['eno1'] }, /at least two NICs/],
      [{ bond: ['eno1', 'eno1'] }, /named twice/],
      [{ vlan: 4095 }, /not a VLAN id/],
      [{ mtu: 100 }, /out of range/],
    ];
    for (const [settings, reason] of cases) {
      const r = renderNetworkConfig(settings, NICS, BOOT);
      assert.equal(r.ok, false, JSON.stringify(settings));
      assert.match(r.ok ? '' : r.reason, reason);
    }
  });

  test('property: any settings give valid JSON or a reason, and an address given is the one configured', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
    fc.assert(
      fc.property(
        fc.record(
          {
            address: fc.oneof(
              fc.tuple(ip, fc.integer({ min: 0, max: 40 })).map(([a, p]) => `${a}/${p}`),
              fc.string(),
            ),
            gateway: fc.oneof(ip, fc.string()),
            dns: fc.array(fc.oneof(ip, fc.string()), { maxLength: 3 }),
            bond: fc.array(fc.constantFrom('eno1', 'eno2', 'eth7', '52:54:00:00:00:09'), { maxLength: 3 }),
            vlan: fc.integer({ min: -2, max: 5000 }),
            mtu: fc.integer({ min: 0, max: 10000 }),
          },
          { requiredKeys: [] },
        ),
        (settings) => {
          const r = renderNetworkConfig(settings, NICS, BOOT);
          if (!r.ok) return assert.ok(r.reason.length > 0);
          const text = JSON.stringify(network(r.text));
          if (settings.address) assert.ok(text.includes(JSON.stringify(settings.address)));
          else assert.ok(text.includes('"dhcp4":true'));
        },
      ),
    );
  });
});

describe('meta-data and user-data', () => {
  test('meta-data names the instance and host, whatever characters they have', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (id, host) => {
        assert.deepEqual(JSON.parse(renderMetaData(id, host)), { 'instance-id': id, 'local-hostname': host });
      }),
    );
  });

  test('user-data must be a cloud-config', () => {
    assert.deepEqual(cloudConfigUserData('#cloud-config\npackages: [htop]'), { ok: true, text: '#cloud-config\npackages: [htop]\n' });
    const refused = cloudConfigUserData('#cloud-config-archive\n- x');
    assert.equal(refused.ok, false);
    const answer = cloudConfigUserData('autoinstall:\n  version: 1\n');
    assert.match(answer.ok ? '' : answer.reason, /must start with a "#cloud-config" line \(it is a cloud-config, not an installer answer\)/);
  });
});
