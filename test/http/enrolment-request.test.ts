// The enrolment request parser (PUT /nodes/<mac>/enrolment): total over any JSON, every refusal
// says why, and what it accepts is what was asked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ENROL_ACTIONS, parseEnrolmentRequest } from '../../src/http/enrolment.ts';

test('any JSON is accepted or refused with a reason; it never throws', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
      const r = parseEnrolmentRequest(v);
      if (!r.ok) assert.match(r.error, /^enrolment: \S/);
    }),
    { numRuns: 1000 },
  );
});

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);

test('a valid request round-trips: the hostname, profile, action, install and a deploy’s keys asked for', () => {
  const request = fc.record(
    {
      hostname: fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.')),
      profile: fc.tuple(label, label).map(([p, v]) => `${p}/${v}`),
      action: fc.constantFrom(...ENROL_ACTIONS),
      install: fc.boolean(),
      createBmcUser: fc.boolean(),
      netVlan: fc.integer({ min: 1, max: 4094 }).map(String),
      netMtu: fc.integer({ min: 576, max: 9216 }).map(String),
      netDns: fc.array(fc.ipV4(), { minLength: 1, maxLength: 3 }).map((a) => a.join(', ')),
      installDisk: fc.constantFrom('smallest-ssd', 'largest', 'serial:S3Z9NX0N123456', 'model:*NVMe*'),
    },
    { requiredKeys: ['hostname', 'profile'] },
  );
  fc.assert(
    fc.property(request, (body) => {
      const r = parseEnrolmentRequest(body);
      const action = body.action ?? 'install';
      if (body.install === true && action !== 'install' && action !== 'deploy') {
        assert.ok(!r.ok && /install: true arms an install or a deploy/.test(r.error));
        return;
      }
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.deepEqual(r.value, {
        hostname: body.hostname,
        profile: body.profile,
        action,
        bmc: null,
        install: body.install === true,
        createBmcUser: body.createBmcUser === true,
        network: {
          ...(body.netDns !== undefined ? { netDns: body.netDns } : {}),
          ...(body.netVlan !== undefined ? { netVlan: body.netVlan } : {}),
          ...(body.netMtu !== undefined ? { netMtu: body.netMtu } : {}),
        },
        installDisk: body.installDisk ?? null,
      });
    }),
    { numRuns: 500 },
  );
});

test('createBmcUser: a boolean, and not beside a bmc (the created user sets it)', () => {
  const base = { hostname: 'rr1', action: 'local' };
  const yes = parseEnrolmentRequest({ ...base, createBmcUser: true });
  assert.ok(yes.ok && yes.value.createBmcUser);
  const both = parseEnrolmentRequest({ ...base, createBmcUser: true, bmc: 'ipmi://10.0.0.5' });
  assert.ok(!both.ok && /give bmc or createBmcUser, not both/.test(both.error));
  const text = parseEnrolmentRequest({ ...base, createBmcUser: 'true' });
  assert.ok(!text.ok && /createBmcUser must be true or false/.test(text.error));
});

test('any value put in any key of a valid request is accepted or refused with a reason', () => {
  const keys = fc.constantFrom(
    'hostname',
    'profile',
    'action',
    'bmc',
    'install',
    'createBmcUser',
    'netAddress',
    'netGateway',
    'netDns',
    'netBond',
    'netVlan',
    'netMtu',
    'installDisk',
    'other',
  );
  fc.assert(
    fc.property(keys, fc.jsonValue({ maxDepth: 2 }), (key, value) => {
      const r = parseEnrolmentRequest({ hostname: 'h1', profile: 'proxmox-ve/9.1-1', action: 'install', [key]: value });
      if (!r.ok) assert.match(r.error, /^enrolment: \S/);
      else assert.equal(r.value.hostname.length > 0, true);
    }),
    { numRuns: 1000 },
  );
});

test('a BMC URL is accepted through the power module’s parser and refused with its reason', () => {
  const ok = parseEnrolmentRequest({ hostname: 'h1', action: 'local', bmc: 'redfish://bmc1.lab.example' });
  assert.ok(ok.ok && ok.value.bmc?.startsWith('redfish://bmc1.lab.example'));
  const bad = parseEnrolmentRequest({ hostname: 'h1', action: 'local', bmc: 'ftp://x' });
  assert.ok(!bad.ok && /^enrolment: bmc: /.test(bad.error));
});
