// The native fast path decides windows with native/tftp_window_core.c while JavaScript decides them
// with src/tftp/window.ts, and a transfer hands its state back and forth between the two: if they
// ever disagree, a client gets the wrong block or a transfer ends early. Both are fed the same ACKs
// and sends from the same state, and must leave the same window after every step.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { ReadWindow, type AckOutcome } from '../../src/tftp/window.ts';
import { inCI } from '../helpers/requirements.ts';

interface Replay {
  lastBlock: number;
  adopted: boolean;
  steps: number[];
}

interface WindowProbe {
  replay(size: number, blksize: number, windowsize: number, state: [number, number, number, number] | null, ops: number[]): Replay;
}

/** An op as the probe takes it: an ACK's wire block (0-65535), or SEND: the next window goes out. */
const SEND = -1;
const STEP_FIELDS = 10;
const OUTCOME_CODES: Record<AckOutcome, number> = { progress: 0, done: 1, duplicate: 2, stray: 3 };

function loadProbe(): WindowProbe | string {
  try {
    return createRequire(import.meta.url)('../../build/Release/tftp_window_probe.node') as WindowProbe;
  } catch (err) {
    const message = `needs the test addon build/Release/tftp_window_probe.node (${(err as Error).message}); 'npm ci' or 'npm run install' builds it`;
    if (inCI) throw new Error(`CI must not skip: ${message}`);
    return message;
  }
}

const probe = loadProbe();
const skip = typeof probe === 'string' ? probe : false;

interface Shape {
  size: number;
  blksize: number;
  windowsize: number;
}

type WindowState = { acked: number; sentUpTo: number; highestSent: number; retransmits: number };

/** What one step did and the window after it, named, so a mismatch reads as what differs. */
interface Step {
  op: string;
  result: string;
  sent: string;
  acked: number;
  sentUpTo: number;
  highestSent: number;
  retransmits: number;
  ackedBytes: number;
  next: string;
}

function stepOf(op: number, fields: number[]): Step {
  const [result, first, last, acked, sentUpTo, highestSent, retransmits, ackedBytes, nextFirst, nextLast] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const outcome = Object.entries(OUTCOME_CODES).find(([, code]) => code === result)?.[0] ?? `code ${result}`;
  return {
    op: op === SEND ? 'send' : `ACK ${op}`,
    result: op === SEND ? (result === 1 ? 'sent' : 'complete') : outcome,
    sent: result === 1 && op === SEND ? `${first}-${last}` : '-',
    acked,
    sentUpTo,
    highestSent,
    retransmits,
    ackedBytes,
    next: nextFirst === 0 ? 'none' : `${nextFirst}-${nextLast}`,
  };
}

/** window.ts's next window without sending it: a copy of the window, asked. */
function peek(shape: Shape, window: ReadWindow): string {
  const copy = new ReadWindow(shape.size, shape.blksize, shape.windowsize);
  copy.adopt(window.state());
  const range = copy.nextWindow();
  return range ? `${range.first}-${range.last}` : 'none';
}

/** The same ops through window.ts, described as the probe describes its steps. */
function replayInTypeScript(shape: Shape, state: WindowState | null, ops: number[]): { lastBlock: number; steps: Step[] } {
  const window = new ReadWindow(shape.size, shape.blksize, shape.windowsize);
  if (state) window.adopt(state);
  const steps = ops.map((op): Step => {
    let result: string;
    let sent = '-';
    if (op === SEND) {
      const range = window.nextWindow();
      result = range ? 'sent' : 'complete';
      if (range) sent = `${range.first}-${range.last}`;
    } else result = window.onAck(op);
    const now = window.state();
    return {
      op: op === SEND ? 'send' : `ACK ${op}`,
      result,
      sent,
      ...now,
      ackedBytes: now.acked === 0 ? 0 : window.bytesOf(now.acked).end,
      next: peek(shape, window),
    };
  });
  return { lastBlock: window.lastBlock, steps };
}

