import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answerCandidates } from '../../src/answers/selection.ts';

describe('answer selection order', () => {
  test('each NIC in the order sent, then serial, UUID, product, default', () => {
    const c = answerCandidates({
      macs: ['bc:24:11:00:00:02', 'bc:24:11:00:00:01'],
      serial: 'CZJ2340F1K',
      uuid: '4C4C4544-0051-3510-8057-B7C04F4B4E32',
      product: 'pve',
    });
    assert.deepEqual(
      c.map((x) => `${x.rule}:${x.key}`),
      ['mac:bc:24:11:00:00:02', 'mac:bc:24:11:00:00:01', 'serial:czj2340f1k', 'uuid:4c4c4544-0051-3510-8057-b7c04f4b4e32', 'product:pve', 'default:default'],
    );
    assert.match(c[1]!.why, /NIC 2 of 2/);
  });

  test('a NIC reported twice is tried once; unusable values are skipped, default always stays', () => {
    const c = answerCandidates({ macs: ['bc:24:11:00:00:01', 'BC-24-11-00-00-01'], serial: 'Not Specified', uuid: 'bogus', product: '../x' });
    assert.deepEqual(
      c.map((x) => x.rule),
      ['mac', 'default'],
    );
  });

  test('rules left out are not tried', () => {
    const c = answerCandidates({ macs: ['bc:24:11:00:00:01'], serial: 'ABC123', uuid: null, product: 'pve' }, ['mac', 'serial', 'default']);
    assert.deepEqual(
      c.map((x) => x.rule),
      ['mac', 'serial', 'default'],
    );
  });
});
