// The probe's iPXE script reader: it must find in pxe-pilot's own scripts what iPXE would load,
// and never throw on any text a server sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { expandIpxeVariables, parseIpxeScript, scriptOutcome, type ScriptOutcome } from '../../src/probe/ipxe-script.ts';
import { renderBootstrapScript, renderInstallScript, renderLocalScript, renderMenu, renderRefusalScript } from '../../src/boot/ipxe.ts';
import type { InstallImage } from '../../src/boot/catalogue.ts';

function outcomeOf(text: string): ScriptOutcome {
  const parsed = parseIpxeScript(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return scriptOutcome(parsed.commands);
}

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,15}$/);
const image = fc
  .record({
    product: segment,
    version: segment,
    extras: fc.uniqueArray(segment, { maxLength: 3 }),
    cmdline: fc.option(fc.string({ maxLength: 60 }).filter((s) => !s.includes('${'))),
  })
  .map(({ product, version, extras, cmdline }): InstallImage => ({
    profile: `${product}/${version}`,
    product,
    version,
    kernel: `${product}/${version}/vmlinuz`,
    initrds: [`${product}/${version}/initrd`, ...extras.filter((e) => e !== 'initrd' && e !== 'vmlinuz').map((e) => `${product}/${version}/${e}`)],
    cmdline,
  }));
const vars = { mac: '52:54:00:12:34:56', ip: '10.0.0.50', hostname: 'pve1', server: 'http://10.0.0.1:8080', answerUrl: 'http://10.0.0.1:8080/answer' };

test('never throws, and accepts exactly the texts whose first non-blank line is the #!ipxe signature', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string().map((s) => `#!ipxe\n${s}`),
        fc
          .array(fc.constantFrom('#!ipxe', 'goto a', ':a', 'chain x', 'kernel k', 'initrd i', 'boot', 'exit', '', '  ', 'echo hi', 'choose --default a t'))
          .map((l) => l.join('\n')),
      ),
      (text) => {
        const parsed = parseIpxeScript(text);
        const first = text.split(/\r?\n/).find((l) => l.trim() !== '');
        assert.equal(parsed.ok, first !== undefined && first.trim().startsWith('#!ipxe'));
        if (parsed.ok) scriptOutcome(parsed.commands); // terminates, even for goto loops
      },
    ),
  );
});

test('an install script: the kernel and every initrd, in order, with their names', () => {
  fc.assert(
    // Extras without `${`: a cmdline placeholder typo is refused instead (test/boot/ipxe.test.ts).
    fc.property(
      image,
      fc.string({ maxLength: 40 }).filter((s) => !s.includes('${')),
      (img, extra) => {
        const outcome = outcomeOf(renderInstallScript(img, 'http://10.0.0.1:8080/assets', extra, vars, 'host has action=install'));
        assert.equal(outcome.kind, 'kernel');
        if (outcome.kind !== 'kernel') return;
        assert.equal(outcome.kernel.url, `http://10.0.0.1:8080/assets/${img.kernel}`);
        assert.deepEqual(
          outcome.initrds.map((i) => i.url),
          img.initrds.map((rel) => `http://10.0.0.1:8080/assets/${rel}`),
        );
        assert.deepEqual(
          outcome.initrds.map((i) => i.name),
          img.initrds.map((rel) => rel.slice(rel.lastIndexOf('/') + 1)),
        );
      },
    ),
  );
});

test('the bootstrap chains to /boot with the MAC iPXE substitutes', () => {
  const outcome = outcomeOf(renderBootstrapScript('http://10.0.0.1:8080'));
  assert.equal(outcome.kind, 'chain');
  if (outcome.kind !== 'chain') return;
  const url = expandIpxeVariables(outcome.url, { 'mac:hexhyp': '52-54-00-12-34-56', buildarch: 'x86_64', platform: 'efi' });
  assert.equal(url, 'http://10.0.0.1:8080/boot?mac=52-54-00-12-34-56&arch=x86_64&platform=efi&uuid=&serial=');
});

test('a menu is followed to its default: an image chains to /install, local returns to the firmware', () => {
  fc.assert(
    fc.property(fc.uniqueArray(image, { minLength: 1, maxLength: 4, selector: (i) => i.profile }), fc.nat(), (images, pick) => {
      const chosen = images[pick % images.length]!;
      const menu = (defaultItem: string) =>
        renderMenu(images, { mac: vars.mac, httpBase: 'http://10.0.0.1:8080', defaultItem, timeoutSeconds: 5, reason: 'menu' });
      const toImage = outcomeOf(menu(chosen.profile));
      assert.equal(toImage.kind, 'chain');
      if (toImage.kind === 'chain')
        assert.equal(toImage.url, `http://10.0.0.1:8080/install?mac=52-54-00-12-34-56&profile=${encodeURIComponent(chosen.profile)}`);
      assert.deepEqual(outcomeOf(menu('local')), { kind: 'exit', said: ['pxe-pilot: booting from local disk'] });
    }),
  );
});

test('local and refusal scripts return to the firmware and say why', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (reason) => {
      for (const script of [renderLocalScript(reason), renderRefusalScript(reason)]) {
        const outcome = outcomeOf(script);
        assert.equal(outcome.kind, 'exit');
        if (outcome.kind === 'exit') assert.equal(outcome.said.length, 1);
      }
    }),
  );
});

test('|| and && tails, --name forms and flags are read as iPXE reads them', () => {
  const outcome = outcomeOf(
    [
      '#!ipxe',
      'kernel --autofree http://s/k a=1 b=2 || goto failed',
      'initrd --name=one http://s/1 && echo ok',
      'initrd --name two http://s/2',
      'module http://s/3',
      'boot',
      'initrd http://s/late',
    ].join('\n'),
  );
  assert.deepEqual(outcome, {
    kind: 'kernel',
    kernel: { url: 'http://s/k' },
    args: 'a=1 b=2',
    initrds: [{ url: 'http://s/1', name: 'one' }, { url: 'http://s/2', name: 'two' }, { url: 'http://s/3' }],
  });
  assert.deepEqual(outcomeOf('#!ipxe\ngoto here\nchain http://s/skipped\n:here\nboot http://s/next.ipxe\n'), { kind: 'chain', url: 'http://s/next.ipxe' });
  assert.deepEqual(outcomeOf('#!ipxe\ngoto nowhere\nchain http://s/x\n'), { kind: 'exit', said: [] });
  assert.equal(parseIpxeScript('<html>404</html>').ok, false);
});

test('variables: known ones by full name or by name, unknown ones vanish, other text stays', () => {
  fc.assert(
    fc.property(
      fc.string().filter((s) => !s.includes('${')),
      fc.stringMatching(/^[a-z0-9/]{1,12}$/),
      fc.string({ maxLength: 12 }).filter((s) => !s.includes('$')),
      (text, name, value) => {
        assert.equal(expandIpxeVariables(text, { [name]: value }), text);
        assert.equal(expandIpxeVariables(`${text}\${${name}}${text}`, { [name]: value }), `${text}${value}${text}`);
        assert.equal(expandIpxeVariables(`\${${name}:uristring}`, { [name]: value }), value);
        assert.equal(expandIpxeVariables(`a\${${name}}b`, {}), 'ab');
      },
    ),
  );
});
