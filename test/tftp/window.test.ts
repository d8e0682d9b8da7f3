// The sending side's block bookkeeping, driven by a simulated client over a lossy, duplicating,
// reordering channel: every file arrives whole, and a duplicate ACK never causes a resend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReadWindow } from '../../src/tftp/window.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

test('lockstep: each ACK releases exactly the next block; duplicate ACKs release nothing', () => {
  const window = new ReadWindow(2048, 512, 1); // 4 full blocks and an empty fifth
  assert.equal(window.lastBlock, 5);
  assert.deepEqual(window.nextWindow(), { first: 1, last: 1 });
  assert.equal(window.onAck(1), 'progress');
  assert.deepEqual(window.nextWindow(), { first: 2, last: 2 });
  assert.equal(window.onAck(1), 'duplicate');
  assert.equal(window.onAck(3), 'stray');
  assert.equal(window.onAck(2), 'progress');
  assert.equal(window.retransmits, 0);
});

test('window: an ACK inside the window restarts the next window just after it', () => {
  const window = new ReadWindow(512 * 10, 512, 4);
  assert.deepEqual(window.nextWindow(), { first: 1, last: 4 });
  assert.equal(window.onAck(1), 'progress'); // the client lost block 2
  assert.deepEqual(window.nextWindow(), { first: 2, last: 5 });
  assert.equal(window.retransmits, 3, 'blocks 2, 3 and 4 went out twice');
});

test('block numbers roll over: absolute block 65536 is 0 on the wire', () => {
  const blocks = 70_000;
  const window = new ReadWindow(blocks * 8 - 1, 8, 16);
  let outcome = 'progress';
  while (outcome === 'progress') {
    const range = window.nextWindow();
    assert.ok(range);
    outcome = window.onAck(range.last % 65536);
  }
  assert.equal(outcome, 'done');
  assert.equal(window.acknowledged, blocks);
  assert.equal(window.retransmits, 0);
});

type Fate = 'ok' | 'drop' | 'dup';

/**
 * Drives a ReadWindow as the transport does (a window on each new ACK, the same window again on a
 * timeout when nothing is in flight) against a client per RFC 7440: it takes blocks in order, ACKs
 * a window's end or the last block, and on a gap or an old block ACKs the last block it has.
 */
function simulate(size: number, blksize: number, windowsize: number, dataFate: (n: number) => Fate, ackFate: (n: number) => Fate) {
  const window = new ReadWindow(size, blksize, windowsize);
  const toClient: number[] = [];
  const toServer: number[] = [];
  let received = 0;
  let expected = 1;
  let sinceAck = 0;
  let sent = 0;
  let acks = 0;
  let progress = 0;
  let timeouts = 0;
  const sendWindow = (): void => {
    const range = window.nextWindow();
    if (!range) return;
    for (let block = range.first; block <= range.last; block++) {
      const fate = dataFate(sent++);
      if (fate !== 'drop') toClient.push(block);
      if (fate === 'dup') toClient.push(block);
    }
  };
  const ack = (block: number): void => {
    const fate = ackFate(acks++);
    if (fate !== 'drop') toServer.push(block % 65536);
    if (fate === 'dup') toServer.push(block % 65536);
  };
  sendWindow();
  for (let step = 0; step < 2_000_000; step++) {
    const block = toClient.shift();
    if (block !== undefined) {
      if (block === expected) {
        const { start, end } = window.bytesOf(block);
        received += end - start;
        expected += 1;
        sinceAck += 1;
        if (sinceAck === windowsize || end - start < blksize) {
          ack(block);
          sinceAck = 0;
        }
      } else {
        ack(expected - 1);
        sinceAck = 0;
      }
      continue;
    }
    const acked = toServer.shift();
    if (acked !== undefined) {
      const outcome = window.onAck(acked);
      if (outcome === 'done') return { done: true, received, sent, progress, timeouts, retransmits: window.retransmits };
      if (outcome === 'progress') {
        progress += 1;
        sendWindow();
      }
      continue;
    }
    timeouts += 1; // nothing in flight: the sender's timer fires
    sendWindow();
  }
  return { done: false, received, sent, progress, timeouts, retransmits: window.retransmits };
}

/** A seeded channel: each packet independently dropped or doubled with the given odds. */
function channel(seed: number, dropRate: number, dupRate: number): (n: number) => Fate {
  const random = seededRandom(seed);
  return () => {
    const r = random();
    return r < dropRate ? 'drop' : r < dropRate + dupRate ? 'dup' : 'ok';
  };
}

test('over a channel that drops and duplicates, every byte arrives in order and duplicate ACKs send nothing', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 40_000 }),
      fc.constantFrom(8, 512, 1468),
      fc.integer({ min: 1, max: 32 }),
      fc.integer(),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      fc.double({ min: 0, max: 0.3, noNaN: true }),
      (size, blksize, windowsize, seed, dropRate, dupRate) => {
        const result = simulate(size, blksize, windowsize, channel(seed, dropRate, dupRate), channel(~seed, dropRate, dupRate));
        assert.ok(result.done, 'transfer completes');
        assert.equal(result.received, size);
        // Windows go out only on progress or on a timeout: duplicate ACKs, however many, add none.
        assert.ok(result.sent <= windowsize * (result.progress + result.timeouts + 1), `sent ${result.sent} blocks`);
        assert.ok(result.progress <= Math.floor(size / blksize) + 1);
      },
    ),
    { numRuns: 300 },
  );
});

test('a loss-free channel never retransmits', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100_000 }), fc.constantFrom(512, 1468), fc.integer({ min: 1, max: 64 }), (size, blksize, windowsize) => {
      const result = simulate(
        size,
        blksize,
        windowsize,
        () => 'ok',
        () => 'ok',
      );
      assert.ok(result.done);
      assert.equal(result.retransmits, 0);
      assert.equal(result.sent, Math.floor(size / blksize) + 1);
    }),
    { numRuns: 200 },
  );
});
