// The probe's pure parts: the DISCOVER it sends and when, which answers count, the neighbour table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeDhcp, parseDhcp, replyFrame } from '../../src/dhcp/codec.ts';
import { MessageType } from '../../src/dhcp/options.ts';
import { discoverSchedule, neighbourMac, probeDiscover, readProbeAnswer } from '../../src/dhcp/rogue-probe.ts';
import { DEFAULT_TIMING } from '../../src/dhcp/rogue-watch.ts';

const MAC = Buffer.from('525400aabbcc', 'hex');

function answer(xid: number, type: number, serverId?: string): Buffer {
  const reply = replyFrame(probeDiscover(MAC, xid));
  reply.yiaddr = '10.0.0.50';
  reply.options.write('messageType', type);
  if (serverId) reply.options.write('serverId', serverId);
  return encodeDhcp(reply);
}

test('the probe is a broadcast DISCOVER from our MAC that any server can parse', () => {
  const parsed = parseDhcp(encodeDhcp(probeDiscover(MAC, 0x1234)));
  assert.ok(parsed.ok);
  assert.equal(parsed.packet.options.read('messageType'), MessageType.DISCOVER);
  assert.equal(parsed.packet.flags & 0x8000, 0x8000);
  assert.deepEqual(parsed.packet.chaddr.subarray(0, 6), MAC);
});

test('an OFFER or ACK with our xid from someone else is another server; ours, other xids and other types are not', () => {
  assert.deepEqual(readProbeAnswer(answer(7, MessageType.OFFER, '10.0.0.2'), '10.0.0.2', 7, ['10.0.0.1']), {
    address: '10.0.0.2',
    source: '10.0.0.2',
    offered: '10.0.0.50',
    reply: 'OFFER',
  });
  assert.equal(readProbeAnswer(answer(7, MessageType.ACK, '10.0.0.9'), '10.0.0.3', 7, [])?.address, '10.0.0.9', 'through a relay: the server id names it');
  assert.equal(readProbeAnswer(answer(7, MessageType.OFFER), '10.0.0.4', 7, [])?.address, '10.0.0.4', 'no server id: the source');
  assert.equal(readProbeAnswer(answer(7, MessageType.OFFER, '10.0.0.1'), '10.0.0.1', 7, ['10.0.0.1']), null);
  assert.equal(readProbeAnswer(answer(8, MessageType.OFFER, '10.0.0.2'), '10.0.0.2', 7, []), null);
  assert.equal(readProbeAnswer(answer(7, MessageType.NAK, '10.0.0.2'), '10.0.0.2', 7, []), null);
  assert.equal(readProbeAnswer(encodeDhcp(probeDiscover(MAC, 7)), '10.0.0.2', 7, []), null, 'another client’s DISCOVER');
});

test('property: any bytes are an answer or null, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 0, max: 0xffffffff }), (bytes, xid) => {
      const r = readProbeAnswer(bytes, '10.0.0.2', xid, []);
      assert.ok(r === null || typeof r.address === 'string');
    }),
  );
});

test('the neighbour table gives the MAC on the right interface only', () => {
  const table = [
    'IP address       HW type     Flags       HW address            Mask     Device',
    '10.77.0.2        0x1         0x2         52:54:00:AA:BB:CC     *        br0',
    '10.77.0.3        0x1         0x0         00:00:00:00:00:00     *        br0',
    '10.77.0.4        0x1         0x2         52:54:00:00:00:04     *        eth1',
  ].join('\n');
  assert.equal(neighbourMac('10.77.0.2', 'br0', table), '52:54:00:aa:bb:cc');
  assert.equal(neighbourMac('10.77.0.3', 'br0', table), null, 'incomplete entry');
  assert.equal(neighbourMac('10.77.0.4', 'br0', table), null, 'other interface');
});

test("the default probe sends DISCOVERs at 0, 1 and 2 s and listens 5 s: past dnsmasq's 3 s ping check, with room", () => {
  assert.deepEqual(discoverSchedule(DEFAULT_TIMING), [0, 1000, 2000]);
  assert.ok(DEFAULT_TIMING.listenMs >= 5000);
  assert.deepEqual(discoverSchedule({ listenMs: 1000, retransmitMs: 1000 }), [0], 'a window too short for a resend');
  assert.deepEqual(discoverSchedule({ listenMs: 5000, retransmitMs: 0 }), [0]);
});

test('property: the schedule starts at once, rises, stays inside the window and sends at most 3', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 60_000 }), (listenMs, retransmitMs) => {
      const at = discoverSchedule({ listenMs, retransmitMs });
      assert.equal(at[0], 0);
      assert.ok(at.length >= 1 && at.length <= 3);
      for (let i = 1; i < at.length; i++) assert.ok(at[i]! > at[i - 1]! && at[i]! < listenMs);
    }),
  );
});
