// The two condition languages of [rule] sections: globs and number comparisons. fast-check prints
// the seed of any failing run (replay with { seed, path }).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compare, COMPARATORS, formatComparison, globMatches, parseComparison, parseGlob } from '../../src/boot/match.ts';
import { formatInstallDisk } from '../../src/boot/rules.ts';
import { parseInstallDisk } from '../../src/config/rules.ts';

const plainText = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !/[*?\x00-\x1f]/.test(s) && s.trim() !== '' && s === s.trim());

test('a glob without wildcards matches exactly its own text, in any case, and nothing longer', () => {
  fc.assert(
    fc.property(plainText, fc.string({ minLength: 1, maxLength: 3 }), (text, extra) => {
      const g = parseGlob(text);
      assert.ok(g.ok);
      assert.ok(globMatches(g.glob, text));
      if (extra.trim() !== '') assert.equal(globMatches(g.glob, text + extra.trim()), false);
    }),
  );
});

test('* matches any text, ? exactly one character, and regex characters are only themselves', () => {
  fc.assert(
    fc.property(
      plainText,
      fc.string({ maxLength: 20 }).filter((s) => !/[\r\n\u2028\u2029]/.test(s)),
      (prefix, rest) => {
        const star = parseGlob(`${prefix}*`);
        assert.ok(star.ok);
        assert.ok(globMatches(star.glob, `${prefix}${rest}`.trim()) || `${prefix}${rest}`.trim() !== `${prefix}${rest}`);
      },
    ),
  );
  const dell = parseGlob('Dell*');
  assert.ok(dell.ok);
  assert.ok(globMatches(dell.glob, 'DELL Inc.'), 'globs ignore case');
  const q = parseGlob('R?50');
  assert.ok(q.ok);
  assert.ok(globMatches(q.glob, 'r650'));
  assert.equal(globMatches(q.glob, 'R50'), false);
  assert.equal(globMatches(q.glob, 'R6650'), false);
  const dots = parseGlob('a.b+(c)');
  assert.ok(dots.ok);
  assert.ok(globMatches(dots.glob, 'A.B+(C)'));
  assert.equal(globMatches(dots.glob, 'aXb+(c)'), false, 'a dot is a dot, not any character');
  const any = parseGlob('*');
  assert.ok(any.ok);
  assert.equal(globMatches(any.glob, null), false, 'a fact the machine does not give matches nothing, not even *');
});

test('any text parses to a glob or a problem, never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 60 }), (pattern, value) => {
      const g = parseGlob(pattern);
      if (g.ok) assert.equal(typeof globMatches(g.glob, value), 'boolean');
      else assert.match(g.problem, /pattern/);
    }),
  );
});

test('a comparison reads back from its own spelling and agrees with the number operators', () => {
  const op = fc.constantFrom(...COMPARATORS);
  const n = fc.integer({ min: 0, max: 1_000_000 });
  fc.assert(
    fc.property(op, n, n, fc.constantFrom('', ' ', '  '), (o, value, actual, space) => {
      const parsed = parseComparison(`${o}${space}${value}`);
      assert.ok(parsed.ok);
      assert.deepEqual(parsed.comparison, { op: o, value });
      assert.deepEqual(parseComparison(formatComparison(parsed.comparison)), parsed);
      const expected = {
        '>=': actual >= value,
        '<=': actual <= value,
        '>': actual > value,
        '<': actual < value,
        '=': actual === value,
        '!=': actual !== value,
      }[o];
      assert.equal(compare(parsed.comparison, actual), expected);
      assert.equal(compare(parsed.comparison, null), false, 'a missing fact satisfies no comparison');
    }),
  );
  assert.deepEqual(parseComparison('16'), { ok: true, comparison: { op: '=', value: 16 } });
  assert.deepEqual(parseComparison('== 2'), { ok: true, comparison: { op: '=', value: 2 } });
  assert.deepEqual(parseComparison('>= 0.5'), { ok: true, comparison: { op: '>=', value: 0.5 } });
});

test('any text parses to a comparison or a problem naming the syntax, never throws', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (text) => {
      const parsed = parseComparison(text);
      if (!parsed.ok) assert.match(parsed.problem, />= 16/);
      else assert.ok(Number.isFinite(parsed.comparison.value) && parsed.comparison.value >= 0);
    }),
  );
  for (const bad of ['', '>=', '=> 4', '>= -1', '>= 1e3', 'sixteen', '>= 16 GB']) assert.equal(parseComparison(bad).ok, false, bad);
});

test('install_disk: any text is a choice or a problem, never throws; a choice reads back from its spelling', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.constantFrom('smallest-ssd', 'largest'),
        plainText.map((t) => `serial:${t}`),
        plainText.map((t) => `model:${t}*`),
      ),
      (text) => {
        const parsed = parseInstallDisk(text);
        if (!parsed.ok) return;
        const again = parseInstallDisk(formatInstallDisk(parsed.choice));
        assert.ok(again.ok);
        assert.equal(formatInstallDisk(again.choice), formatInstallDisk(parsed.choice));
      },
    ),
  );
});