function replayInC(shape: Shape, state: WindowState | null, ops: number[]): { lastBlock: number; adopted: boolean; steps: Step[] } {
  const native = probe as WindowProbe;
  const tuple: [number, number, number, number] | null = state ? [state.acked, state.sentUpTo, state.highestSent, state.retransmits] : null;
  const out = native.replay(shape.size, shape.blksize, shape.windowsize, tuple, ops);
  assert.equal(out.steps.length, ops.length * STEP_FIELDS);
  const steps = ops.map((op, i) => stepOf(op, out.steps.slice(i * STEP_FIELDS, (i + 1) * STEP_FIELDS)));
  return { lastBlock: out.lastBlock, adopted: out.adopted, steps };
}

/** Both sides agree on every step; on the first that differs, says which and what came before. */
function assertSame(shape: Shape, state: WindowState | null, ops: number[]): void {
  const ts = replayInTypeScript(shape, state, ops);
  const c = replayInC(shape, state, ops);
  assert.ok(c.adopted, 'the C core took the state');
  assert.equal(c.lastBlock, ts.lastBlock, 'last block');
  const at = c.steps.findIndex((step, i) => JSON.stringify(step) !== JSON.stringify(ts.steps[i]));
  if (at < 0) return;
  const context = `${JSON.stringify(shape)}, from ${JSON.stringify(state)}, after ${ts.steps
    .slice(Math.max(0, at - 5), at)
    .map((s) => s.op)
    .join(', ')}`;
  assert.deepEqual(c.steps[at], ts.steps[at], `step ${at} differs (C first, window.ts second) for ${context}`);
}

/**
 * ACKs are chosen relative to the window at the moment they arrive, so that every kind the fast
 * path must tell apart comes up often, however far the transfer is.
 */
type AckKind = 'duplicate' | 'stale' | 'in-window' | 'window-end' | 'beyond' | 'final' | 'any';
type Op = { kind: 'send' } | { kind: 'ack'; ack: AckKind; k: number };

function wireOf(ack: AckKind, k: number, window: ReadWindow): number {
  const { acked, sentUpTo } = window.state();
  const inFlight = Math.max(1, sentUpTo - acked);
  const absolute: Record<AckKind, number> = {
    duplicate: acked,
    stale: acked - 1 - (k % 70_000), // below zero wraps: an ACK from "before" block 0 is far ahead on the wire
    'in-window': acked + 1 + (k % inFlight),
    'window-end': sentUpTo,
    beyond: sentUpTo + 1 + (k % 70_000),
    final: window.lastBlock,
    any: k,
  };
  return (((absolute[ack] % 65536) + 65536) % 65536) | 0;
}

/** Turns relative ops into wire ops by following window.ts (both sides then get the same numbers). */
function resolveOps(shape: Shape, state: WindowState | null, ops: Op[]): number[] {
  const window = new ReadWindow(shape.size, shape.blksize, shape.windowsize);
  if (state) window.adopt(state);
  return ops.map((op) => {
    if (op.kind === 'send') {
      window.nextWindow();
      return SEND;
    }
    const wire = wireOf(op.ack, op.k, window);
    window.onAck(wire);
    return wire;
  });
}

const shapeArb: fc.Arbitrary<Shape> = fc
  .record({
    blksize: fc.oneof(fc.constantFrom(8, 512, 1428, 1468, 65464), fc.integer({ min: 8, max: 65464 })),
    windowsize: fc.oneof(fc.constantFrom(1, 1, 4, 16, 64), fc.integer({ min: 1, max: 65535 })),
    // Up to ~4.6 rollovers of the wire's block number.
    blocks: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 300_000 })),
    /** A last block cut short, or exactly blksize (then an empty block ends the file). */
    extraFraction: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  })
  .map(({ blksize, windowsize, blocks, extraFraction }) => ({ size: blocks * blksize + Math.floor(extraFraction * blksize), blksize, windowsize }));

