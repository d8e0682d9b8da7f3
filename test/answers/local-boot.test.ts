import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseLocalBoot } from '../../src/answers/local-boot.ts';

describe('local-boot whitelist', () => {
  test('exit and sanboot with the allowed options pass, in canonical form', () => {
    assert.deepEqual(parseLocalBoot(' exit '), { ok: true, script: 'exit' });
    assert.deepEqual(parseLocalBoot('sanboot --no-describe --drive 0x80'), { ok: true, script: 'sanboot --no-describe --drive 0x80' });
    assert.deepEqual(
      parseLocalBoot('sanboot  --drive=0x81\t--keep --label boot_1 --uuid 4C4C4544-0051-3510-8057-B7C04F4B4E32 --filename \\EFI\\proxmox\\grubx64.efi'),
      {
        ok: true,
        script: 'sanboot --drive 0x81 --keep --label boot_1 --uuid 4C4C4544-0051-3510-8057-B7C04F4B4E32 --filename \\EFI\\proxmox\\grubx64.efi',
      },
    );
  });

  test('anything else is refused with a reason', () => {
    for (const bad of [
      'chain http://evil/x',
      'exit 1',
      'sanboot iscsi:10.0.0.1::::iqn.x',
      'sanboot --drive 128',
      'sanboot --drive',
      'sanboot --drive 0x80 --drive 0x81',
      'sanboot --keep=1',
      'sanboot --filename ${root}',
      'sanboot --label a;b',
      'sanboot --no-describe\nshell',
      'exit || shell',
      '',
      42,
      null,
      'x'.repeat(300),
    ]) {
      const r = parseLocalBoot(bad);
      assert.equal(r.ok, false, String(bad));
      if (!r.ok) assert.ok(r.error.length > 10);
    }
  });

  test('whatever is accepted is one safe iPXE line that parses to itself', () => {
    const words = fc.constantFrom(
      'sanboot',
      'exit',
      '--no-describe',
      '--keep',
      '--drive',
      '0x80',
      '--filename',
      '\\EFI\\a.efi',
      '--label',
      'x',
      '--uuid',
      '4c4c4544-0051-3510-8057-b7c04f4b4e32',
      '${x}',
      '||',
      'shell',
      '--drive=0x1',
    );
    const input = fc.oneof(
      fc.array(words, { maxLength: 8 }).map((w) => w.join(' ')),
      fc.string({ maxLength: 60 }),
    );
    fc.assert(
      fc.property(input, (s) => {
        const r = parseLocalBoot(s);
        if (!r.ok) return;
        assert.match(r.script, /^(exit|sanboot( [A-Za-z0-9_.\\/-]+)*)$/);
        assert.deepEqual(parseLocalBoot(r.script), r);
      }),
      { numRuns: 2000 },
    );
  });
});
