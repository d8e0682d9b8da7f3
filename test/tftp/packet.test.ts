// The codec: what encodes decodes back the same, and no datagram, however hostile, makes it throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ErrorCode,
  Opcode,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodePacket,
  encodeRequest,
  parsePacket,
  type TftpPacket,
} from '../../src/tftp/packet.ts';

// Strings without NUL (the field terminator) and, for names, not empty.
const text = fc.string({ minLength: 0, maxLength: 40 }).filter((s) => !s.includes('\u0000'));
const word = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('\u0000'));
// fast-check builds prototype-less objects; the codec returns plain ones.
const option = fc.record({ name: word.map((s) => s.toLowerCase()).filter((s) => s.length > 0), value: text }).map((o) => ({ ...o }));

const packetArb: fc.Arbitrary<TftpPacket> = fc
  .oneof(
    fc.record({
      opcode: fc.constantFrom(Opcode.RRQ, Opcode.WRQ),
      filename: word,
      mode: fc.constantFrom('octet' as const, 'netascii' as const),
      options: fc.array(
        option.filter((o) => o.value.length > 0),
        { maxLength: 5 },
      ),
    }),
    fc.record({
      opcode: fc.constant(Opcode.DATA),
      block: fc.integer({ min: 0, max: 0xffff }),
      data: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
    }),
    fc.record({ opcode: fc.constant(Opcode.ACK), block: fc.integer({ min: 0, max: 0xffff }) }),
    fc.record({ opcode: fc.constant(Opcode.ERROR), code: fc.integer({ min: 0, max: 8 }), message: text }),
    fc.record({ opcode: fc.constant(Opcode.OACK), options: fc.array(option, { maxLength: 5 }) }),
  )
  .map((packet) => ({ ...packet }));

test('every packet decodes to what was encoded', () => {
  fc.assert(
    fc.property(packetArb, (packet) => {
      const parsed = parsePacket(encodePacket(packet));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error.message);
      assert.deepEqual(parsed.packet, packet);
    }),
    { numRuns: 500 },
  );
});

test('arbitrary bytes give a packet or a typed error, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const parsed = parsePacket(Buffer.from(bytes));
      if (!parsed.ok) assert.equal(parsed.error.name, 'TftpPacketError');
    }),
    { numRuns: 3000 },
  );
});

test('bytes that start like a request are judged, never thrown on', () => {
  const requestish = fc
    .tuple(fc.constantFrom(1, 2, 6), fc.array(fc.oneof(text, fc.constant(''), fc.constant('octet'), fc.constant('blksize')), { maxLength: 8 }), fc.boolean())
    .map(([opcode, fields, terminated]) => {
      const body = fields.join('\u0000') + (terminated ? '\u0000' : '');
      return Buffer.concat([Buffer.from([0, opcode]), Buffer.from(body, 'utf8')]);
    });
  fc.assert(
    fc.property(requestish, (bytes) => {
      const parsed = parsePacket(bytes);
      if (parsed.ok) assert.ok([1, 2, 6].includes(parsed.packet.opcode));
    }),
    { numRuns: 2000 },
  );
});

test('malformed datagrams are named for the log', () => {
  const kind = (bytes: Buffer): string => {
    const parsed = parsePacket(bytes);
    return parsed.ok ? 'ok' : parsed.error.kind;
  };
  assert.equal(kind(Buffer.alloc(0)), 'empty');
  assert.equal(kind(Buffer.from([0])), 'truncated');
  assert.equal(kind(Buffer.from([0, 9, 1, 2])), 'bad-opcode');
  assert.equal(kind(Buffer.from([0, 4, 1])), 'truncated');
  assert.equal(kind(Buffer.alloc(65536)), 'too-large');
  assert.equal(kind(Buffer.from('\u0000\u0001ipxe.efi', 'latin1')), 'unterminated');
  assert.equal(kind(Buffer.from('\u0000\u0001ipxe.efi\u0000octet', 'latin1')), 'unterminated');
  assert.equal(kind(Buffer.from('\u0000\u0001ipxe.efi\u0000mail\u0000', 'latin1')), 'unknown-mode');
  assert.equal(kind(Buffer.from('\u0000\u0001\u0000octet\u0000', 'latin1')), 'bad-filename');
  assert.equal(kind(Buffer.from([0, 1, 0xff, 0xfe, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0])), 'bad-filename');
  assert.equal(kind(Buffer.from('\u0000\u0001f\u0000octet\u0000blksize\u0000', 'latin1')), 'bad-option');
});

test('requests: mode and option names are case-insensitive, NUL padding after options is accepted', () => {
  const parsed = parsePacket(Buffer.from('\u0000\u0001Boot/IPXE.efi\u0000OcTeT\u0000BLKSIZE\u00001468\u0000\u0000\u0000\u0000', 'latin1'));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.packet, { opcode: Opcode.RRQ, filename: 'Boot/IPXE.efi', mode: 'octet', options: [{ name: 'blksize', value: '1468' }] });
});

test('an ERROR without its terminating NUL still reads', () => {
  const parsed = parsePacket(Buffer.from('\u0000\u0005\u0000\u0008no', 'latin1'));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.packet, { opcode: Opcode.ERROR, code: 8, message: 'no' });
});

test('wire layouts match RFC 1350 and RFC 2347', () => {
  assert.deepEqual(encodeAck(65536 + 7), Buffer.from([0, 4, 0, 7]));
  assert.deepEqual(encodeData(65536, Buffer.from('hi')), Buffer.from([0, 3, 0, 0, 0x68, 0x69]));
  assert.deepEqual(encodeError(ErrorCode.FILE_NOT_FOUND, 'nope'), Buffer.from('\u0000\u0005\u0000\u0001nope\u0000', 'latin1'));
  assert.deepEqual(encodeOack([{ name: 'blksize', value: '1468' }]), Buffer.from('\u0000\u0006blksize\u00001468\u0000', 'latin1'));
  assert.deepEqual(encodeRequest({ filename: 'a', mode: 'octet', options: [] }), Buffer.from('\u0000\u0001a\u0000octet\u0000', 'latin1'));
});
