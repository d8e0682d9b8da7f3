// The newc framing: what `cpio -i` (GNU cpio, as the kernel's unpacker) reads back, for any size and name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { newcFileHeader, newcFileTail, newcWrappedSize } from '../../src/boot/cpio.ts';
import { skipUnless } from '../helpers/requirements.ts';

const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,30}$/);

test('header and tail keep 4-byte alignment and add up to newcWrappedSize', () => {
  fc.assert(
    fc.property(name, fc.integer({ min: 0, max: 0xffffffff }), (n, size) => {
      const head = newcFileHeader(n, size, 1_700_000_000);
      assert.equal(head.length % 4, 0);
      assert.equal(head.subarray(0, 6).toString('latin1'), '070701');
      assert.equal(parseInt(head.subarray(54, 62).toString('latin1'), 16), size, 'filesize field');
      assert.equal((size + newcFileTail(size).length) % 4, 0);
      assert.equal(newcWrappedSize(n, size), head.length + size + newcFileTail(size).length);
    }),
  );
  assert.throws(() => newcFileHeader('../x', 1, 0), RangeError);
  assert.throws(() => newcFileHeader('x', 2 ** 32, 0), RangeError);
});

test('GNU cpio unpacks the wrapped file byte for byte', { skip: skipUnless(['cpio']) }, () => {
  fc.assert(
    fc.property(name, fc.uint8Array({ maxLength: 5000 }), (n, data) => {
      const archive = Buffer.concat([newcFileHeader(n, data.length, 0), data, newcFileTail(data.length)]);
      const dir = mkdtempSync(join(tmpdir(), 'cpio-test-'));
      try {
        execFileSync('cpio', ['-i', '--quiet', '--no-absolute-filenames'], { cwd: dir, input: archive });
        assert.deepEqual(readdirSync(dir), [n]);
        assert.deepEqual(readFileSync(join(dir, n)), Buffer.from(data));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 25 },
  );
});
