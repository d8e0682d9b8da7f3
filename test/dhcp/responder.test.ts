// The server's decisions for crafted requests: PXE firmware of each kind, iPXE, relays,
// the RFC 2131 REQUEST states, DECLINE, RELEASE, reservations and an exhausted pool.
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import type { HostEntry, Profile } from '../../src/config/profile.ts';
import { LeaseAllocator } from '../../src/dhcp/allocator.ts';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { Opt } from '../../src/dhcp/options.ts';
import { poolFromProfile } from '../../src/dhcp/pool.ts';
import { DhcpResponder, type Handled } from '../../src/dhcp/responder.ts';
import { Store } from '../../src/store/store.ts';
import { dhcpRequest, T, type RequestShape } from '../helpers/dhcp-packets.ts';
import { lan } from '../helpers/lab-addresses.ts';

const SERVER = lan.server;
const A = '52:54:00:00:00:0a';
const B = '52:54:00:00:00:0b';
const C = '52:54:00:00:00:0c';

function labProfile(hosts: HostEntry[] = [], boot: Partial<Profile['boot']> = {}): Profile {
  return testProfile({
    server: { address: SERVER, interface: 'br0' },
    http: { port: 8080 },
    dhcp: {
      mode: 'server',
      rangeStart: '10.77.0.100',
      rangeEnd: '10.77.0.103',
      netmask: '255.255.255.0',
      router: SERVER,
      dns: [SERVER],
      domain: 'lab.test',
      leaseTime: 600,
    },
    boot,
    hosts,
  });
}

class Harness {
  readonly store = Store.open(':memory:');
  readonly leases = this.store.leases;
  readonly allocator: LeaseAllocator;
  readonly responder: DhcpResponder;
  now = 1_000_000;

  constructor(readonly profile: Profile) {
    const pool = poolFromProfile(profile);
    assert.ok(pool.ok, pool.ok ? '' : pool.reason);
    this.allocator = new LeaseAllocator(pool.pool, { offerHoldMs: 30_000, leaseMs: 600_000, quarantineMs: 600_000 }, this.leases.all());
    this.responder = new DhcpResponder({ profile, pool: pool.pool, serverPort: 67 }, this.allocator, this.store);
  }

  /** Sends a request through the codec both ways and commits what the server would commit. */
  send(shape: RequestShape): Handled {
    const parsed = parseDhcp(encodeDhcp(dhcpRequest(shape)));
    assert.ok(parsed.ok);
    const h = this.responder.handle(parsed.packet, this.now);
    // In memory: nothing to wait for on disk.
    void this.leases.commit(() => {
      for (const w of h.writes) 'put' in w ? this.leases.put(w.put) : this.leases.delete(w.delete);
    });
    if (h.reply) {
      // What leaves must itself parse.
      const wire = parseDhcp(encodeDhcp(h.reply.packet));
      assert.ok(wire.ok);
    }
    return h;
  }

  /** DISCOVER, then REQUEST of what was offered. */
  lease(mac: string, extra: Partial<RequestShape> = {}): string {
    const offer = this.send({ mac, type: T.DISCOVER, ...extra });
    assert.equal(offer.event.decision, 'offer', offer.event.reason);
    const ip = offer.reply!.packet.yiaddr;
    const ack = this.send({ mac, type: T.REQUEST, serverId: SERVER, requested: ip, ...extra });
    assert.equal(ack.event.decision, 'ack', ack.event.reason);
    return ip;
  }
}