/** Any state the fast path may be armed with (acked <= sentUpTo <= highestSent <= lastBlock), biased to the rollover and the end. */
function stateArb(shape: Shape): fc.Arbitrary<WindowState | null> {
  const lastBlock = Math.floor(shape.size / shape.blksize) + 1;
  const near = (n: number): fc.Arbitrary<number> => fc.integer({ min: -3, max: 3 }).map((d) => n + d);
  const ackedPick = fc.oneof(fc.nat(), near(65536), near(131072), near(lastBlock), fc.constant(0));
  const armed = fc
    .record({ acked: ackedPick, inFlight: fc.nat({ max: shape.windowsize * 2 }), beyond: fc.oneof(fc.constant(0), fc.nat()), retransmits: fc.nat() })
    .map(({ acked: pick, inFlight, beyond, retransmits }) => {
      const acked = Math.min(Math.max(pick, 0), lastBlock);
      const sentUpTo = acked + Math.min(inFlight, lastBlock - acked);
      const highestSent = sentUpTo + Math.min(beyond, lastBlock - sentUpTo);
      return { acked, sentUpTo, highestSent, retransmits };
    });
  return fc.oneof(fc.constant(null), armed);
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Op>({ kind: 'send' }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      ack: fc.constantFrom<AckKind>('duplicate', 'stale', 'in-window', 'window-end', 'window-end', 'beyond', 'final', 'any'),
      k: fc.nat({ max: 200_000 }),
    }),
  },
);

describe('the C window core and window.ts', { skip }, () => {
  test('from any state, any mix of duplicate, stale, in-window, out-of-window, wrapped and final ACKs leaves the same window', () => {
    fc.assert(
      fc.property(
        shapeArb.chain((shape) => fc.tuple(fc.constant(shape), stateArb(shape), fc.array(opArb, { maxLength: 120 }))),
        ([shape, state, ops]) => assertSame(shape, state, resolveOps(shape, state, ops)),
      ),
      { numRuns: 1500 },
    );
  });

  test('a whole transfer across two block-number rollovers, with losses, duplicates and a stale ACK, agrees step by step', () => {
    const shape: Shape = { size: 140_000 * 8 + 3, blksize: 8, windowsize: 8 };
    const ops: number[] = [];
    const window = new ReadWindow(shape.size, shape.blksize, shape.windowsize);
    const feed = (op: number): void => {
      ops.push(op);
      if (op === SEND) window.nextWindow();
      else window.onAck(op);
    };
    for (let round = 0; !window.complete; round++) {
      feed(SEND);
      const { acked, sentUpTo } = window.state();
      // Every 7th window loses its middle; every 11th ACK comes twice; every 13th a stale ACK arrives first.
      if (round % 13 === 0) feed((acked + 65535) % 65536);
      const ackFor = round % 7 === 0 && sentUpTo - acked > 2 ? acked + 2 : sentUpTo;
      feed(ackFor % 65536);
      if (round % 11 === 0) feed(ackFor % 65536);
    }
    feed(window.lastBlock % 65536); // a final ACK repeated after the end
    feed(SEND); // nothing left to send
    assert.ok(window.lastBlock > 2 * 65536, 'the transfer crosses the rollover twice');
    assertSame(shape, null, ops);
  });

  test('the C core refuses a state no transfer can be in, as arm() must', () => {
    const native = probe as WindowProbe;
    const shape: Shape = { size: 10 * 512, blksize: 512, windowsize: 4 }; // last block 11
    assert.equal(native.replay(shape.size, shape.blksize, shape.windowsize, [3, 2, 5, 0], []).adopted, false, 'acked past sentUpTo');
    assert.equal(native.replay(shape.size, shape.blksize, shape.windowsize, [2, 6, 5, 0], []).adopted, false, 'sentUpTo past highestSent');
    assert.equal(native.replay(shape.size, shape.blksize, shape.windowsize, [2, 5, 12, 0], []).adopted, false, 'past the last block');
    assert.equal(native.replay(shape.size, shape.blksize, shape.windowsize, [11, 11, 11, 0], []).adopted, true, 'complete');
  });
});
