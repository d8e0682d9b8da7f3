import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { clientMac, emptyPacket, encodeDhcp, parseDhcp, type DhcpPacket } from '../../src/dhcp/codec.ts';
import { DHCP_OPTIONS, DhcpOptions, MessageType, Opt, OPTION_TYPES, parseSubOptions, type OptionName, type OptionType } from '../../src/dhcp/options.ts';
import { describeDhcpClient } from '../../src/dhcp/client.ts';

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const noNulText = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a.map((b) => (b === 0 ? 1 : b))).toString('latin1'));
const optionCode = fc.integer({ min: 1, max: 254 }).filter((c) => c !== Opt.overload);
const optionMap = fc
  .array(fc.tuple(optionCode, fc.uint8Array({ maxLength: 700 })), { maxLength: 12 })
  .map((entries) => new Map(entries.map(([c, v]) => [c, Buffer.from(v)])));

const packetArb: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom<1 | 2>(1, 2),
  htype: fc.nat(255),
  hlen: fc.nat(16),
  hops: fc.nat(255),
  xid: fc.nat(0xffffffff),
  secs: fc.nat(0xffff),
  flags: fc.nat(0xffff),
  ciaddr: ipv4,
  yiaddr: ipv4,
  siaddr: ipv4,
  giaddr: ipv4,
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  sname: noNulText(64),
  file: noNulText(128),
  options: optionMap.map((m) => new DhcpOptions(m)),
});

function request(build: (p: DhcpPacket) => void): DhcpPacket {
  const p = emptyPacket(1);
  p.xid = 0x1234;
  Buffer.from('525400123456', 'hex').copy(p.chaddr);
  p.options.write('messageType', MessageType.DISCOVER);
  build(p);
  return p;
}

