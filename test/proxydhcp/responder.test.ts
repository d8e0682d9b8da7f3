// The ProxyDHCP decisions, without sockets: what each kind of client is told, what is met with
// silence and why, and properties that hold for any request at all.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import type { Profile } from '../../src/config/profile.ts';
import type { NodeState } from '../../src/boot/lifecycle.ts';
import { emptyPacket, encodeDhcp, parseDhcp, type DhcpPacket } from '../../src/dhcp/codec.ts';
import { MessageType, Opt, PxeSub } from '../../src/dhcp/options.ts';
import { handleProxyRequest, notPxeReason, type Listener, type ProxyHandled } from '../../src/proxydhcp/responder.ts';
import { dhcpRequest, type RequestShape } from '../helpers/dhcp-packets.ts';

const SERVER = '10.0.0.2';
const noNodes = { getNode: (): NodeState | undefined => undefined };

function ctx(listener: Listener, profile: Profile = testProfile({ server: { address: SERVER }, http: { port: 8080 }, dhcp: { mode: 'proxy' } })) {
  return { profile, serverAddress: SERVER, listener, port: listener === 'dhcp' ? 67 : 4011, relayPort: 67 };
}

/** Through the codec both ways, as on the wire. */
function wire(packet: DhcpPacket): DhcpPacket {
  const parsed = parseDhcp(encodeDhcp(packet));
  assert.ok(parsed.ok);
  return parsed.packet;
}

function ask(
  shape: Omit<RequestShape, 'mac'> & { mac?: string },
  listener: Listener = 'dhcp',
  tweak?: (p: DhcpPacket) => void,
  options: { profile?: Profile; source?: { address: string; port: number }; nodes?: typeof noNodes } = {},
): ProxyHandled {
  const request = dhcpRequest({ mac: '52:54:00:12:34:56', ...shape });
  tweak?.(request);
  const source = options.source ?? { address: listener === 'proxy' ? '10.0.0.57' : '0.0.0.0', port: 68 };
  const handled = handleProxyRequest(
    wire(request),
    source,
    options.profile ? { ...ctx(listener), profile: options.profile } : ctx(listener),
    options.nodes ?? noNodes,
  );
  if (handled.reply) handled.reply.packet = wire(handled.reply.packet);
  return handled;
}

function replyOf(h: ProxyHandled): DhcpPacket {
  assert.ok(h.reply, `expected a reply, got silence: ${h.event.reason}`);
  return h.reply.packet;
}

