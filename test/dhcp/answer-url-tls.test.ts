// Server mode hands the Proxmox installer its answer URL (option 250) and, with HTTPS on, the
// certificate fingerprint to pin (option 251), so an ISO with nothing baked in still checks it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testProfile } from '../helpers/profile.ts';
import type { Profile } from '../../src/config/profile.ts';
import { LeaseAllocator } from '../../src/dhcp/allocator.ts';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { poolFromProfile } from '../../src/dhcp/pool.ts';
import { DhcpResponder } from '../../src/dhcp/responder.ts';
import { Store } from '../../src/store/store.ts';
import { dhcpRequest, T } from '../helpers/dhcp-packets.ts';

const SERVER = '10.77.0.1';
const FP = 'AB:'.repeat(31) + 'CD';

function offerTo(profile: Profile) {
  const store = Store.open(':memory:');
  const pool = poolFromProfile(profile);
  assert.ok(pool.ok);
  const allocator = new LeaseAllocator(pool.pool, { offerHoldMs: 30_000, leaseMs: 600_000, quarantineMs: 600_000 }, store.leases.all());
  const responder = new DhcpResponder({ profile, pool: pool.pool, serverPort: 67 }, allocator, store);
  const parsed = parseDhcp(encodeDhcp(dhcpRequest({ mac: '52:54:00:00:00:0a', type: T.DISCOVER, arch: 7 })));
  assert.ok(parsed.ok);
  const reply = responder.handle(parsed.packet, 1_000_000).reply!.packet;
  // What leaves must parse, options 250 and 251 included.
  const wire = parseDhcp(encodeDhcp(reply));
  assert.ok(wire.ok);
  store.close();
  return wire.packet;
}

function profile(https: Partial<Profile['https']>): Profile {
  return testProfile({
    server: { address: SERVER, interface: 'br0' },
    http: { port: 8080 },
    https,
    dhcp: { mode: 'server', rangeStart: '10.77.0.100', rangeEnd: '10.77.0.110', netmask: '255.255.255.0' },
  });
}

test('with HTTPS on, option 250 is the https:// answer URL and option 251 the fingerprint', () => {
  const reply = offerTo(profile({ enabled: true, port: 8443, fingerprint: FP }));
  assert.equal(reply.options.read('proxmoxAnswerUrl'), `https://${SERVER}:8443/answer`);
  assert.equal(reply.options.read('proxmoxCertFingerprint'), FP);
});

test('on port 443 the URL carries no port', () => {
  const reply = offerTo(profile({ enabled: true, port: 443, fingerprint: FP }));
  assert.equal(reply.options.read('proxmoxAnswerUrl'), `https://${SERVER}/answer`);
});

test('with HTTPS off, option 250 stays http:// and there is no option 251', () => {
  const reply = offerTo(profile({ enabled: false }));
  assert.equal(reply.options.read('proxmoxAnswerUrl'), `http://${SERVER}:8080/answer`);
  assert.equal(reply.options.read('proxmoxCertFingerprint'), undefined);
});
