import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { describeTemplateErrors, renderTemplate, templateValues } from '../../src/answers/template.ts';
import { hostEntry } from '../helpers/profile.ts';

const host = hostEntry('52:54:00:12:34:56', {
  hostname: 'pve1',
  ip: '10.0.0.21',
  action: 'install',
  profile: 'proxmox-ve/9.1-1',
  vars: { rack: 'r12', root_password_hash: '$6$salt$hash', mac: '52-54-00-12-34-56' },
});

describe('answer templates', () => {
  test('fills built-ins and [host] keys; [host] hostname and ip win over the request', () => {
    const { values, missing } = templateValues(
      { mac: '52:54:00:12:34:56', ip: '10.0.0.99', hostname: 'old', serial: 'ABC', uuid: null, product: 'pve', server: 'http://10.0.0.1' },
      host,
    );
    const out = renderTemplate(
      'fqdn = "{{hostname}}.example"\ncidr = "{{ ip }}/24"\n# {{rack}} {{mac}} {{serial}} {{product}} {{server}}\npw = "{{root_password_hash}}"\n',
      values,
      missing,
    );
    assert.ok(out.ok);
    assert.equal(out.text, 'fqdn = "pve1.example"\ncidr = "10.0.0.21/24"\n# r12 52:54:00:12:34:56 ABC pve http://10.0.0.1\npw = "$6$salt$hash"\n');
  });

  test('an unknown placeholder is an error with its line and column, and no text comes back', () => {
    const out = renderTemplate('[global]\nfqdn = "{{hostname}}"\n  x = "{{nope}}"\n', { hostname: 'h' });
    assert.equal(out.ok, false);
    if (out.ok) return;
    assert.deepEqual(
      out.errors.map((e) => [e.line, e.column]),
      [[3, 8]],
    );
    assert.match(out.errors[0]!.message, /unknown placeholder \{\{nope\}\}.*known here: hostname/);
    assert.equal(describeTemplateErrors('default.toml', out.errors).startsWith('default.toml line 3, column 8: '), true);
  });

  test('a known placeholder without a value says why', () => {
    const { values, missing } = templateValues(
      { mac: 'aa:bb:cc:dd:ee:ff', ip: '10.0.0.5', hostname: null, serial: null, uuid: null, product: 'pve', server: 'http://s' },
      undefined,
    );
    const out = renderTemplate('a = "{{serial}}"\nb = "{{hostname}}"', values, missing);
    assert.equal(out.ok, false);
    if (out.ok) return;
    assert.match(out.errors[0]!.message, /\{\{serial\}\} has no value here: the machine reported no usable DMI serial/);
    assert.match(out.errors[1]!.message, /no \[host\] section/);
  });

  test('unclosed and malformed placeholders are errors; \\{{ is a literal {{', () => {
    assert.equal(renderTemplate('a = "{{host', { host: 'x' }).ok, false);
    assert.equal(renderTemplate('a = "{{ two words }}"', {}).ok, false);
    const lit = renderTemplate('hostname: \\{{ v1.local_hostname }}\nx: {{h}}', { h: 'y' });
    assert.ok(lit.ok);
    assert.equal(lit.text, 'hostname: {{ v1.local_hostname }}\nx: y');
  });

  test('text without placeholders comes back unchanged', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 400 }).filter((s) => !s.includes('{{')),
        (s) => {
          const out = renderTemplate(s, { a: 'b' });
          assert.ok(out.ok);
          assert.equal(out.text, s);
        },
      ),
    );
  });

  test('whatever the template, the result is complete or an error: no placeholder survives, no value is re-expanded', () => {
    const names = fc.constantFrom('a', 'b', 'zz', 'nope');
    const piece = fc.oneof(
      fc.string({ maxLength: 8 }).filter((s) => !s.includes('{') && !s.includes('\\')),
      names.map((n) => `{{${n}}}`),
      fc.constant('{{'),
      fc.constant('\n'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), fc.string({ maxLength: 10 }), (pieces, value) => {
        const template = pieces.join('');
        const out = renderTemplate(template, { a: `{{${value}}}`, b: 'B' }, { zz: 'no value' });
        if (!out.ok) {
          assert.ok(out.errors.length > 0);
          return;
        }
        // Only the value of {{a}} may bring braces back; nothing else is left unfilled.
        assert.equal(out.text.split(`{{${value}}}`).join('').includes('{{'), false);
      }),
      { numRuns: 500 },
    );
  });
});
