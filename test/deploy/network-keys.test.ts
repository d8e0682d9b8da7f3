// The net_* keys where they come from besides a [host]: a [rule] (never one machine's address) and
// the enrolment API's JSON (camel case, any value refused naming its key, never thrown).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NETWORK_KEYS, readNetworkJson, readNetworkKeys, ruleNetworkProblem, type NetworkField } from '../../src/deploy/network-keys.ts';

const FIELDS = Object.keys(NETWORK_KEYS) as NetworkField[];
const nicName = fc.stringMatching(/^(eno|eth|ens)[0-9]{1,2}$/);
const mac = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));
const value = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('', '  ', '10.0.1.21/24', '10.0.1.1', '10.0.1.1, 10.0.1.2', '42', '9000', 'eno1,eno2', '52:54:00:12:34:56, eno2'),
);

test('property: a [rule] refuses net_address and net_gateway whenever written, then a MAC in net_bond, and accepts the rest', () => {
  fc.assert(
    fc.property(
      fc.record({ netAddress: value, netGateway: value, netDns: value, netBond: value, netVlan: value, netMtu: value }, { requiredKeys: [] }),
      (keys) => {
        const problem = ruleNetworkProblem(keys);
        const written = (f: NetworkField) => (keys[f] ?? '').trim() !== '';
        if (written('netAddress'))
          return problem?.key === 'net_address' && /put net_address in the machine's \[host <mac>\] section or its enrolment/.test(problem.reason);
        if (written('netGateway')) return problem?.key === 'net_gateway';
        const byMac = (keys.netBond ?? '').split(',').some((m) => /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/i.test(m.trim()));
        return byMac ? problem?.key === 'net_bond' && problem.reason.includes('one machine') : problem === null;
      },
    ),
    { numRuns: 1000 },
  );
});

test('property: a bond by NIC names, a VLAN and an MTU are fine in a rule; a bond with any member given by MAC is not', () => {
  fc.assert(
    fc.property(fc.array(nicName, { minLength: 2, maxLength: 4 }), mac, fc.nat({ max: 3 }), (names, member, at) => {
      assert.equal(ruleNetworkProblem({ netBond: names.join(', '), netVlan: '42', netMtu: '9000', netDns: '10.0.1.1' }), null);
      const withMac = [...names];
      withMac.splice(at % (names.length + 1), 0, member);
      assert.equal(ruleNetworkProblem({ netBond: withMac.join(',') })?.field, 'netBond');
    }),
    { numRuns: 300 },
  );
});

test('property: the enrolment’s JSON keys never throw; what is accepted reads as a [host] would, what is refused names one of its keys', () => {
  const jsonValue = fc.oneof(value, fc.jsonValue({ maxDepth: 2 }));
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom(...FIELDS, 'other'), jsonValue), (body) => {
      const read = readNetworkJson(body);
      if (!read.ok) {
        assert.ok(FIELDS.includes(read.field) && Object.hasOwn(body, read.field), `${read.field} is a key of the body`);
        assert.ok(read.reason.length > 0);
        return;
      }
      // Accepted: every key given was text (or null), and what is kept is the set keys, trimmed, reading as they did.
      for (const f of FIELDS) {
        const given = body[f];
        assert.ok(given === undefined || given === null || typeof given === 'string');
        assert.equal(read.keys[f], typeof given === 'string' && given.trim() ? given.trim() : undefined);
      }
      assert.ok(readNetworkKeys(read.keys).ok);
    }),
    { numRuns: 1000 },
  );
});

test('the enrolment’s JSON: a value that is not text, or that a [host] would refuse, is refused naming the key', () => {
  assert.deepEqual(readNetworkJson({ netVlan: 42 }), { ok: false, field: 'netVlan', reason: 'expected text, as net_vlan is written in a [host] section' });
  const vlan = readNetworkJson({ netVlan: '5000' });
  assert.ok(!vlan.ok && vlan.field === 'netVlan' && /vlan 5000 is not a VLAN id/.test(vlan.reason));
  const gateway = readNetworkJson({ netGateway: '10.0.1.1' });
  assert.ok(!gateway.ok && gateway.field === 'netGateway' && /a gateway without an address/.test(gateway.reason));
  assert.deepEqual(readNetworkJson({ netAddress: ' 10.0.1.27/24 ', netGateway: '10.0.1.1', netMtu: null }), {
    ok: true,
    keys: { netAddress: '10.0.1.27/24', netGateway: '10.0.1.1' },
  });
});
