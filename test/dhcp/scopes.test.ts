// Server mode behind a DHCP relay: a relayed request (giaddr set) is served from the [scope]
// whose subnet holds the giaddr, with that LAN's router, netmask and DNS, answered to the relay
// on port 67; leases are kept per scope across a restart; a relay no scope covers gets silence.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseProfile } from '../../src/config/load.ts';
import type { Profile } from '../../src/config/profile.ts';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { Opt } from '../../src/dhcp/options.ts';
import { DhcpResponder, type Handled } from '../../src/dhcp/responder.ts';
import { poolsFromProfile, ScopeTable } from '../../src/dhcp/scopes.ts';
import { Store } from '../../src/store/store.ts';
import { explainMac } from '../../src/explain.ts';
import { dhcpRequest, T, type RequestShape } from '../helpers/dhcp-packets.ts';

const SERVER = '10.77.0.1';
const RELAY = '10.78.0.1';
const A = '52:54:00:00:78:0a';
const B = '52:54:00:00:78:0b';
const C = '52:54:00:00:78:0c';
const FILE = '/etc/pxe-pilot/relay.ini';
const opts = { interfaces: [{ name: 'br0', address: SERVER, netmask: '255.255.255.0', internal: false }], interfaceExists: () => true };

const INI = [
  '[server]',
  `address = ${SERVER}`,
  'interface = br0',
  '[http]',
  'port = 8080',
  '[https]',
  'enabled = false',
  '[dhcp]',
  'mode = server',
  'range_start = 10.77.0.100',
  'range_end = 10.77.0.199',
  'netmask = 255.255.255.0',
  `router = ${SERVER}`,
  'dns = 10.77.0.53',
  'domain = lab.test',
  '[scope far]',
  'subnet = 10.78.0.0/24',
  'range_start = 10.78.0.100',
  'range_end = 10.78.0.101',
  `router = ${RELAY}`,
  '[scope other]',
  'subnet = 10.79.0.0/16',
  'range_start = 10.79.3.10',
  'range_end = 10.79.3.20',
  'router = 10.79.0.1',
  'dns = 10.79.0.53',
  'domain = other.test',
  `[host ${C}]`,
  'ip = 10.78.0.150',
  'action = local',
  '',
].join('\n');

class Harness {
  readonly profile: Profile = parseProfile(INI, FILE, opts);
  readonly store: Store;
  scopes!: ScopeTable;
  responder!: DhcpResponder;
  now = 1_000_000;

  constructor(store = Store.open(':memory:')) {
    this.store = store;
    this.restart();
  }

  /** What the server does at start: the pools from the profile, the leases from the store. */
  restart(): void {
    const pools = poolsFromProfile(this.profile);
    assert.ok(pools.ok, pools.ok ? '' : pools.reason);
    this.scopes = new ScopeTable(pools, { offerHoldMs: 30_000, leaseMs: 600_000, quarantineMs: 600_000 }, this.store.leases.all());
    this.responder = new DhcpResponder(
      { profile: this.profile, pool: this.scopes.local.pool, relayed: this.scopes.relayed, serverPort: 67 },
      this.scopes.local.allocator,
      this.store,
    );
  }

  send(shape: RequestShape): Handled {
    const parsed = parseDhcp(encodeDhcp(dhcpRequest(shape)));
    assert.ok(parsed.ok);
    const h = this.responder.handle(parsed.packet, this.now);
    // In memory: nothing to wait for on disk.
    void this.store.leases.commit(() => {
      for (const w of h.writes) 'put' in w ? this.store.leases.put(w.put) : this.store.leases.delete(w.delete);
    });
    this.store.record({ ...h.event, protocol: 'dhcp' });
    return h;
  }

  /** DISCOVER and REQUEST through the relay at `giaddr`; the address the client ends up with. */
  lease(mac: string, giaddr: string | undefined): string {
    const offer = this.send({ mac, type: T.DISCOVER, arch: 0, giaddr });
    assert.equal(offer.event.decision, 'offer', offer.event.reason);
    const ip = offer.reply!.packet.yiaddr;
    const ack = this.send({ mac, type: T.REQUEST, arch: 0, serverId: SERVER, requested: ip, giaddr });
    assert.equal(ack.event.decision, 'ack', ack.event.reason);
    return ip;
  }
}

