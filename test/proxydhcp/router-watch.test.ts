// Beside a router: a PXE client that never gets an address is reported once, with what to check,
// and explain shows it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseDhcp, encodeDhcp } from '../../src/dhcp/codec.ts';
import { RouterOfferWatch, NO_OFFER_AFTER_MS } from '../../src/proxydhcp/router-watch.ts';
import { explainMac } from '../../src/explain.ts';
import { Store } from '../../src/store/store.ts';
import { dhcpRequest, T } from '../helpers/dhcp-packets.ts';

const MAC = '52:54:00:12:34:56';
const discover = (mac = MAC, pxe = true) => dhcpRequest({ mac, type: T.DISCOVER, ...(pxe ? { arch: 7 } : {}) });

test('DISCOVERs for 10 s and never a REQUEST: one warning naming the router; none again', () => {
  const w = new RouterOfferWatch();
  const t0 = 1_000_000;
  for (let i = 0; i < 4; i++) w.saw(discover(), 'dhcp', t0 + i * 4000);
  const due = w.due(t0 + 12_000);
  assert.equal(due.length, 1);
  assert.equal(due[0]!.mac, MAC);
  assert.equal(due[0]!.discovers, 4);
  assert.match(due[0]!.reason, /never a REQUEST.*will not boot.*router's DHCP server/);
  assert.deepEqual(w.due(t0 + 20_000), [], 'reported once');
});

test('a client that REQUESTs, or asks on 4011, is fine; a non-PXE client is not watched', () => {
  const w = new RouterOfferWatch();
  for (let i = 0; i < 4; i++) w.saw(discover(), 'dhcp', i * 4000);
  w.saw(dhcpRequest({ mac: MAC, type: T.REQUEST, arch: 7, serverId: '10.0.0.1', requested: '10.0.0.50' }), 'dhcp', 13_000);
  assert.deepEqual(w.due(20_000), []);
  const b = new RouterOfferWatch();
  for (let i = 0; i < 4; i++) b.saw(discover(), 'dhcp', i * 4000);
  b.saw(dhcpRequest({ mac: MAC, type: T.REQUEST, arch: 7, ciaddr: '10.0.0.50' }), 'proxy', 13_000);
  assert.deepEqual(b.due(20_000), []);
  const plain = new RouterOfferWatch();
  for (let i = 0; i < 4; i++) plain.saw(discover('52:54:00:00:00:01', false), 'dhcp', i * 4000);
  assert.deepEqual(plain.due(20_000), []);
});

test('too early or too few DISCOVERs: nothing yet', () => {
  const w = new RouterOfferWatch();
  w.saw(discover(), 'dhcp', 0);
  w.saw(discover(), 'dhcp', 1000);
  assert.deepEqual(w.due(NO_OFFER_AFTER_MS + 1), [], 'two DISCOVERs are not enough');
  w.saw(discover(), 'dhcp', 2000);
  assert.deepEqual(w.due(5000), [], 'not yet 10 s');
  assert.equal(w.due(NO_OFFER_AFTER_MS + 1).length, 1);
});

test('property: a flood of invented MACs stays bounded', () => {
  const w = new RouterOfferWatch();
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 200 }), (macs) => {
      for (const m of macs) {
        const parsed = parseDhcp(encodeDhcp(discover([...m].map((b) => b.toString(16).padStart(2, '0')).join(':'))));
        if (parsed.ok) w.saw(parsed.packet, 'dhcp', 0);
      }
      return w.size <= 4096;
    }),
    { numRuns: 50 },
  );
});

test('explain shows the warning as what to check', () => {
  const s = Store.open(':memory:');
  s.sawNode(MAC, { arch: 7 }, false);
  const w = new RouterOfferWatch();
  for (let i = 0; i < 4; i++) w.saw(discover(), 'dhcp', i * 4000);
  const [warning] = w.due(20_000);
  s.record({ mac: MAC, protocol: 'proxydhcp', kind: 'no-router-offer', decision: 'warning', reason: warning!.reason });
  const text = explainMac(s, MAC);
  assert.match(text, /It got no address: no router DHCP offer seen/);
  s.close();
});
