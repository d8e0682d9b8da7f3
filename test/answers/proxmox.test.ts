import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseAnswerRequest, parseInstallReport } from '../../src/answers/proxmox.ts';

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/proxmox/${name}`, import.meta.url), 'utf8'));

describe('Proxmox answer request', () => {
  test('a 9.1 request: NICs in order, DMI serial and UUID, product, ISO version, $schema', () => {
    const r = parseAnswerRequest(fixture('answer-request-9.1.json'));
    assert.ok(r.ok);
    assert.deepEqual(r.value, {
      macs: ['94:40:c9:3a:51:10', '94:40:c9:3a:51:11', 'b8:3f:d2:0c:7e:a0'],
      ignoredMacs: [],
      serial: 'CZJ2340F1K',
      uuid: '4c4c4544-0051-3510-8057-b7c04f4b4e32',
      product: 'pve',
      isoVersion: '9.1-1',
      schemaVersion: '1.0',
    });
  });

  test('an older request without $schema and with a placeholder serial', () => {
    const r = parseAnswerRequest(fixture('answer-request-8.2.json'));
    assert.ok(r.ok);
    assert.equal(r.value.schemaVersion, null);
    assert.equal(r.value.serial, null);
    assert.equal(r.value.product, 'pbs');
  });

  test('each malformed body is refused with a message naming the problem', () => {
    const cases: [unknown, RegExp][] = [
      [[], /is a list, expected a JSON object/],
      ['x', /is a string/],
      [{}, /network_interfaces is missing/],
      [{ network_interfaces: null }, /network_interfaces is null/],
      [{ network_interfaces: { mac: 'aa:bb:cc:dd:ee:ff' } }, /network_interfaces is an object/],
      [{ network_interfaces: ['aa:bb:cc:dd:ee:ff'] }, /network_interfaces\[0\] is a string/],
      [{ network_interfaces: [{ mac: 42 }] }, /network_interfaces\[0\]\.mac is a number/],
      [{ network_interfaces: [{ link: 'eth0' }] }, /network_interfaces\[0\]\.mac is missing/],
      [{ network_interfaces: [], dmi: 'x' }, /dmi is a string/],
      [{ network_interfaces: [], dmi: { system: { serial: 5 } } }, /dmi\.system\.serial is a number/],
      [{ network_interfaces: [], product: 'pve' }, /product is a string/],
    ];
    for (const [body, message] of cases) {
      const r = parseAnswerRequest(body);
      assert.equal(r.ok, false, JSON.stringify(body));
      if (!r.ok) assert.match(r.error, message);
    }
  });

  test('non-Ethernet addresses are set aside, not fatal', () => {
    const r = parseAnswerRequest({
      network_interfaces: [{ mac: '80:00:02:08:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c' }, { mac: 'BC-24-11-00-00-01' }],
    });
    assert.ok(r.ok);
    assert.deepEqual(r.value.macs, ['bc:24:11:00:00:01']);
    assert.equal(r.value.ignoredMacs.length, 1);
  });

  test('any JSON value gives a request or an error, never an exception', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        parseAnswerRequest(v);
        parseAnswerRequest({ network_interfaces: v });
        parseAnswerRequest({ network_interfaces: [v], dmi: v, product: v });
        parseInstallReport(v);
        parseInstallReport({ 'network-interfaces': [v], 'boot-info': v });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('Proxmox post-installation webhook', () => {
  test('the recorded body: management NIC, FQDN, boot mode, DMI, product', () => {
    const r = parseInstallReport(fixture('post-install-webhook.json'));
    assert.ok(r.ok);
    assert.equal(r.value.managementMac, '94:40:c9:3a:51:10');
    assert.deepEqual(r.value.macs, ['94:40:c9:3a:51:10', '94:40:c9:3a:51:11', 'b8:3f:d2:0c:7e:a0']);
    assert.equal(r.value.fqdn, 'pve1.rack.example');
    assert.equal(r.value.bootMode, 'efi');
    assert.equal(r.value.secureBoot, true);
    assert.equal(r.value.product, 'pve');
    assert.equal(r.value.productVersion, '9.1.1');
    assert.equal(r.value.uuid, '4c4c4544-0051-3510-8057-b7c04f4b4e32');
  });

  test('snake_case keys are accepted as well; a body naming no machine is refused', () => {
    const r = parseInstallReport({ network_interfaces: [{ mac: 'bc:24:11:00:00:01', is_management: true }], boot_info: { mode: 'bios' }, fqdn: 'a.b' });
    assert.ok(r.ok);
    assert.equal(r.value.managementMac, 'bc:24:11:00:00:01');
    assert.equal(r.value.bootMode, 'bios');
    assert.equal(r.value.secureBoot, false);
    const none = parseInstallReport({ fqdn: 'a.b', 'network-interfaces': [] });
    assert.equal(none.ok, false);
    assert.equal(parseInstallReport({ 'network-interfaces': 'x' }).ok, false);
  });
});
