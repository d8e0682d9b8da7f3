// Which machines a reinstall of many takes: a rule's predicate over the node list, a list of MACs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMacList, selectMachines } from '../../src/power/selection.ts';
import { reinstallTarget, type ReinstallNowValues } from '../../src/power/reinstall-command.ts';
import { UsageError } from '../../src/cli/command.ts';

const mac = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16).padStart(2, '0')).join(':'));

test('property: selectMachines keeps exactly the matching nodes, in order, each once', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ mac, rack: fc.constantFrom('a', 'b') }), { maxLength: 40 }), (nodes) => {
      const chosen = selectMachines(nodes, (n) => n.rack === 'a');
      const expected = [...new Set(nodes.filter((n) => n.rack === 'a').map((n) => n.mac))];
      assert.deepEqual(chosen, expected);
    }),
  );
});

test('property: parseMacList normalises and dedupes MACs, and names the first that is not one', () => {
  fc.assert(
    fc.property(fc.array(mac, { maxLength: 20 }), fc.string({ maxLength: 20 }), (macs, junk) => {
      const upper = macs.map((m) => m.toUpperCase().replace(/:/g, '-'));
      const parsed = parseMacList(upper);
      assert.deepEqual(parsed, { ok: true, macs: [...new Set(macs)] });
      if (!/^[0-9a-f]{2}([:-]?[0-9a-f]{2}){5}$/i.test(junk.trim())) {
        const bad = parseMacList([...upper, junk]);
        if (!bad.ok) assert.equal(bad.bad, junk);
      }
    }),
  );
});

test('the CLI takes one MAC, --macs, or --all --rule NAME, and refuses a mix', () => {
  const base: ReinstallNowValues = { json: false, now: true, all: false, 'no-wait': false };
  assert.deepEqual(reinstallTarget(base, '52-54-00-AA-BB-CC'), { mac: '52:54:00:aa:bb:cc' });
  assert.deepEqual(reinstallTarget({ ...base, macs: '52:54:00:00:00:01, 52:54:00:00:00:02,' }, undefined), {
    macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'],
  });
  assert.deepEqual(reinstallTarget({ ...base, all: true, rule: 'rack-a' }, undefined), { rule: 'rack-a' });
  for (const [values, operand] of [
    [base, undefined],
    [{ ...base, macs: '52:54:00:00:00:01' }, '52:54:00:00:00:02'],
    [{ ...base, all: true }, undefined],
    [{ ...base, rule: 'x' }, undefined],
    [{ ...base, macs: 'zz' }, undefined],
  ] as const)
    assert.throws(() => reinstallTarget(values, operand), UsageError);
});
