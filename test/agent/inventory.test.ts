import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_INVENTORY_BYTES, parseInventory, usableIdentity, type Inventory } from '../../src/agent/inventory.ts';
import { isPlaceholderSerial, isPlaceholderUuid, swapUuidFields, uuidFromBytes, uuidNormalForm } from '../../src/agent/identity.ts';

const text = fc
  .option(
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[\u0000-\u001f\u007f]/g, '').trim()),
    { nil: null },
  )
  .map((s) => (s === '' ? null : s));
const name = fc.stringMatching(/^[a-z][a-z0-9]{0,12}$/);
const count = fc.option(fc.nat({ max: 1 << 30 }), { nil: null });
const bytes = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const hexBytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('hex'));
const uuid = fc.option(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => uuidFromBytes(b, 'raw')),
  { nil: null },
);
const mac = hexBytes(6).map((h) => h.match(/../g)!.join(':'));
const pci = fc.option(
  fc
    .tuple(fc.nat({ max: 255 }), fc.nat({ max: 31 }), fc.nat({ max: 7 }))
    .map(([b, d, f]) => `0000:${b.toString(16).padStart(2, '0')}:${d.toString(16).padStart(2, '0')}.${f}`),
  { nil: null },
);
const bool = fc.option(fc.boolean(), { nil: null });

const inventoryArb: fc.Arbitrary<Inventory> = fc.record({
  schema: fc.constant(1 as const),
  agent: fc.record({ version: text, kernel: text }),
  system: fc.record({
    vendor: text,
    product: text,
    serial: text,
    uuid,
    sku: text,
    family: text,
    board: fc.record({ vendor: text, product: text, serial: text }),
    bios: fc.record({ vendor: text, version: text, date: text }),
    chassis: fc.record({ type: count, serial: text }),
  }),
  boot: fc.record({ mode: fc.constantFrom('bios' as const, 'uefi' as const), secureBoot: bool }),
  cpus: fc.record({ model: text, sockets: count, cores: count, threads: count }),
  memory: fc.record({
    totalBytes: fc.option(bytes, { nil: null }),
    dimms: fc.array(fc.record({ locator: text, sizeBytes: bytes, type: text, speedMts: count, manufacturer: text, serial: text, partNumber: text }), {
      maxLength: 4,
    }),
  }),
  disks: fc.array(
    fc.record({
      name,
      sizeBytes: bytes,
      model: text,
      serial: text,
      wwn: text,
      rotational: bool,
      transport: fc.constantFrom('nvme' as const, 'sata' as const, 'sas' as const, 'scsi' as const, 'virtio' as const, 'usb' as const, 'unknown' as const),
      removable: bool,
    }),
    { maxLength: 4 },
  ),
  nics: fc.array(
    fc.record({
      name,
      mac,
      driver: text,
      pciAddress: pci,
      link: fc.constantFrom('up' as const, 'down' as const, 'unknown' as const),
      speedMbps: count,
      lldp: fc.option(fc.record({ chassisId: text, portId: text, systemName: text, portDescription: text }), { nil: null }),
    }),
    { maxLength: 4 },
  ),
  bmc: fc.option(fc.record({ ip: text, mac: fc.option(mac, { nil: null }) }), { nil: null }),
  missing: fc.record({
    drivers: fc.array(
      fc.record({
        pciAddress: pci.filter((p): p is string => p !== null),
        kind: fc.constantFrom('network' as const, 'storage' as const),
        vendorId: text,
        deviceId: text,
        modalias: text,
      }),
      { maxLength: 3 },
    ),
    firmware: fc.array(name, { maxLength: 3 }),
  }),
});