describe('DHCP codec', () => {
  test('any packet survives encode → parse unchanged', () => {
    fc.assert(
      fc.property(packetArb, (packet) => {
        const bytes = encodeDhcp(packet);
        assert.ok(bytes.length >= 300, 'replies are at least 300 bytes');
        const parsed = parseDhcp(bytes);
        assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
        const { options, ...fields } = parsed.packet;
        const { options: expectedOptions, ...expectedFields } = packet;
        assert.deepEqual(fields, expectedFields);
        assert.deepEqual(new Map([...options.raw].sort(([a], [b]) => a - b)), new Map([...expectedOptions.raw].sort(([a], [b]) => a - b)));
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary bytes never throw: a packet or a typed error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        const r = parseDhcp(bytes);
        if (!r.ok) assert.match(r.error.code, /^(truncated|bad-magic|bad-option|bad-op|bad-hlen)$/);
      }),
      { numRuns: 2000 },
    );
  });

  test('corrupted real-looking packets never throw, and every typed getter survives them', () => {
    const base = encodeDhcp(
      request((p) => {
        p.options.write('clientArch', [7]).write('vendorClass', 'PXEClient:Arch:00007:UNDI:003016').write('paramRequestList', [1, 3, 43, 60, 66, 67]);
        p.options.set(Opt.overload, Buffer.from([3]));
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length + 40), fc.nat(255)), { maxLength: 30 }), fc.nat(base.length + 40), (edits, cut) => {
        const bytes = Buffer.alloc(Math.max(base.length, cut));
        base.copy(bytes);
        for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value;
        const r = parseDhcp(bytes.subarray(0, cut));
        if (!r.ok) return;
        const o = r.packet.options;
        for (const name of Object.keys(DHCP_OPTIONS) as OptionName[]) o.read(name);
        describeDhcpClient(r.packet);
      }),
      { numRuns: 1500 },
    );
  });

  test('every option type reads arbitrary bytes as a value or undefined, never a throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(DHCP_OPTIONS) as OptionName[])), fc.uint8Array({ maxLength: 300 }), (name, value) => {
        new DhcpOptions(new Map([[DHCP_OPTIONS[name].code, Buffer.from(value)]])).read(name);
      }),
      { numRuns: 3000 },
    );
  });

  test('every option type round-trips its values through the wire', () => {
    const textArb = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a).toString('latin1').replace(/\0+$/, ''));
    const subArb = fc
      .array(fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 6 })
      .map((e) => new Map(e.map(([c, v]) => [c, Buffer.from(v)])));
    const values: { [K in keyof typeof OPTION_TYPES]: fc.Arbitrary<(typeof OPTION_TYPES)[K] extends OptionType<infer V> ? V : never> } = {
      u8: fc.nat(255),
      u32: fc.nat(0xffffffff),
      ipv4,
      ipv4List: fc.array(ipv4, { minLength: 1, maxLength: 80 }),
      u8List: fc.array(fc.nat(255), { minLength: 1, maxLength: 300 }),
      u16List: fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 150 }),
      text: textArb,
      bytes: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      clientId: fc.uint8Array({ minLength: 2, maxLength: 300 }).map((a) => Buffer.from(a)),
      ndi: fc.record({ type: fc.nat(255), major: fc.nat(255), minor: fc.nat(255) }).map((n) => ({ ...n })),
      userClass: fc.array(
        fc.uint8Array({ minLength: 1, maxLength: 255 }).map((a) => Buffer.from(a).toString('latin1')),
        { minLength: 1, maxLength: 4 },
      ),
      subOptions: subArb,
      pxeSubOptions: subArb,
    };
    for (const name of Object.keys(DHCP_OPTIONS) as OptionName[]) {
      const { type } = DHCP_OPTIONS[name];
      const typeName = (Object.keys(OPTION_TYPES) as (keyof typeof OPTION_TYPES)[]).find((k) => OPTION_TYPES[k] === type);
      assert.ok(typeName, `${name}: its type is in OPTION_TYPES`);
      if (name === 'overload') continue; // a property of one encoding: encodeDhcp never writes it
      fc.assert(
        fc.property(values[typeName] as fc.Arbitrary<never>, (value) => {
          const r = parseDhcp(encodeDhcp({ ...emptyPacket(2), options: new DhcpOptions().write(name, value) }));
          assert.ok(r.ok);
          assert.deepEqual(r.packet.options.read(name), value, name);
        }),
        { numRuns: 100 },
      );
    }
  });

  test('names the malformation', () => {
    const good = encodeDhcp(request(() => {}));
    assert.deepEqual((parseDhcp(good.subarray(0, 200)) as { error: { code: string } }).error.code, 'truncated');
    const badOp = Buffer.from(good);
    badOp[0] = 3;
    assert.equal((parseDhcp(badOp) as { error: { code: string } }).error.code, 'bad-op');
    const badHlen = Buffer.from(good);
    badHlen[2] = 17;
    assert.equal((parseDhcp(badHlen) as { error: { code: string } }).error.code, 'bad-hlen');
    const badMagic = Buffer.from(good);
    badMagic[236] = 0;
    assert.equal((parseDhcp(badMagic) as { error: { code: string } }).error.code, 'bad-magic');
    // Option 53 claiming 200 bytes in a 300-byte packet.
    const overrun = Buffer.from(good);
    overrun[241] = 200;
    const r = parseDhcp(overrun);
    assert.ok(!r.ok && r.error.code === 'bad-option', JSON.stringify(r));
  });

  test('an option longer than 255 bytes is split on the wire and joined on parse (RFC 3396)', () => {
    const long = Buffer.alloc(600, 0x41);
    const bytes = encodeDhcp(request((p) => p.options.set(Opt.proxmoxAnswerUrl, long)));
    let instances = 0;
    for (let i = 240; i < bytes.length && bytes[i] !== 255; i += 2 + bytes[i + 1]!) if (bytes[i] === Opt.proxmoxAnswerUrl) instances++;
    assert.equal(instances, 3);
    const r = parseDhcp(bytes);
    assert.ok(r.ok);
    assert.deepEqual(r.packet.options.get(Opt.proxmoxAnswerUrl), long);
  });

  test('option overload (52) takes options from file and sname, and empties those fields', () => {
    const bytes = encodeDhcp(request((p) => p.options.write('messageType', MessageType.OFFER)));
    // Overload = 3 appended in the main area; file holds option 67 in two parts, sname holds option 12.
    const withOverload = Buffer.concat([bytes.subarray(0, 243), Buffer.from([52, 1, 3, 67, 3, 0x61, 0x62, 0x63, 255])]);
    Buffer.from([67, 2, 0x64, 0x65, 255]).copy(withOverload, 108);
    Buffer.from([12, 4, 0x6e, 0x6f, 0x64, 0x65, 255]).copy(withOverload, 44);
    const r = parseDhcp(withOverload);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.packet.options.read('bootFile'), 'abcde');
    assert.equal(r.packet.options.read('hostname'), 'node');
    assert.equal(r.packet.file, '');
    assert.equal(r.packet.sname, '');
    assert.equal(r.packet.options.has(Opt.overload), false);
  });

  test('typed options read back what was written', () => {
    fc.assert(
      fc.property(
        fc.array(ipv4, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(0xffff), { minLength: 1, maxLength: 4 }),
        fc.nat(0xffffffff),
        fc.array(fc.integer({ min: 1, max: 254 }), { minLength: 1, maxLength: 30 }),
        (ips, arches, seconds, prl) => {
          const o = new DhcpOptions()
            .write('routers', ips)
            .write('dnsServers', ips)
            .write('subnetMask', ips[0]!)
            .write('clientArch', arches)
            .write('leaseTime', seconds)
            .write('paramRequestList', prl);
          const r = parseDhcp(encodeDhcp({ ...emptyPacket(2), options: o }));
          assert.ok(r.ok);
          assert.deepEqual(r.packet.options.read('routers'), ips);
          assert.deepEqual(r.packet.options.read('dnsServers'), ips);
          assert.equal(r.packet.options.read('subnetMask'), ips[0]);
          assert.deepEqual(r.packet.options.read('clientArch'), arches);
          assert.equal(r.packet.options.read('leaseTime'), seconds);
          assert.deepEqual(r.packet.options.read('paramRequestList'), prl);
        },
      ),
    );
  });

  test('sub-options (43, 82, 175) are read with the packet reader: overruns are undefined, 43 ends with 255', () => {
    assert.deepEqual(OPTION_TYPES.pxeSubOptions.encode(new Map([[6, Buffer.from([8])]])), Buffer.from([6, 1, 8, 255]));
    assert.deepEqual(OPTION_TYPES.subOptions.encode(new Map([[1, Buffer.from('eth1')]])), Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x31]));
    assert.equal(parseSubOptions(Buffer.from([1, 5, 0x65])), undefined);
    assert.deepEqual(parseSubOptions(Buffer.from([0, 1, 1, 9, 1, 1, 7, 255, 2, 1, 1])), new Map([[1, Buffer.from([9, 7])]]));
  });

  test('option 77: RFC 3004 lists and iPXE plain string', () => {
    assert.deepEqual(new DhcpOptions().set(Opt.userClass, Buffer.from('iPXE')).read('userClass'), ['iPXE']);
    assert.deepEqual(new DhcpOptions().write('userClass', ['iPXE', 'lab']).read('userClass'), ['iPXE', 'lab']);
  });

  test('describeDhcpClient: MAC, arch, firmware, iPXE, UUID', () => {
    const uuid = Buffer.concat([Buffer.from([0]), Buffer.from('00112233445566778899aabbccddeeff', 'hex')]);
    const pxe = describeDhcpClient(
      request((p) => p.options.write('clientArch', [7]).write('vendorClass', 'PXEClient:Arch:00007:UNDI:003016').write('clientUuid', uuid)),
    );
    assert.deepEqual(pxe, {
      mac: '52:54:00:12:34:56',
      arch: 7,
      firmware: 'uefi',
      isIpxe: false,
      vendorClass: 'PXEClient:Arch:00007:UNDI:003016',
      uuid: '00112233-4455-6677-8899-aabbccddeeff',
    });
    assert.equal(describeDhcpClient(request((p) => p.options.set(Opt.userClass, Buffer.from('iPXE'))))?.isIpxe, true);
    assert.equal(describeDhcpClient(request((p) => p.options.write('ipxeOptions', new Map([[19, Buffer.from([1])]]))))?.isIpxe, true);
    assert.equal(describeDhcpClient(request((p) => p.options.write('clientUuid', uuid.subarray(0, 16))))?.uuid, undefined);
    assert.equal(describeDhcpClient(request((p) => (p.htype = 6))), null);
    assert.equal(clientMac(request(() => {})), '52:54:00:12:34:56');
  });
});