describe('proxy OFFER on 67', () => {
  test('BIOS: boot file, siaddr and option 54 = us, discovery control 8, UUID echoed, no address', () => {
    const h = ask({ type: MessageType.DISCOVER, arch: 0 });
    const r = replyOf(h);
    assert.equal(r.options.read('messageType'), MessageType.OFFER);
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.siaddr, SERVER);
    assert.equal(r.options.read('serverId'), SERVER);
    assert.equal(r.options.read('vendorClass'), 'PXEClient');
    assert.equal(r.file, 'undionly.kpxe');
    assert.equal(r.options.read('bootFile'), 'undionly.kpxe');
    assert.deepEqual(r.options.read('pxeVendorOptions'), new Map([[PxeSub.DISCOVERY_CONTROL, Buffer.from([8])]]));
    assert.deepEqual(r.options.read('clientUuid'), Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0x5a)]));
    for (const leaseOption of [Opt.leaseTime, Opt.subnetMask, Opt.routers, Opt.renewalTime]) assert.equal(r.options.has(leaseOption), false);
    assert.deepEqual(h.reply?.destination, { address: '255.255.255.255', port: 68, why: 'broadcast (client has no address yet)' });
    assert.equal(h.event.decision, 'offer');
    assert.equal(h.event.kind, 'DISCOVER on 67');
    assert.deepEqual(h.sighting, {
      mac: '52:54:00:12:34:56',
      facts: { arch: 0, firmware: 'bios', uuid: '5a5a5a5a-5a5a-5a5a-5a5a-5a5a5a5a5a5a' },
      armed: false,
    });
  });

  test('UEFI x64 (7, 9), IA32 (6) and ARM64 (11): their binaries, no option 43', () => {
    for (const [arch, file] of [
      [7, 'snponly.efi'],
      [9, 'snponly.efi'],
      [6, 'ipxe-i386.efi'],
      [11, 'ipxe-arm64.efi'],
    ] as const) {
      const r = replyOf(ask({ type: MessageType.DISCOVER, arch }));
      assert.equal(r.options.read('bootFile'), file, `arch ${arch}`);
      assert.equal(r.options.has(Opt.pxeVendorOptions), false, `arch ${arch}`);
    }
  });

  test('UEFI HTTP boot (16): HTTPClient and an http:// URL', () => {
    const r = replyOf(ask({ type: MessageType.DISCOVER, arch: 16 }));
    assert.equal(r.options.read('vendorClass'), 'HTTPClient');
    assert.equal(r.options.read('bootFile'), `http://${SERVER}:8080/ipxe/snponly.efi`);
    assert.equal(r.options.has(Opt.tftpServer), false);
  });

  test('iPXE (option 77 or 175 alone) gets the bootstrap script URL', () => {
    const viaUserClass = replyOf(ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', (p) => p.options.set(Opt.userClass, Buffer.from('iPXE'))));
    assert.equal(viaUserClass.options.read('bootFile'), `http://${SERVER}:8080/boot.ipxe`);
    const viaEncap = replyOf(ask({ type: MessageType.DISCOVER, arch: 0 }, 'dhcp', (p) => p.options.set(Opt.ipxeOptions, Buffer.from([19, 1, 1]))));
    assert.equal(viaEncap.options.read('bootFile'), `http://${SERVER}:8080/boot.ipxe`);
  });

  test('a long URL goes in option 67 only, the file field stays empty', () => {
    const profile = testProfile({ server: { address: SERVER }, http: { port: 8080 }, dhcp: { mode: 'proxy' }, boot: { uefiX64: `${'x'.repeat(140)}.efi` } });
    const r = replyOf(ask({ type: MessageType.DISCOVER, arch: 16 }, 'dhcp', undefined, { profile }));
    assert.equal(r.file, '');
    assert.ok(r.options.read('bootFile')!.endsWith(`${'x'.repeat(140)}.efi`));
  });

  test('option 97 of a wrong length is echoed as sent and noted in the event', () => {
    const h = ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', (p) => p.options.set(Opt.clientUuid, Buffer.from([1, 2, 3])));
    assert.deepEqual(replyOf(h).options.get(Opt.clientUuid), Buffer.from([1, 2, 3]));
    assert.match(String(h.event.detail.uuid), /option 97 of 3 bytes, type 1/);
    assert.equal(h.sighting?.facts.uuid, undefined);
  });

  test('Raspberry Pi MAC with arch 0 is treated as ARM64, not sent the BIOS binary', () => {
    const h = ask({ type: MessageType.DISCOVER, arch: 0, mac: 'dc:a6:32:01:02:03' });
    assert.equal(replyOf(h).options.read('bootFile'), 'ipxe-arm64.efi');
    assert.match(h.event.reason, /Raspberry Pi/);
  });

  test('a relayed DISCOVER goes back to the relay on 67, with option 82 echoed', () => {
    const agent = Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x31]);
    const h = ask({ type: MessageType.DISCOVER, arch: 0, giaddr: '10.9.0.1' }, 'dhcp', (p) => p.options.set(Opt.relayAgentInfo, agent));
    assert.deepEqual(h.reply?.destination, { address: '10.9.0.1', port: 67, why: 'unicast to relay 10.9.0.1' });
    assert.equal(replyOf(h).giaddr, '10.9.0.1');
    assert.deepEqual(replyOf(h).options.get(Opt.relayAgentInfo), agent);
    // The client has no address yet: the relay must broadcast the offer on the client's LAN.
    assert.ok(replyOf(h).flags & 0x8000, 'broadcast bit set for the relay');
  });

  test('duplicate DISCOVERs (firmware retries) each get the same answer', () => {
    const first = ask({ type: MessageType.DISCOVER, arch: 7, xid: 77 });
    const again = ask({ type: MessageType.DISCOVER, arch: 7, xid: 77 });
    assert.deepEqual(encodeDhcp(replyOf(again)), encodeDhcp(replyOf(first)));
  });
});

