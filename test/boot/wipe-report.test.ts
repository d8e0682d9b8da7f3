// The agent's wipe report (POST /agent/<mac>/wipe-result) as a parser: any JSON either parses or
// names its first wrong field, never throws; a valid report reads back as sent; the outcome names
// every failed disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_WIPED_DISKS, parseWipeReport, WIPE_METHODS, wipeOutcome } from '../../src/boot/wipe.ts';

const disk = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/),
  sizeBytes: fc.nat(),
  cleared: fc.constantFrom(...WIPE_METHODS),
  ok: fc.boolean(),
  reason: fc.string({ minLength: 1, maxLength: 300 }),
});

test('any JSON value parses or names a field; it never throws', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const got = parseWipeReport(value);
      if (got.ok) assert.ok(got.report.disks.length <= MAX_WIPED_DISKS);
      else assert.ok(got.problem.startsWith(got.field), got.problem);
    }),
  );
});

test('a valid report reads back as sent; the outcome fails exactly when a disk did, naming each', () => {
  fc.assert(
    fc.property(fc.array(disk, { maxLength: 8 }), (disks) => {
      const sent = JSON.parse(JSON.stringify({ disks })) as { disks: typeof disks };
      const got = parseWipeReport(sent);
      assert.ok(got.ok, got.ok ? '' : got.problem);
      if (!got.ok) return;
      assert.deepEqual(got.report.disks, sent.disks);
      const outcome = wipeOutcome(got.report);
      assert.equal(
        outcome.ok,
        disks.every((d) => d.ok),
      );
      for (const d of disks.filter((x) => !x.ok)) assert.ok(outcome.reason.includes(`${d.name} (`), outcome.reason);
    }),
  );
});

test('one wrong field in a valid report is named by its path', () => {
  fc.assert(
    fc.property(fc.array(disk, { minLength: 1, maxLength: 5 }), fc.nat(), fc.constantFrom('name', 'sizeBytes', 'cleared', 'ok'), (disks, pick, field) => {
      const i = pick % disks.length;
      const broken = disks.map((d, j) => (j === i ? { ...d, [field]: field === 'ok' ? 'yes' : -1 } : d));
      const got = parseWipeReport({ disks: broken });
      assert.equal(got.ok, false);
      if (!got.ok) assert.equal(got.field, `disks[${i}].${field}`);
    }),
  );
});
