import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { keyOf, keyOfEntryName, normaliseProduct, normaliseSerial, normaliseUuid, proxmoxProductOfProfile } from '../../src/answers/names.ts';
import { macFileName } from '../../src/net/mac.ts';

const macBytes = fc.uint8Array({ minLength: 6, maxLength: 6 });
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0'));

describe('answer keys', () => {
  test('a MAC file name in any spelling names the same machine', () => {
    fc.assert(
      fc.property(macBytes, fc.boolean(), (bytes, upper) => {
        const parts = hex(bytes);
        const colon = parts.join(':');
        const spellings = [parts.join('-'), colon, parts.join(''), `${parts[0]}${parts[1]}.${parts[2]}${parts[3]}.${parts[4]}${parts[5]}`];
        for (const s of spellings) {
          const name = (upper ? s.toUpperCase() : s) + '.toml';
          assert.equal(keyOfEntryName('mac', name, '.toml'), colon);
        }
        assert.equal(keyOfEntryName('mac', macFileName(colon) + '.toml', '.toml'), colon);
      }),
    );
  });

  test('names that are not a key followed by the suffix match nothing', () => {
    for (const name of [
      'aa-bb-cc-dd-ee-ff.cfg',
      'aa-bb-cc-dd-ee-ff',
      '.toml',
      '../aa-bb-cc-dd-ee-ff.toml',
      'aa-bb-cc-dd-ee.toml',
      'aa-bb-cc-dd-ee-ff.toml.bak',
    ]) {
      assert.equal(keyOfEntryName('mac', name, '.toml'), null, name);
    }
  });

  test('no key ever holds a path separator, a dot-dot or a NUL, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.constantFrom<'mac' | 'serial' | 'uuid'>('mac', 'serial', 'uuid'), (s, rule) => {
        const key = keyOf(rule, s);
        if (key === null) return;
        assert.ok(!/[\\/\0]/.test(key) && !key.includes('..') && key.length <= 64, JSON.stringify(key));
      }),
      { numRuns: 2000 },
    );
  });

  test('serials: trimmed, case kept, placeholders and odd characters refused', () => {
    assert.equal(normaliseSerial('  CZJ2340F1K \n'), 'CZJ2340F1K');
    assert.equal(keyOf('serial', 'czj2340f1k'), keyOf('serial', 'CZJ2340F1K'));
    for (const junk of [
      '',
      '0..',
      'A..B',
      'Not Specified',
      'To Be Filled By O.E.M.',
      '0123456789',
      '0000000',
      'None',
      '../etc',
      '/abs',
      'a/b',
      'x\0y',
      '%2e%2e',
      '.hidden',
      42,
      null,
    ]) {
      assert.equal(normaliseSerial(junk), null, String(junk));
    }
  });

  test('UUIDs: lower-cased canonical form; all-zero and all-F refused', () => {
    assert.equal(normaliseUuid('4C4C4544-0051-3510-8057-B7C04F4B4E32'), '4c4c4544-0051-3510-8057-b7c04f4b4e32');
    for (const bad of [
      '00000000-0000-0000-0000-000000000000',
      'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
      '4c4c4544005135108057b7c04f4b4e32',
      '4c4c4544-0051-3510-8057-b7c04f4b4e3',
      'x',
    ]) {
      assert.equal(normaliseUuid(bad), null, bad);
    }
  });

  test('products and the asset folders of the Proxmox products', () => {
    assert.equal(normaliseProduct('PVE'), 'pve');
    assert.equal(normaliseProduct('../pve'), null);
    assert.equal(proxmoxProductOfProfile('proxmox-ve/9.1-1'), 'pve');
    assert.equal(proxmoxProductOfProfile('proxmox-bs/4.0-1'), 'pbs');
    assert.equal(proxmoxProductOfProfile('proxmox-mg/9.0-1'), 'pmg');
    assert.equal(proxmoxProductOfProfile('ubuntu/24.04'), null);
    assert.equal(proxmoxProductOfProfile(null), null);
  });
});