/** What the agent sends from QEMU (see agent/init), trimmed to one disk and one NIC. */
const SAMPLE = {
  schema: 1,
  agent: { version: 'pxe-pilot 0.1.0 6.1.0-57-amd64', kernel: '6.1.0-57-amd64' },
  system: {
    vendor: 'Acme',
    product: 'Roadrunner-9',
    serial: 'RR-0042',
    uuid: '12345678-9ABC-DEF0-1122-334455667788',
    sku: null,
    family: null,
    board: { vendor: null, product: null, serial: null },
    bios: { vendor: 'SeaBIOS', version: '1.16.2-debian-1.16.2-1', date: '04/01/2014' },
    chassis: { type: 1, serial: null },
  },
  boot: { mode: 'bios', secureBoot: false },
  cpus: { model: 'QEMU Virtual CPU version 2.5+', sockets: 1, cores: 1, threads: 1 },
  memory: {
    totalBytes: 479612928,
    dimms: [{ locator: 'DIMM 0', sizeBytes: 536870912, type: 'RAM', speedMts: null, manufacturer: 'QEMU', serial: null, partNumber: null }],
  },
  disks: [{ name: 'vda', sizeBytes: 67108864, model: null, serial: 'VIRTSER1', wwn: null, rotational: true, transport: 'virtio', removable: false }],
  nics: [{ name: 'eth0', mac: '52:54:00:AA:BB:01', driver: 'virtio_net', pciAddress: '0000:00:05.0', link: 'up', speedMbps: null, lldp: null }],
  bmc: null,
  missing: {
    drivers: [{ pciAddress: '0000:00:01.1', kind: 'storage', vendorId: '0x8086', deviceId: '0x7010', modalias: 'pci:v00008086d00007010' }],
    firmware: [],
  },
};

function withPath(doc: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path.at(-1)!] = value;
  return copy;
}

describe('inventory documents', () => {
  test("the agent's document parses; UUID and MAC come out in their normal forms", () => {
    const r = parseInventory(JSON.stringify(SAMPLE));
    assert.ok(r.ok, r.ok ? '' : `${r.field}: ${r.reason}`);
    assert.equal(r.inventory.system.uuid, '12345678-9abc-def0-1122-334455667788');
    assert.equal(r.inventory.nics[0]!.mac, '52:54:00:aa:bb:01');
    assert.equal(r.inventory.disks[0]!.sizeBytes, 67108864);
    assert.equal(r.inventory.system.board.vendor, null);
  });

  test('a wrong field is named, with the reason', () => {
    const cases: [(string | number)[], unknown, string][] = [
      [['schema'], 2, 'schema'],
      [['system', 'uuid'], 'Not Settable', 'system.uuid'],
      [['disks', 0, 'sizeBytes'], -1, 'disks[0].sizeBytes'],
      [['disks', 0, 'sizeBytes'], '64M', 'disks[0].sizeBytes'],
      [['disks', 0, 'transport'], 'floppy', 'disks[0].transport'],
      [['nics', 0, 'mac'], 'not-a-mac', 'nics[0].mac'],
      [['nics', 0, 'pciAddress'], '00:05.0', 'nics[0].pciAddress'],
      [['boot', 'mode'], 'legacy', 'boot.mode'],
      [['memory', 'dimms', 0, 'sizeBytes'], 1.5, 'memory.dimms[0].sizeBytes'],
      [['system', 'serial'], 'a\u0000b', 'system.serial'],
      [['system', 'board'], null, 'system.board'],
      [['disks'], {}, 'disks'],
    ];
    for (const [path, value, field] of cases) {
      const r = parseInventory(JSON.stringify(withPath(SAMPLE, path, value)));
      assert.ok(!r.ok, `${field} = ${JSON.stringify(value)} was accepted`);
      assert.equal(r.field, field);
      assert.ok(r.reason.length > 0);
    }
  });

  test('not JSON, or over 1 MiB, is refused as a whole document', () => {
    for (const body of ['', '{', 'null', '[]', '"x"']) {
      const r = parseInventory(body);
      assert.ok(!r.ok);
      assert.equal(r.field, 'document');
    }
    const big = parseInventory(Buffer.alloc(MAX_INVENTORY_BYTES + 1, 0x20));
    assert.ok(!big.ok && /at most 1048576/.test(big.reason));
  });

  test('any JSON either parses or names a field; it never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const r = parseInventory(JSON.stringify(v));
        if (!r.ok) assert.ok(r.field.length > 0 && r.reason.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  test("any change to the agent's document either parses or names a field", () => {
    const paths = fc.constantFrom<(string | number)[]>(
      ['schema'],
      ['system', 'uuid'],
      ['system', 'chassis', 'type'],
      ['boot', 'secureBoot'],
      ['cpus', 'threads'],
      ['memory', 'dimms'],
      ['disks', 0, 'name'],
      ['disks', 0, 'rotational'],
      ['nics', 0],
      ['nics', 0, 'lldp'],
      ['missing', 'firmware'],
      ['bmc'],
    );
    fc.assert(
      fc.property(paths, fc.jsonValue({ maxDepth: 3 }), (path, value) => {
        const r = parseInventory(JSON.stringify(withPath(SAMPLE, path, value)));
        if (!r.ok) assert.ok(r.field.length > 0 && r.reason.length > 0);
      }),
      { numRuns: 500 },
    );
  });

  test('any arbitrary bytes are answered, never thrown', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        assert.equal(typeof parseInventory(b).ok, 'boolean');
      }),
    );
  });

  test('a valid document round-trips', () => {
    fc.assert(
      fc.property(inventoryArb, (inv) => {
        const r = parseInventory(JSON.stringify(inv));
        assert.ok(r.ok, r.ok ? '' : `${r.field}: ${r.reason}`);
        assert.deepEqual(r.inventory, JSON.parse(JSON.stringify(inv)));
      }),
      { numRuns: 300 },
    );
  });
});