describe('DHCP responder: boot fields per firmware', () => {
  const cases: [string, Partial<RequestShape>, string, string | undefined][] = [
    ['PXE BIOS (arch 0)', { arch: 0 }, 'undionly.kpxe', 'PXEClient'],
    ['PXE UEFI IA32 (arch 6)', { arch: 6 }, 'ipxe-i386.efi', 'PXEClient'],
    ['PXE UEFI x64 (arch 7)', { arch: 7 }, 'snponly.efi', 'PXEClient'],
    ['PXE UEFI x64 (arch 9)', { arch: 9 }, 'snponly.efi', 'PXEClient'],
    ['PXE UEFI ARM64 (arch 11)', { arch: 11 }, 'ipxe-arm64.efi', 'PXEClient'],
    ['UEFI HTTP boot x64 (arch 16)', { arch: 16 }, 'http://10.77.0.1:8080/ipxe/snponly.efi', 'HTTPClient'],
    ['iPXE already running', { arch: 7, ipxe: true }, 'http://10.77.0.1:8080/boot.ipxe', 'PXEClient'],
  ];
  for (const [name, shape, file, vendorClass] of cases) {
    test(`${name} → ${file}`, () => {
      const h = new Harness(labProfile());
      const offer = h.send({ mac: A, type: T.DISCOVER, ...shape });
      const reply = offer.reply!.packet;
      assert.equal(reply.options.read('messageType'), T.OFFER);
      assert.equal(reply.yiaddr, '10.77.0.100');
      assert.equal(reply.siaddr, SERVER);
      assert.equal(reply.file, file);
      assert.equal(reply.options.read('bootFile'), file);
      // Option 66 names a TFTP server: only for a file fetched by TFTP.
      assert.equal(reply.options.read('tftpServer'), file.startsWith('http') ? undefined : SERVER);
      assert.equal(reply.options.read('vendorClass'), vendorClass);
      assert.equal(reply.options.read('serverId'), SERVER);
      assert.equal(reply.options.read('proxmoxAnswerUrl'), 'http://10.77.0.1:8080/answer');
      // Discovery control 8 only where the firmware does PXE discovery.
      const pxe = reply.options.read('pxeVendorOptions');
      assert.deepEqual(pxe?.get(6), vendorClass === 'PXEClient' ? Buffer.from([8]) : undefined);
      assert.deepEqual(offer.event.detail, { xid: '0x2a2a0001', ip: '10.77.0.100', arch: shape.arch, bootFile: file });
      assert.equal(offer.reply!.destination.address, '255.255.255.255');
      assert.equal(offer.reply!.destination.port, 68);
    });
  }

  test('a client that is not PXE gets a plain lease with network options and no boot fields', () => {
    const h = new Harness(labProfile());
    const offer = h.send({ mac: A, type: T.DISCOVER, vendorClass: 'udhcp 1.36.1' });
    const reply = offer.reply!.packet;
    assert.equal(reply.file, '');
    assert.equal(reply.siaddr, '0.0.0.0');
    assert.equal(reply.options.has(Opt.bootFile), false);
    assert.equal(reply.options.read('subnetMask'), '255.255.255.0');
    assert.deepEqual(reply.options.read('routers'), [SERVER]);
    assert.deepEqual(reply.options.read('dnsServers'), [SERVER]);
    assert.equal(reply.options.read('domainName'), 'lab.test');
    assert.equal(reply.options.read('leaseTime'), 600);
    assert.equal(reply.options.read('renewalTime'), 300);
    assert.equal(reply.options.read('rebindingTime'), 525);
    assert.match(offer.event.reason, /no boot fields: no option 93/);
  });

  test('a policy decision of ignore still leases, without boot fields', () => {
    const h = new Harness(labProfile([], { unknown: 'ignore' }));
    const offer = h.send({ mac: A, type: T.DISCOVER, arch: 7 });
    assert.equal(offer.event.decision, 'offer');
    assert.equal(offer.reply!.packet.options.has(Opt.bootFile), false);
    assert.match(offer.event.reason, /unknown = ignore/);
  });
});

