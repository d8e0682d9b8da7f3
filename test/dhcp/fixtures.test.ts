// Real requests captured with tshark (test/fixtures/dhcp/capture.ts): the codec reads what each
// client really sends, the policy sees the right firmware, and re-encoding loses nothing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { describeDhcpClient } from '../../src/dhcp/client.ts';

interface Fixture {
  name: string;
  client: string;
  type: string;
  hex: string;
}

const { requests } = JSON.parse(readFileSync(new URL('../fixtures/dhcp/requests.json', import.meta.url), 'utf8')) as { requests: Fixture[] };
const byName = new Map(requests.map((r) => [r.name, r]));

function parsed(name: string) {
  const fixture = byName.get(name);
  assert.ok(fixture, `fixture ${name} was captured`);
  const r = parseDhcp(Buffer.from(fixture.hex, 'hex'));
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.packet;
}

describe('captured DHCP requests', () => {
  test('every capture parses, and survives encode → parse with the same fields and options', () => {
    assert.ok(requests.length >= 8, `captures: ${requests.map((r) => r.name).join(', ')}`);
    for (const fixture of requests) {
      const first = parseDhcp(Buffer.from(fixture.hex, 'hex'));
      assert.ok(first.ok, `${fixture.name}: ${first.ok ? '' : first.error.message}`);
      const again = parseDhcp(encodeDhcp(first.packet));
      assert.ok(again.ok);
      // Same options; only their order may differ (we put option 53 first).
      const sorted = (m: Map<number, Buffer>) => [...m].sort(([a], [b]) => a - b);
      assert.deepEqual(
        { ...again.packet, options: sorted(again.packet.options.raw) },
        { ...first.packet, options: sorted(first.packet.options.raw) },
        fixture.name,
      );
    }
  });

  test('iPXE (SeaBIOS ROM) says it is iPXE and x86 BIOS', () => {
    const client = describeDhcpClient(parsed('ipxe-bios-discover'))!;
    assert.equal(client.isIpxe, true);
    assert.equal(client.arch, 0);
    assert.equal(client.firmware, 'bios');
    assert.equal(client.mac, '52:54:00:f1:00:01');
  });

  test('OVMF native PXE is UEFI x64, PXEClient, with a 17-byte UUID', () => {
    const packet = parsed('ovmf-uefi-x64-discover');
    const client = describeDhcpClient(packet)!;
    assert.equal(client.isIpxe, false);
    assert.equal(client.arch, 7);
    assert.equal(client.firmware, 'uefi');
    assert.match(client.vendorClass ?? '', /^PXEClient:Arch:00007:UNDI:003000$/);
    assert.match(client.uuid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-/);
    assert.deepEqual(packet.options.read('clientNdi'), { type: 1, major: 3, minor: 0 });
  });

  test('Linux clients are not PXE clients; udhcpc and dhcpcd name themselves, udhcpc sends a client id', () => {
    for (const name of ['dhclient-discover', 'udhcpc-discover', 'dhcpcd-discover']) {
      const client = describeDhcpClient(parsed(name))!;
      assert.equal(client.arch, undefined, name);
      assert.equal(client.isIpxe, false, name);
    }
    assert.match(parsed('udhcpc-discover').options.read('vendorClass') ?? '', /^udhcp /);
    assert.match(parsed('dhcpcd-discover').options.read('vendorClass') ?? '', /^dhcpcd-/);
    assert.equal(parsed('udhcpc-discover').options.read('clientId')?.toString('hex'), `01${parsed('udhcpc-discover').chaddr.subarray(0, 6).toString('hex')}`);
    // A REQUEST in SELECTING state names the server and the offered address.
    for (const name of ['dhclient-request', 'udhcpc-request', 'dhcpcd-request']) {
      const p = parsed(name);
      assert.equal(p.options.read('serverId'), '10.77.0.1', name);
      assert.match(p.options.read('requestedIp') ?? '', /^10\.77\.0\./, name);
    }
  });
});
