import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkCmdline, describeCmdlineProblems, fillCmdlineTemplate, OUR_PLACEHOLDERS, parseCmdline, placeholderKind } from '../../src/boot/cmdline.ts';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`fast-check seed ${seed} (FC_SEED=${seed} repeats it)`);

const pieces = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('${', '}', '{', '$', '\n', ' ', '${mac}', '${net0/ip}', '${hostnmae}', '${', '${a}b}', '$${x}'),
);
const template = fc.array(pieces, { maxLength: 12 }).map((a) => a.join(''));

function joined(text: string): string {
  return parseCmdline(text)
    .map((t) => (t.kind === 'text' ? t.text : t.raw))
    .join('');
}

test('parsing a cmdline loses nothing: the tokens give the text back, and no text token holds a ${', () => {
  fc.assert(
    fc.property(template, (text) => {
      assert.equal(joined(text), text);
      for (const t of parseCmdline(text)) if (t.kind === 'text') assert.ok(!t.text.includes('${'), JSON.stringify(t));
    }),
    { seed, numRuns: 2000 },
  );
});

test('filling either succeeds with no unknown name left, or names a problem; it never throws', () => {
  const values = Object.fromEntries(Object.keys(OUR_PLACEHOLDERS).map((k) => [k, `v-${k}`]));
  fc.assert(
    fc.property(template, (text) => {
      const filled = fillCmdlineTemplate(text, { values });
      const problems = checkCmdline(text);
      // check-config and boot agree: a template check-config passes is filled, and only then.
      assert.equal(filled.ok, problems.length === 0, `${JSON.stringify(text)} ${JSON.stringify(filled)} ${JSON.stringify(problems)}`);
      if (filled.ok) {
        for (const p of filled.parts) if (p.ipxe) assert.equal(placeholderKind(p.text.slice(2, -1)), 'ipxe');
      } else assert.ok(filled.problem.length > 0);
    }),
    { seed, numRuns: 2000 },
  );
});

test('ours are filled, iPXE settings pass through, anything else is a typo', () => {
  for (const name of ['mac', 'mac_hyphen', 'ip', 'hostname', 'server', 'answer_server', 'answer_url']) assert.equal(placeholderKind(name), 'ours', name);
  for (const name of ['net0/ip', 'net0.dhcp/ip', 'buildarch', 'platform', 'mac:hexhyp', 'smbios/uuid', 'uuid', 'next-server'])
    assert.equal(placeholderKind(name), 'ipxe', name);
  for (const name of ['hostnmae', 'answer-url', 'MAC', '', 'a b', 'x/y/z']) assert.equal(placeholderKind(name), 'unknown', name);
});

test('check-config names the line and column of a typo, and suggests the placeholder meant', () => {
  const text = 'console=ttyS0\nautoinstall hostname=${hostnmae} ip=${net0/ip}\nx=${';
  assert.deepEqual(describeCmdlineProblems('/srv/assets/ubuntu/24.04/cmdline', checkCmdline(text)), [
    '/srv/assets/ubuntu/24.04/cmdline line 2, column 22: unknown placeholder ${hostnmae}: did you mean ${hostname}? pxe-pilot fills ${mac} ${mac_hyphen} ${ip} ${hostname} ${server} ${answer_server} ${answer_url}; iPXE settings pass through when written as iPXE names them (${net0/ip}, ${buildarch})',
    '/srv/assets/ubuntu/24.04/cmdline line 3, column 3: ${ without a closing } on the same line',
  ]);
});

test('an empty value is an error with its reason, not a blank', () => {
  const filled = fillCmdlineTemplate('h=${hostname}', { values: { hostname: '' }, missing: { hostname: '[host 52:54:00:12:34:56] sets no hostname' } });
  assert.deepEqual(filled, { ok: false, problem: '${hostname} in the kernel command line has no value: [host 52:54:00:12:34:56] sets no hostname' });
});