describe('DHCP server behind a relay', () => {
  test("a relayed DISCOVER is offered an address of the relay's scope, with that LAN's mask and router, our next-server, sent to the relay on 67", () => {
    const h = new Harness();
    const offer = h.send({ mac: A, type: T.DISCOVER, arch: 0, giaddr: RELAY });
    const reply = offer.reply!.packet;
    assert.equal(reply.yiaddr, '10.78.0.100');
    assert.equal(reply.giaddr, RELAY);
    assert.equal(reply.options.read('subnetMask'), '255.255.255.0');
    assert.equal(reply.options.read('broadcastAddress'), '10.78.0.255');
    assert.deepEqual(reply.options.read('routers'), [RELAY]);
    // No DNS of its own: [dhcp] dns and domain.
    assert.deepEqual(reply.options.read('dnsServers'), ['10.77.0.53']);
    assert.equal(reply.options.read('domainName'), 'lab.test');
    // TFTP and HTTP stay on this host.
    assert.equal(reply.siaddr, SERVER);
    assert.equal(reply.options.read('serverId'), SERVER);
    assert.equal(reply.file, 'undionly.kpxe');
    assert.deepEqual(offer.reply!.destination, { address: RELAY, port: 67, why: `unicast to relay ${RELAY}` });
    assert.equal(offer.event.detail.scope, '[scope far]');
    assert.equal(offer.event.detail.relay, RELAY);
  });

  test('the scope is chosen by the giaddr network: each relay gets its own pool and options; a local client the [dhcp] pool', () => {
    const h = new Harness();
    assert.equal(h.lease(A, RELAY), '10.78.0.100');
    const other = h.send({ mac: B, type: T.DISCOVER, arch: 0, giaddr: '10.79.200.7' });
    assert.equal(other.reply!.packet.yiaddr, '10.79.3.10');
    assert.equal(other.reply!.packet.options.read('subnetMask'), '255.255.0.0');
    assert.deepEqual(other.reply!.packet.options.read('routers'), ['10.79.0.1']);
    assert.deepEqual(other.reply!.packet.options.read('dnsServers'), ['10.79.0.53']);
    assert.equal(other.reply!.packet.options.read('domainName'), 'other.test');
    assert.equal(other.reply!.destination.address, '10.79.200.7');
    const local = h.send({ mac: B, type: T.DISCOVER, arch: 0 });
    assert.equal(local.reply!.packet.yiaddr, '10.77.0.100');
    assert.deepEqual(local.reply!.packet.options.read('routers'), [SERVER]);
    assert.equal(local.reply!.destination.address, '255.255.255.255');
  });

  test('leases are kept per scope: a full far scope leaves the local pool untouched, and a restart gives each client its address back', () => {
    const h = new Harness();
    assert.equal(h.lease(A, RELAY), '10.78.0.100');
    assert.equal(h.lease(B, RELAY), '10.78.0.101');
    const full = h.send({ mac: '52:54:00:00:78:0d', type: T.DISCOVER, arch: 0, giaddr: RELAY });
    assert.equal(full.reply, undefined);
    assert.match(full.event.reason, /pool 10\.78\.0\.100-10\.78\.0\.101 is exhausted/);
    assert.equal(h.lease('52:54:00:00:78:0d', undefined), '10.77.0.100');
    const stored = h.store.leases.all().map((l) => `${l.mac} ${l.ip}`);
    assert.deepEqual(stored.sort(), [`${A} 10.78.0.100`, `${B} 10.78.0.101`, '52:54:00:00:78:0d 10.77.0.100'].sort());

    h.restart();
    const again = h.send({ mac: B, type: T.DISCOVER, arch: 0, giaddr: RELAY });
    assert.equal(again.reply!.packet.yiaddr, '10.78.0.101');
    assert.match(again.event.reason, /this client's current lease/);
  });

  test('a reload that adds a scope serves its relay at once; a scope kept keeps its offers and leases', () => {
    const h = new Harness();
    assert.equal(h.lease(A, RELAY), '10.78.0.100');
    const held = h.send({ mac: B, type: T.DISCOVER, arch: 0, giaddr: RELAY });
    assert.equal(held.reply!.packet.yiaddr, '10.78.0.101');
    const unknownRelay = '10.90.0.1';
    assert.equal(h.send({ mac: C, type: T.DISCOVER, arch: 0, giaddr: unknownRelay }).event.code, 'no-scope');

    const reloaded = parseProfile(`${INI}[scope new]\nsubnet = 10.90.0.0/24\nrange_start = 10.90.0.10\nrange_end = 10.90.0.20\n`, FILE, opts);
    const pools = poolsFromProfile(reloaded);
    assert.ok(pools.ok);
    h.scopes.reconfigure(pools, { offerHoldMs: 30_000, leaseMs: 600_000, quarantineMs: 600_000 }, () => h.store.leases.all());
    h.responder.reconfigure({ profile: reloaded, pool: h.scopes.local.pool, relayed: h.scopes.relayed, serverPort: 67 });

    assert.equal(h.send({ mac: C, type: T.DISCOVER, arch: 0, giaddr: unknownRelay }).reply!.packet.yiaddr, '10.90.0.10');
    // The far scope's offer to B is still held for B, so another client gets nothing there.
    const other = h.send({ mac: '52:54:00:00:78:0e', type: T.DISCOVER, arch: 0, giaddr: RELAY });
    assert.match(other.event.reason, /exhausted/);
    assert.equal(h.send({ mac: A, type: T.DISCOVER, arch: 0, giaddr: RELAY }).reply!.packet.yiaddr, '10.78.0.100');
  });

  test('a reservation in a scope subnet is offered through that relay', () => {
    const h = new Harness();
    const offer = h.send({ mac: C, type: T.DISCOVER, arch: 0, giaddr: RELAY });
    assert.equal(offer.reply!.packet.yiaddr, '10.78.0.150');
    assert.match(offer.event.reason, /reserved for/);
  });

  test('REQUEST states through the relay: SELECTING acks, INIT-REBOOT for another scope is NAKed with the broadcast bit, to the relay', () => {
    const h = new Harness();
    const ip = h.lease(A, RELAY);
    const reboot = h.send({ mac: A, type: T.REQUEST, arch: 0, requested: ip, giaddr: RELAY });
    assert.equal(reboot.event.decision, 'ack', reboot.event.reason);
    // The machine moved to the other relay's LAN with its old address.
    const moved = h.send({ mac: A, type: T.REQUEST, arch: 0, requested: ip, giaddr: '10.79.0.1' });
    assert.equal(moved.event.decision, 'nak');
    assert.match(moved.event.reason, /10\.78\.0\.100 is not in this network \(10\.79\.0\.0\/16\)/);
    assert.equal(moved.reply!.destination.address, '10.79.0.1');
    assert.ok(moved.reply!.packet.flags & 0x8000);
  });

  test('relay agent information (option 82) goes back to the relay unchanged', () => {
    const h = new Harness();
    const request = dhcpRequest({ mac: A, type: T.DISCOVER, arch: 0, giaddr: RELAY });
    const info = Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x30]);
    request.options.set(Opt.relayAgentInfo, info);
    const parsed = parseDhcp(encodeDhcp(request));
    assert.ok(parsed.ok);
    const reply = h.responder.handle(parsed.packet, h.now).reply!.packet;
    assert.deepEqual(parseDhcp(encodeDhcp(reply)).ok && reply.options.get(Opt.relayAgentInfo), info);
  });

  test('a relay whose subnet has no scope: silence, an event coded no-scope that names the relay, and explain says what to add', () => {
    const h = new Harness();
    const mac = '52:54:00:00:78:ee';
    const lost = h.send({ mac, type: T.DISCOVER, arch: 0, giaddr: '172.31.0.1' });
    assert.equal(lost.reply, undefined);
    assert.deepEqual(lost.writes, []);
    assert.equal(lost.unscopedRelay, '172.31.0.1');
    assert.equal(lost.event.code, 'no-scope');
    assert.equal(lost.event.detail.relay, '172.31.0.1');
    assert.match(
      lost.event.reason,
      /relayed by 172\.31\.0\.1: no pool for that subnet \(served: 10\.77\.0\.0\/24, 10\.78\.0\.0\/24, 10\.79\.0\.0\/16\); add a \[scope\]/,
    );
    h.store.flushEvents();
    const explained = explainMac(h.store, mac);
    assert.match(explained, /got no answer: relayed by 172\.31\.0\.1/);
    assert.match(explained, /add a \[scope\] whose subnet holds 172\.31\.0\.1/);
  });
});
