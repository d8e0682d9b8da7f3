// What changed between two inventories: the words of the change event (docs/inventory.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { inventoryChanges } from '../../src/agent/inventory-changes.ts';
import { inventoryDoc, type DocParts } from '../helpers/inventory-doc.ts';

test('disks added, removed and replaced by serial, resized, memory, NICs', () => {
  const before = inventoryDoc();
  assert.deepEqual(inventoryChanges(before, inventoryDoc()), []);
  assert.deepEqual(
    inventoryChanges(
      before,
      inventoryDoc({
        memoryBytes: 4294967296,
        disks: [
          { name: 'vda', sizeBytes: 1, serial: 'VIRTSER1' },
          { name: 'nvme0n1', sizeBytes: 2, serial: 'NEW' },
          { name: 'sda', sizeBytes: 3, serial: null },
        ],
        nics: [{ name: 'eth0', mac: '52:54:00:aa:bb:01' }],
      }),
    ),
    [
      'disk nvme0n1 (serial NVMESER2) replaced by serial NEW (2 bytes)',
      'disk sda added (3 bytes)',
      'disk vda (serial VIRTSER1) size 68719476736 → 1 bytes',
      'memory 8589934592 → 4294967296 bytes',
      'NIC eth1 (52:54:00:aa:bb:02) removed',
    ],
  );
  // A disk that moved to another name is the same disk (matched by serial).
  const moved = inventoryDoc({
    disks: [
      { name: 'vdb', sizeBytes: 68719476736, serial: 'VIRTSER1' },
      { name: 'nvme0n1', sizeBytes: 34359738368, serial: 'NVMESER2' },
    ],
  });
  assert.deepEqual(inventoryChanges(before, moved), []);
});

const diskSets = fc.uniqueArray(
  fc.record({
    name: fc.constantFrom('vda', 'vdb', 'sda', 'nvme0n1'),
    sizeBytes: fc.nat(),
    serial: fc.option(fc.constantFrom('S1', 'S2', 'S3'), { nil: null }),
  }),
  { selector: (d) => d.serial ?? d.name, maxLength: 4 },
);
const parts: fc.Arbitrary<DocParts> = fc.record({ memoryBytes: fc.nat(), disks: diskSets });

test('any two inventories: no change from one to itself, and a change either way when they differ in what is compared', () => {
  fc.assert(
    fc.property(parts, parts, (a, b) => {
      const x = inventoryDoc(a);
      const y = inventoryDoc(b);
      assert.deepEqual(inventoryChanges(x, x), []);
      const forward = inventoryChanges(x, y);
      const backward = inventoryChanges(y, x);
      assert.equal(forward.length === 0, backward.length === 0, `${forward.join('; ')} / ${backward.join('; ')}`);
      for (const line of forward) assert.ok(line.length > 0 && !line.includes('undefined'));
    }),
    { numRuns: 300 },
  );
});
