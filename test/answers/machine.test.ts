import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pickMachineMac } from '../../src/answers/machine.ts';

const nic = (mac: string, state: 'seen' | 'install-pending' | 'installing' | 'installed' | null, hasHost = false, management = false) => ({
  mac,
  state,
  hasHost,
  management,
});

describe('which NIC names the machine', () => {
  test('the node in the preferred state wins over NIC order', () => {
    const nics = [nic('a', 'seen'), nic('b', 'installing'), nic('c', 'install-pending')];
    assert.equal(pickMachineMac(nics, ['install-pending', 'installing']), 'c');
    assert.equal(pickMachineMac(nics, ['installing', 'install-pending']), 'b');
  });

  test('then a [host] section, then any known node, then the management NIC, then the first', () => {
    assert.equal(pickMachineMac([nic('a', null), nic('b', 'seen'), nic('c', null, true)], ['install-pending']), 'c');
    assert.equal(pickMachineMac([nic('a', null), nic('b', 'seen')], ['install-pending']), 'b');
    assert.equal(pickMachineMac([nic('a', null), nic('b', null, false, true)], ['install-pending']), 'b');
    assert.equal(pickMachineMac([nic('a', null), nic('b', null)], ['install-pending']), 'a');
    assert.equal(pickMachineMac([], ['install-pending']), null);
  });
});
