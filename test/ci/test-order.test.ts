// The test files run in an order shuffled by a printed seed, and the same seed replays it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseSeed, replayableRandom, seededRandom, shuffled } from '../helpers/seeded-random.ts';
import { repoRoot } from '../helpers/standin.ts';

const SEED_LIMIT = 2 ** 32;

interface Listing {
  code: number;
  out: string;
  seed: number | null;
  files: string[];
}

/** `run-tests.mjs --list`: the seed it prints and the order it would run, without running anything. */
function listOrder(args: string[], env: Record<string, string | undefined> = {}): Promise<Listing> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'scripts', 'run-tests.mjs'), '--list', ...args],
      { cwd: repoRoot, env: { ...process.env, PXE_PILOT_TEST_SEED: undefined, ...env } },
      (err, stdout, stderr) => {
        const out = stdout + stderr;
        const seed = /^run-tests: order seed (\d+) \(PXE_PILOT_TEST_SEED=\1 to replay\)$/m.exec(out)?.[1];
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : -1) : 0,
          out,
          seed: seed === undefined ? null : Number(seed),
          files: stdout.split('\n').filter((l) => l.endsWith('.test.ts')),
        });
      },
    );
  });
}

const configTests = readdirSync(join(repoRoot, 'test', 'config'))
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => `test/config/${f}`)
  .sort();

test('a seeded shuffle is a permutation, and the same seed gives the same order', () => {
  fc.assert(
    fc.property(fc.array(fc.string(), { maxLength: 40 }), fc.integer({ min: 0, max: SEED_LIMIT - 1 }), (items, seed) => {
      const order = shuffled(items, seed);
      assert.deepEqual([...order].sort(), [...items].sort());
      assert.deepEqual(shuffled(items, seed), order);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: SEED_LIMIT - 1 }), (seed) => {
      const random = seededRandom(seed);
      for (let i = 0; i < 50; i++) {
        const x = random();
        assert.ok(x >= 0 && x < 1, `${x} is in [0, 1)`);
      }
    }),
  );
});

test('different seeds give different orders', () => {
  const files = Array.from({ length: 12 }, (_, i) => `test/f${i}.test.ts`);
  const orders = new Set(Array.from({ length: 30 }, (_, seed) => shuffled(files, seed).join(' ')));
  assert.ok(orders.size >= 28, `30 seeds gave ${orders.size} orders of 12 files`);
});

test('a seed is a whole number from 0 to 2^32-1; anything else is refused', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: SEED_LIMIT - 1 }), (seed) => assert.equal(parseSeed(String(seed)), seed)));
  for (const bad of ['', '-1', '1.5', '0x10', 'seven', String(SEED_LIMIT), '99999999999', '1e3']) assert.equal(parseSeed(bad), null, `'${bad}'`);
});

test('run-tests prints its seed first; --seed and PXE_PILOT_TEST_SEED replay the order, --seed first', async () => {
  const fresh = await listOrder(['test/config']);
  assert.equal(fresh.code, 0, fresh.out);
  assert.ok(fresh.seed !== null, `a new seed is printed: ${fresh.out}`);
  assert.match(fresh.out, /^run-tests: order seed/, 'the seed is the first line');
  assert.deepEqual([...fresh.files].sort(), configTests, 'every file of the folder, once');

  const replayed = await listOrder(['test/config'], { PXE_PILOT_TEST_SEED: String(fresh.seed) });
  assert.equal(replayed.seed, fresh.seed);
  assert.deepEqual(replayed.files, fresh.files, 'the printed seed replays the order');
  assert.deepEqual(replayed.files, shuffled(configTests, fresh.seed), 'the order is the seeded shuffle of the sorted files');

  const bySeed = await listOrder(['--seed', '12345', 'test/config'], { PXE_PILOT_TEST_SEED: '99' });
  assert.equal(bySeed.seed, 12345, '--seed wins over the environment');
  assert.deepEqual(bySeed.files, shuffled(configTests, 12345));
  assert.deepEqual((await listOrder(['--seed=12345', 'test/config'])).files, bySeed.files);
});

test('run-tests refuses a seed that is not a number, naming it', async () => {
  const bad = await listOrder(['--seed', 'tomorrow', 'test/config']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /order seed is a whole number from 0 to 4294967295, not 'tomorrow'/);
  assert.equal((await listOrder(['test/config'], { PXE_PILOT_TEST_SEED: '-3' })).code, 2);
  const unknown = await listOrder(['--shuffle', 'test/config']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /unknown option --shuffle/);
});

test('a randomised test takes its seed from the environment to replay, and prints it', (t) => {
  const name = 'PXE_PILOT_ORDER_TEST_SEED';
  const printed: string[] = [];
  t.mock.method(console, 'log', (line: string) => void printed.push(line));
  try {
    process.env[name] = '42';
    const given = replayableRandom(name, 'kill points');
    assert.equal(given.seed, 42);
    const expected = seededRandom(42);
    assert.deepEqual([given.random(), given.random()], [expected(), expected()], 'the numbers the seed gives');
    assert.deepEqual(printed, ['kill points: seed 42 (PXE_PILOT_ORDER_TEST_SEED=42 to replay)']);
    delete process.env[name];
    const fresh = replayableRandom(name, 'kill points');
    assert.match(printed[1] ?? '', new RegExp(`^kill points: seed ${fresh.seed} \\(${name}=${fresh.seed} to replay\\)$`));
    process.env[name] = 'soon';
    assert.throws(() => replayableRandom(name, 'kill points'), /PXE_PILOT_ORDER_TEST_SEED=soon: a seed is a whole number/);
  } finally {
    delete process.env[name];
  }
});