describe('proxy ACK', () => {
  test('REQUEST on 4011 from a leased client: ACK with the boot file, back to its address and port', () => {
    const h = ask({ type: MessageType.REQUEST, arch: 7, ciaddr: '10.0.0.57' }, 'proxy');
    const r = replyOf(h);
    assert.equal(r.options.read('messageType'), MessageType.ACK);
    assert.equal(r.ciaddr, '10.0.0.57');
    assert.equal(r.yiaddr, '0.0.0.0');
    assert.equal(r.options.read('bootFile'), 'snponly.efi');
    assert.deepEqual(h.reply?.destination, { address: '10.0.0.57', port: 68, why: 'unicast to 10.0.0.57:68' });
    assert.equal(h.event.kind, 'REQUEST on 4011');
    assert.equal(h.sighting?.facts.ip, '10.0.0.57');
  });

  test('a boot-server REQUEST naming a boot item gets the same item back', () => {
    const item = Buffer.from([0x80, 0x01, 0x00, 0x00]);
    const h = ask({ type: MessageType.REQUEST, arch: 0, ciaddr: '10.0.0.57' }, 'proxy', (p) =>
      p.options.write('pxeVendorOptions', new Map([[PxeSub.BOOT_ITEM, item]])),
    );
    assert.deepEqual(replyOf(h).options.read('pxeVendorOptions')?.get(PxeSub.BOOT_ITEM), item);
  });

  test('REQUEST on 67 naming us, or nobody (broadcast discovery), is answered', () => {
    const namingUs = ask({ type: MessageType.REQUEST, arch: 7, serverId: SERVER });
    assert.equal(replyOf(namingUs).options.read('messageType'), MessageType.ACK);
    const discovery = ask({ type: MessageType.REQUEST, arch: 0, ciaddr: '10.0.0.57' });
    assert.deepEqual(discovery.reply?.destination, { address: '10.0.0.57', port: 68, why: 'unicast to ciaddr 10.0.0.57' });
  });
});

