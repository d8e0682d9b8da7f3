// Reading IPv4 UDP packets as the packet listener hands them up (src/net/ipv4-udp.ts): every
// whole datagram comes back as it was built, and no bytes, however broken, throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseIpv4Udp } from '../../src/net/ipv4-udp.ts';

interface Built {
  source: number[];
  destination: number[];
  sourcePort: number;
  destinationPort: number;
  payload: Uint8Array;
  /** IP options, in 32-bit words (0-10). */
  optionWords: number;
  /** Bytes the link adds after the packet (Ethernet pads short frames). */
  padding: number;
}

function checksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 packet written by hand from RFC 791 and RFC 768, independent of the reader. */
function ipv4Udp(b: Built, edit: (packet: Buffer) => void = () => {}): Buffer {
  const headerLength = 20 + 4 * b.optionWords;
  const udpLength = 8 + b.payload.length;
  const packet = Buffer.alloc(headerLength + udpLength + b.padding);
  packet[0] = 0x40 | (headerLength / 4);
  packet.writeUInt16BE(headerLength + udpLength, 2);
  packet.writeUInt16BE(0x4000, 6); // don't fragment
  packet[8] = 64;
  packet[9] = 17;
  Buffer.from(b.source).copy(packet, 12);
  Buffer.from(b.destination).copy(packet, 16);
  packet.fill(1, 20, headerLength); // NOP options
  edit(packet);
  packet.writeUInt16BE(0, 10);
  packet.writeUInt16BE(checksum(packet.subarray(0, headerLength)), 10);
  packet.writeUInt16BE(b.sourcePort, headerLength);
  packet.writeUInt16BE(b.destinationPort, headerLength + 2);
  packet.writeUInt16BE(udpLength, headerLength + 4);
  Buffer.from(b.payload).copy(packet, headerLength + 8);
  return packet;
}

const address = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
const built: fc.Arbitrary<Built> = fc.record({
  source: address,
  destination: address,
  sourcePort: fc.integer({ min: 0, max: 0xffff }),
  destinationPort: fc.integer({ min: 0, max: 0xffff }),
  payload: fc.uint8Array({ maxLength: 1500 }),
  optionWords: fc.integer({ min: 0, max: 10 }),
  padding: fc.integer({ min: 0, max: 46 }),
});

test('property: a whole IPv4 UDP datagram reads back as built, with or without IP options and link padding', () => {
  fc.assert(
    fc.property(built, (b) => {
      const read = parseIpv4Udp(ipv4Udp(b));
      assert.ok(read);
      assert.equal(read.source, b.source.join('.'));
      assert.equal(read.destination, b.destination.join('.'));
      assert.equal(read.sourcePort, b.sourcePort);
      assert.equal(read.destinationPort, b.destinationPort);
      assert.deepEqual(new Uint8Array(read.payload), b.payload);
    }),
  );
});

test('property: cut short anywhere inside the IP or UDP datagram, it is not read', () => {
  fc.assert(
    fc.property(
      built.filter((b) => b.padding === 0),
      fc.nat(),
      (b, cut) => {
        const packet = ipv4Udp(b);
        assert.equal(parseIpv4Udp(packet.subarray(0, cut % packet.length)), null);
      },
    ),
  );
});

test('fragments, other protocols, other versions and a broken header checksum are not read', () => {
  const b: Built = {
    source: [10, 96, 0, 254],
    destination: [10, 96, 0, 162],
    sourcePort: 67,
    destinationPort: 68,
    payload: new Uint8Array(300),
    optionWords: 0,
    padding: 0,
  };
  assert.ok(parseIpv4Udp(ipv4Udp(b)), 'the unedited packet reads');
  assert.equal(parseIpv4Udp(ipv4Udp(b, (p) => p.writeUInt16BE(0x2000, 6))), null, 'more fragments follow');
  assert.equal(parseIpv4Udp(ipv4Udp(b, (p) => p.writeUInt16BE(0x00b9, 6))), null, 'a later fragment');
  assert.equal(parseIpv4Udp(ipv4Udp(b, (p) => (p[9] = 6))), null, 'TCP');
  assert.equal(parseIpv4Udp(ipv4Udp(b, (p) => (p[0] = 0x65))), null, 'version 6');
  assert.equal(parseIpv4Udp(ipv4Udp(b, (p) => (p[0] = 0x44))), null, 'a header length under 20 bytes');
  const corrupt = ipv4Udp(b);
  corrupt[15] = corrupt[15]! ^ 0x01; // the source address, after the checksum was written
  assert.equal(parseIpv4Udp(corrupt), null, 'header checksum');
  const longUdp = ipv4Udp(b);
  longUdp.writeUInt16BE(8 + 301, 24);
  assert.equal(parseIpv4Udp(longUdp), null, 'a UDP length past the IP packet');
});

test('property: any bytes give a datagram or null, never an exception, and a payload inside the bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const read = parseIpv4Udp(bytes);
      assert.ok(read === null || read.payload.length <= bytes.length - 28);
    }),
  );
  // Random bytes rarely pass the checksum: also valid headers with random bytes after them.
  fc.assert(
    fc.property(built, fc.uint8Array({ minLength: 8, maxLength: 64 }), (b, tail) => {
      const packet = ipv4Udp({ ...b, payload: new Uint8Array(0) });
      const headerLength = 20 + 4 * b.optionWords;
      const mixed = Buffer.concat([packet.subarray(0, headerLength), tail]);
      const read = parseIpv4Udp(mixed);
      assert.ok(read === null || read.payload.length <= mixed.length - headerLength - 8);
    }),
  );
});