describe('machine identity', () => {
  test('SMBIOS >= 2.6 stores the first three fields little-endian: the raw bytes read differently', () => {
    // The bytes of "12345678-9abc-def0-1122-334455667788" as SMBIOS 2.6+ stores it, and as
    // DHCP option 97 carries it.
    const stored = Buffer.from('78563412bc9af0de1122334455667788', 'hex');
    assert.equal(uuidFromBytes(stored, 'smbios-le'), '12345678-9abc-def0-1122-334455667788');
    assert.equal(uuidFromBytes(stored, 'raw'), '78563412-bc9a-f0de-1122-334455667788');
    assert.equal(swapUuidFields('78563412-bc9a-f0de-1122-334455667788'), '12345678-9abc-def0-1122-334455667788');
  });

  test('swapping the fields is its own inverse, and the two byte orders differ by exactly it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const raw = uuidFromBytes(b, 'raw');
        assert.equal(swapUuidFields(swapUuidFields(raw)), raw);
        assert.equal(uuidFromBytes(b, 'smbios-le'), swapUuidFields(raw));
        assert.equal(uuidNormalForm(raw.toUpperCase().replace(/-/g, '')), raw);
        assert.equal(uuidNormalForm(`{${raw.toUpperCase()}}`), raw);
      }),
    );
  });

  test('placeholder UUIDs, in either byte order and any spelling', () => {
    for (const u of [
      '00000000-0000-0000-0000-000000000000',
      'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
      '03000200-0400-0500-0006-000700080009',
      '00020003-0004-0005-0006-000700080009',
      '03000200040005000006000700080009',
      'Not Settable',
    ])
      assert.ok(isPlaceholderUuid(u), u);
    assert.ok(!isPlaceholderUuid('12345678-9abc-def0-1122-334455667788'));
  });

  test('placeholder serials; real ones are kept', () => {
    for (const s of [
      'To be filled by O.E.M.',
      'Default string',
      'System Serial Number',
      'Not Specified',
      'Chassis Serial Number',
      '0123456789',
      '',
      '   ',
      '00000000',
      'FFFFFFFF',
      'XXXX',
      'None',
    ])
      assert.ok(isPlaceholderSerial(s), s);
    for (const s of ['RR-0042', 'CZ2201ABCD', '7XYZ123', 'J300ABCD']) assert.ok(!isPlaceholderSerial(s), s);
  });

  test('an inventory selects by its UUID and serial only when they are not placeholders', () => {
    const withIds = (uuid: string, serial: string) => {
      const r = parseInventory(JSON.stringify(withPath(withPath(SAMPLE, ['system', 'uuid'], uuid), ['system', 'serial'], serial)));
      assert.ok(r.ok);
      return usableIdentity(r.inventory);
    };
    assert.deepEqual(withIds('12345678-9abc-def0-1122-334455667788', 'RR-0042'), { uuid: '12345678-9abc-def0-1122-334455667788', serial: 'RR-0042' });
    assert.deepEqual(withIds('03000200-0400-0500-0006-000700080009', 'To be filled by O.E.M.'), { uuid: null, serial: null });
  });
});