describe('silence, with the reason', () => {
  const silent = (h: ProxyHandled, reason: RegExp | string): void => {
    assert.equal(h.reply, undefined);
    assert.equal(h.event.decision, 'silence');
    if (typeof reason === 'string') assert.equal(h.event.reason, reason);
    else assert.match(h.event.reason, reason);
  };

  test('non-PXE clients: udhcpc, no vendor class, PXEClient without option 93', () => {
    silent(ask({ type: MessageType.DISCOVER, vendorClass: 'udhcp 1.35.0' }), "vendor class 'udhcp 1.35.0': not a PXE client");
    silent(ask({ type: MessageType.DISCOVER }), 'no vendor class (option 60): not a PXE client');
    silent(ask({ type: MessageType.DISCOVER, vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }), /no option 93/);
    assert.equal(ask({ type: MessageType.DISCOVER, vendorClass: 'MSFT 5.0' }).event.mac, '52:54:00:12:34:56');
  });

  test("the router's REQUESTs (SELECTING for another server, INIT-REBOOT) are not ours", () => {
    silent(ask({ type: MessageType.REQUEST, arch: 7, serverId: '10.0.0.1', requested: '10.0.0.57' }), /REQUEST for server 10\.0\.0\.1/);
    silent(ask({ type: MessageType.REQUEST, arch: 7, requested: '10.0.0.57' }), /INIT-REBOOT/);
  });

  test('messages a proxy does not answer', () => {
    silent(ask({ type: MessageType.RELEASE, arch: 7 }), /DISCOVER and REQUEST only/);
    silent(ask({ type: MessageType.INFORM, arch: 7 }), /DISCOVER and REQUEST only/);
    silent(ask({ type: MessageType.DISCOVER, arch: 7 }, 'proxy'), /firmware asks there with a REQUEST/);
    silent(
      ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', (p) => (p.op = 2)),
      'a BOOTREPLY, not a request',
    );
    silent(
      ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', (p) => p.options.delete(Opt.messageType)),
      /BOOTP request without option 53/,
    );
    silent(
      ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', (p) => (p.htype = 6)),
      /no Ethernet hardware address/,
    );
  });

  test('architectures without a boot file, and [boot] unknown = ignore', () => {
    silent(ask({ type: MessageType.DISCOVER, arch: 27 }), /arch 27 \(UEFI RISC-V 64\): no boot file/);
    silent(ask({ type: MessageType.DISCOVER, arch: 200 }), /arch 200 \(unassigned\)/);
    const ignoreUnknown = testProfile({ server: { address: SERVER }, dhcp: { mode: 'proxy' }, boot: { unknown: 'ignore' } });
    silent(ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', undefined, { profile: ignoreUnknown }), /no \[host\] section and \[boot\] unknown = ignore/);
    const host = hostEntry('52:54:00:12:34:56', { hostname: 'pve1', action: 'install', profile: 'proxmox-ve/9.1-1' });
    const listed = testProfile({ server: { address: SERVER }, dhcp: { mode: 'proxy' }, boot: { unknown: 'ignore' }, hosts: [host] });
    const h = ask({ type: MessageType.DISCOVER, arch: 7 }, 'dhcp', undefined, { profile: listed });
    assert.equal(replyOf(h).options.read('bootFile'), 'snponly.efi');
    assert.equal(h.sighting?.armed, true);
  });

  test('notPxeReason reads the vendor class prefix only', () => {
    assert.equal(notPxeReason('PXEClient'), null);
    assert.equal(notPxeReason('HTTPClient:Arch:00016:UNDI:003001'), null);
    assert.match(notPxeReason('pxeclient')!, /not a PXE client/);
  });
});

describe('properties', () => {
  const anyRequest = fc.record({
    type: fc.integer({ min: 0, max: 12 }),
    arch: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
    vendorClass: fc.option(
      fc.oneof(fc.constantFrom('PXEClient', 'HTTPClient', 'PXEClient:Arch:00007:UNDI:003016', 'udhcp 1.35.0'), fc.string({ maxLength: 40 })),
      { nil: undefined },
    ),
    ciaddr: fc.option(fc.ipV4(), { nil: undefined }),
    giaddr: fc.option(fc.ipV4(), { nil: undefined }),
    serverId: fc.option(fc.constantFrom(SERVER, '10.0.0.1'), { nil: undefined }),
    ipxe: fc.boolean(),
    uuid: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }),
    listener: fc.constantFrom<Listener>('dhcp', 'proxy'),
  });

  test('any request: a reply never offers an address or a lease, names us, and answers only PXE/HTTP clients', () => {
    fc.assert(
      fc.property(anyRequest, (r) => {
        const p = emptyPacket(1);
        Buffer.from('525400aabbcc', 'hex').copy(p.chaddr);
        if (r.ciaddr) p.ciaddr = r.ciaddr;
        if (r.giaddr) p.giaddr = r.giaddr;
        p.options.write('messageType', r.type);
        if (r.arch !== undefined) p.options.write('clientArch', [r.arch]);
        if (r.vendorClass !== undefined) p.options.write('vendorClass', r.vendorClass);
        if (r.serverId) p.options.write('serverId', r.serverId);
        if (r.ipxe) p.options.set(Opt.userClass, Buffer.from('iPXE'));
        if (r.uuid) p.options.set(Opt.clientUuid, Buffer.from(r.uuid));
        const h = handleProxyRequest(wire(p), { address: r.ciaddr ?? '0.0.0.0', port: 68 }, ctx(r.listener), noNodes);
        assert.ok(h.event.reason.length > 0);
        if (!h.reply) {
          assert.equal(h.event.decision, 'silence');
          return;
        }
        const reply = wire(h.reply.packet);
        assert.equal(reply.yiaddr, '0.0.0.0');
        assert.equal(reply.options.has(Opt.leaseTime), false);
        assert.equal(reply.options.read('serverId'), SERVER);
        assert.equal(reply.xid, p.xid);
        assert.ok(r.vendorClass?.startsWith('PXEClient') || r.vendorClass?.startsWith('HTTPClient'));
        assert.notEqual(r.arch, undefined);
        assert.ok(r.type === MessageType.DISCOVER || r.type === MessageType.REQUEST);
        if (r.uuid) assert.deepEqual(reply.options.get(Opt.clientUuid), Buffer.from(r.uuid));
      }),
      { numRuns: 500 },
    );
  });

  test('hostile bytes: parse then respond never throws', () => {
    const base = encodeDhcp(dhcpRequest({ mac: '52:54:00:12:34:56', type: MessageType.DISCOVER, arch: 7 }));
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat({ max: base.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 24 }),
        fc.nat({ max: base.length }),
        (flips, cut) => {
          const bytes = Buffer.from(base.subarray(0, Math.max(cut, 240)));
          for (const f of flips) if (f.at < bytes.length) bytes[f.at] = f.byte;
          const parsed = parseDhcp(bytes);
          if (!parsed.ok) return;
          for (const listener of ['dhcp', 'proxy'] as const) {
            const h = handleProxyRequest(parsed.packet, { address: '0.0.0.0', port: 68 }, ctx(listener), noNodes);
            if (h.reply) encodeDhcp(h.reply.packet);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
