import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { isLoopback, unmappedAddress } from '../../src/net/address.ts';

// The fast path for what sockets report must say exactly what the full parse says.
test('peer addresses: IPv4, IPv4-mapped IPv6 and IPv6 read as a person writes them, the same as a full parse', () => {
  fc.assert(
    fc.property(fc.ipV4(), (v4) => {
      assert.equal(unmappedAddress(v4), ipaddr.process(v4).toString());
      assert.equal(unmappedAddress(`::ffff:${v4}`), v4);
      assert.equal(isLoopback(`::ffff:${v4}`), v4.startsWith('127.'));
    }),
  );
  fc.assert(fc.property(fc.ipV6(), (v6) => assert.equal(unmappedAddress(v6), ipaddr.process(v6).toString())));
  assert.equal(unmappedAddress('::1'), '::1');
  assert.equal(unmappedAddress('010.0.0.1'), ipaddr.process('010.0.0.1').toString(), 'leading zeros take the full parse');
  assert.equal(unmappedAddress('not an address'), 'not an address');
  assert.equal(unmappedAddress(''), '');
});

test('MAC spellings: the colon and hyphen fast paths agree with the general parse', async () => {
  const { normaliseMac } = await import('../../src/net/mac.ts');
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.boolean(), fc.constantFrom(':', '-'), (bytes, upper, sep) => {
      const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0'));
      const colon = hex.join(':');
      const spelled = upper ? hex.join(sep).toUpperCase() : hex.join(sep);
      assert.equal(normaliseMac(spelled), colon);
      assert.equal(normaliseMac(hex.join('')), colon);
      assert.equal(normaliseMac(`${hex[0]}${hex[1]}.${hex[2]}${hex[3]}.${hex[4]}${hex[5]}`), colon);
    }),
  );
});