describe('DHCP responder: leases and RFC 2131 states', () => {
  let h: Harness;
  beforeEach(() => {
    h = new Harness(labProfile([hostEntry(C, { ip: '10.77.0.200', hostname: 'node-c' }), hostEntry('52:54:00:00:00:0d', { ip: '10.77.0.101' })]));
  });

  test('DISCOVER → OFFER → REQUEST → ACK commits a lease; two clients never share an address', () => {
    const a = h.lease(A);
    const b = h.lease(B);
    assert.notEqual(a, b);
    assert.deepEqual(
      h.leases.all().map((l) => [l.ip, l.mac, l.state]),
      [
        [a, A, 'bound'],
        [b, B, 'bound'],
      ].sort(),
    );
    // 10.77.0.101 is reserved for another MAC: never handed out from the pool.
    assert.ok(![a, b].includes('10.77.0.101'));
  });

  test('a reservation is honoured, with its hostname, even outside the range', () => {
    const offer = h.send({ mac: C, type: T.DISCOVER });
    assert.equal(offer.reply!.packet.yiaddr, '10.77.0.200');
    assert.equal(offer.reply!.packet.options.read('hostname'), 'node-c');
    assert.equal(h.lease(C), '10.77.0.200');
    const stolen = h.send({ mac: A, type: T.REQUEST, requested: '10.77.0.200' });
    assert.equal(stolen.event.decision, 'nak');
    assert.match(stolen.event.reason, /reserved for 52:54:00:00:00:0c/);
  });

  test('REQUEST naming another server: silence, and our offer goes back to the pool', () => {
    const offer = h.send({ mac: A, type: T.DISCOVER });
    const ip = offer.reply!.packet.yiaddr;
    const held = h.send({ mac: B, type: T.REQUEST, serverId: SERVER, requested: ip });
    assert.equal(held.event.decision, 'nak');
    assert.match(held.event.reason, /offered to another client/);
    const other = h.send({ mac: A, type: T.REQUEST, serverId: '10.77.0.9', requested: '10.77.0.50' });
    assert.equal(other.reply, undefined);
    assert.equal(other.event.decision, 'silence');
    assert.match(other.event.reason, /REQUEST for server 10\.77\.0\.9: not us; our offer of 10\.77\.0\.100 goes back/);
    assert.equal(h.send({ mac: B, type: T.REQUEST, serverId: SERVER, requested: ip }).event.decision, 'ack');
  });

  test('SELECTING for an address another client holds is NAKed, broadcast', () => {
    const a = h.lease(A);
    const nak = h.send({ mac: B, type: T.REQUEST, serverId: SERVER, requested: a });
    assert.equal(nak.reply!.packet.options.read('messageType'), T.NAK);
    assert.equal(nak.reply!.packet.yiaddr, '0.0.0.0');
    assert.equal(nak.reply!.destination.address, '255.255.255.255');
    assert.match(nak.event.reason, /leased to 52:54:00:00:00:0a/);
  });

  test('INIT-REBOOT: known address ACKed, wrong one NAKed, other network NAKed, unknown client silent', () => {
    const a = h.lease(A);
    assert.equal(h.send({ mac: A, type: T.REQUEST, requested: a }).event.decision, 'ack');
    const wrong = h.send({ mac: A, type: T.REQUEST, requested: '10.77.0.103' });
    assert.equal(wrong.event.decision, 'nak');
    assert.match(wrong.event.reason, /our record gives it/);
    assert.equal(h.send({ mac: A, type: T.REQUEST, requested: '192.168.7.7' }).event.decision, 'nak');
    const stranger = h.send({ mac: B, type: T.REQUEST, requested: '10.77.0.103' });
    assert.equal(stranger.event.decision, 'silence');
    assert.match(stranger.event.reason, /no record of this client/);
  });

  test("RENEWING is unicast to ciaddr and extends the lease; renewing another client's address is NAKed", () => {
    const a = h.lease(A);
    const before = h.leases.get(a)!.expiresAt;
    h.now += 300_000;
    const renew = h.send({ mac: A, type: T.REQUEST, ciaddr: a });
    assert.equal(renew.event.decision, 'ack');
    assert.match(renew.event.reason, /^RENEWING/);
    assert.deepEqual([renew.reply!.destination.address, renew.reply!.destination.port], [a, 68]);
    assert.equal(renew.reply!.packet.ciaddr, a);
    assert.ok(h.leases.get(a)!.expiresAt > before);
    const theft = h.send({ mac: B, type: T.REQUEST, ciaddr: a, broadcast: true });
    assert.equal(theft.event.decision, 'nak');
    assert.match(theft.event.reason, /^REBINDING/);
  });

  test('DECLINE quarantines the address; RELEASE frees it and the client gets it back', () => {
    const a = h.lease(A);
    assert.equal(h.send({ mac: A, type: T.DECLINE, serverId: SERVER, requested: a }).event.decision, 'declined');
    assert.equal(h.leases.get(a)!.state, 'declined');
    const next = h.lease(A);
    assert.notEqual(next, a);
    assert.notEqual(h.lease(B), a);
    assert.equal(h.send({ mac: A, type: T.RELEASE, serverId: SERVER, ciaddr: next }).event.decision, 'released');
    assert.equal(h.leases.get(next)!.state, 'released');
    assert.equal(h.lease(A), next);
  });

  test('a relayed request is answered to the relay on port 67; a foreign subnet gets silence', () => {
    const offer = h.send({ mac: A, type: T.DISCOVER, giaddr: '10.77.0.254', arch: 0 });
    assert.deepEqual([offer.reply!.destination.address, offer.reply!.destination.port], ['10.77.0.254', 67]);
    assert.equal(offer.reply!.packet.giaddr, '10.77.0.254');
    const foreign = h.send({ mac: B, type: T.DISCOVER, giaddr: '172.31.0.1' });
    assert.equal(foreign.reply, undefined);
    assert.match(foreign.event.reason, /relayed by 172\.31\.0\.1: no pool for that subnet/);
  });

  test('INFORM gets configuration, no address and no lease time, unicast to ciaddr', () => {
    const inform = h.send({ mac: A, type: T.INFORM, ciaddr: '10.77.0.50', arch: 7 });
    const reply = inform.reply!.packet;
    assert.equal(reply.options.read('messageType'), T.ACK);
    assert.equal(reply.yiaddr, '0.0.0.0');
    assert.equal(reply.options.read('leaseTime'), undefined);
    assert.equal(reply.options.read('bootFile'), 'snponly.efi');
    assert.equal(inform.reply!.destination.address, '10.77.0.50');
    assert.equal(h.leases.all().length, 0);
  });

  test('an exhausted pool gets silence with a reason, and frees up when leases expire', () => {
    const macs = ['01', '02', '03', '04', '05'].map((n) => `52:54:00:00:01:${n}`);
    for (const mac of macs.slice(0, 3)) h.lease(mac); // range has 4 addresses, one reserved for another MAC
    const full = h.send({ mac: macs[3]!, type: T.DISCOVER });
    assert.equal(full.reply, undefined);
    assert.equal(full.exhausted, true);
    assert.match(full.event.reason, /pool 10\.77\.0\.100-10\.77\.0\.103 is exhausted/);
    h.now += 600_001;
    assert.equal(h.send({ mac: macs[4]!, type: T.DISCOVER }).event.decision, 'offer');
  });

  test('option 61 names the client: a new NIC with the same client id keeps the address', () => {
    const id = Buffer.from([0xff, 1, 2, 3, 4]);
    const a = h.lease(A, { clientId: id });
    assert.equal(h.send({ mac: B, type: T.DISCOVER, clientId: id }).reply!.packet.yiaddr, a);
  });

  test('no request sequence breaks the invariants: never one address for two clients, never a reserved one to another', () => {
    const macs = [A, B, C, '52:54:00:00:00:0d', '52:54:00:00:00:0e'];
    const ips = ['10.77.0.100', '10.77.0.101', '10.77.0.102', '10.77.0.103', '10.77.0.200', '10.77.0.5', '192.168.1.1'];
    const step = fc.record({
      mac: fc.constantFrom(...macs),
      type: fc.constantFrom(T.DISCOVER, T.REQUEST, T.DECLINE, T.RELEASE, T.INFORM),
      requested: fc.option(fc.constantFrom(...ips), { nil: undefined }),
      ciaddr: fc.option(fc.constantFrom(...ips), { nil: undefined }),
      serverId: fc.option(fc.constantFrom(SERVER, '10.77.0.9'), { nil: undefined }),
      advance: fc.nat(400_000),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const run = new Harness(h.profile);
        const bound = new Map<string, string>(); // ip → mac, from ACKs
        for (const s of steps) {
          run.now += s.advance;
          const r = run.send(s);
          if (r.event.decision !== 'ack' || !r.reply || r.reply.packet.yiaddr === '0.0.0.0') continue;
          const ip = r.reply.packet.yiaddr;
          const holder = bound.get(ip);
          const lease = run.leases.get(ip)!;
          assert.equal(lease.mac, s.mac);
          if (holder && holder !== s.mac) {
            // Only allowed once the previous holder's lease is over.
            assert.ok(!run.leases.all().some((l) => l.ip === ip && l.mac === holder && l.state === 'bound' && l.expiresAt > run.now));
          }
          const reservedFor = run.profile.hosts.get(s.mac)?.ip;
          if (ip === '10.77.0.101') assert.equal(s.mac, '52:54:00:00:00:0d');
          if (ip === '10.77.0.200') assert.equal(s.mac, C, `reserved address went to ${s.mac} (${reservedFor})`);
          bound.set(ip, s.mac);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('garbage and replies get a named silence', () => {
    const reply = dhcpRequest({ mac: A, type: T.OFFER });
    reply.op = 2;
    assert.match(h.responder.handle(reply, h.now).event.reason, /BOOTREPLY/);
    const bootp = dhcpRequest({ mac: A, type: T.DISCOVER });
    bootp.options.delete(Opt.messageType);
    assert.match(h.responder.handle(bootp, h.now).event.reason, /without option 53/);
    const token = dhcpRequest({ mac: A, type: T.DISCOVER });
    token.htype = 6;
    assert.match(h.responder.handle(token, h.now).event.reason, /no Ethernet hardware address/);
  });
});
