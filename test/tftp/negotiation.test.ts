// Option negotiation, filename checks and netascii: the pure decisions behind every request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { negotiate } from '../../src/tftp/options.ts';
import { checkRequestPath } from '../../src/tftp/path.ts';
import { fromNetascii, toNetascii } from '../../src/tftp/netascii.ts';

const limits = { maxBlksize: 1468, maxWindowsize: 64 };

test('no options: RFC 1350 defaults and no OACK', () => {
  const result = negotiate([], 1000, limits);
  assert.ok(result.ok);
  assert.equal(result.params.blksize, 512);
  assert.equal(result.params.windowsize, 1);
  assert.deepEqual(result.params.oack, []);
});

test('blksize and windowsize are capped by the profile; tsize answers the real size; unknown options are left out', () => {
  const result = negotiate(
    [
      { name: 'blksize', value: '65464' },
      { name: 'tsize', value: '0' },
      { name: 'windowsize', value: '1000' },
      { name: 'multicast', value: '' },
      { name: 'timeout', value: '3' },
    ],
    1_048_576,
    limits,
  );
  assert.ok(result.ok);
  assert.deepEqual(result.params.oack, [
    { name: 'blksize', value: '1468' },
    { name: 'tsize', value: '1048576' },
    { name: 'windowsize', value: '64' },
    { name: 'timeout', value: '3' },
  ]);
  assert.equal(result.params.timeout, 3);
  assert.deepEqual(result.params.ignored, ['unknown option multicast']);
});

test('absurd option values are refused, with the value named', () => {
  for (const [name, value] of [
    ['blksize', '7'],
    ['blksize', '-1'],
    ['blksize', '1e3'],
    ['blksize', '99999999999999999999'],
    ['windowsize', '0'],
    ['timeout', '0'],
    ['timeout', '256'],
    ['tsize', 'big'],
  ] as const) {
    const result = negotiate([{ name, value }], 10, limits);
    assert.equal(result.ok, false, `${name}=${value}`);
    if (!result.ok) assert.match(result.reason, new RegExp(name));
  }
});

test('whatever the client asks, the accepted values stay within RFC and profile bounds', () => {
  const optionArb = fc.record({
    name: fc.constantFrom('blksize', 'windowsize', 'timeout', 'tsize', 'other'),
    value: fc.oneof(fc.nat({ max: 100_000 }).map(String), fc.string({ maxLength: 12 })),
  });
  fc.assert(
    fc.property(
      fc.array(optionArb, { maxLength: 8 }),
      fc.integer({ min: 8, max: 65464 }),
      fc.integer({ min: 1, max: 65535 }),
      (options, maxBlksize, maxWindowsize) => {
        const result = negotiate(options, 4096, { maxBlksize, maxWindowsize });
        if (!result.ok) return;
        const { blksize, windowsize, oack } = result.params;
        assert.ok(blksize >= 8 && blksize <= Math.max(512, maxBlksize) && blksize <= 65464);
        assert.ok(windowsize >= 1 && windowsize <= maxWindowsize);
        for (const entry of oack) assert.ok(['blksize', 'windowsize', 'timeout', 'tsize'].includes(entry.name));
        assert.equal(new Set(oack.map((o) => o.name)).size, oack.length, 'each option acknowledged once');
      },
    ),
    { numRuns: 1000 },
  );
});

test('paths: ../, backslashes and control characters never reach the filesystem; a leading / means the root', () => {
  for (const bad of ['../etc/passwd', 'a/../../b', '/../etc/passwd', 'boot\\x64\\wdsnbp.com', 'a\u0001b', '..', '.', '', '/', 'dir/..']) {
    assert.equal(checkRequestPath(bad).ok, false, bad);
  }
  assert.deepEqual(checkRequestPath('ipxe.efi'), { ok: true, segments: ['ipxe.efi'] });
  assert.deepEqual(checkRequestPath('efi//x64/./snponly.efi'), { ok: true, segments: ['efi', 'x64', 'snponly.efi'] });
  // GRUB and shim send a leading slash: the same file as without it, inside the root (as tftpd-hpa reads it).
  assert.deepEqual(checkRequestPath('/debian-installer/amd64/grub/grub.cfg'), { ok: true, segments: ['debian-installer', 'amd64', 'grub', 'grub.cfg'] });
  assert.deepEqual(checkRequestPath('/etc/passwd'), { ok: true, segments: ['etc', 'passwd'] });
});

test('a leading slash never changes which file is meant, and never reaches outside the root', () => {
  const segment = fc.oneof(fc.constantFrom('..', '.', '', 'a', 'grub', 'x64.efi'), fc.string({ maxLength: 5 }));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 6 }), fc.integer({ min: 1, max: 3 }), (parts, slashes) => {
      const relative = checkRequestPath(parts.join('/'));
      const absolute = checkRequestPath('/'.repeat(slashes) + parts.join('/'));
      if (parts.join('/') === '') return; // "empty filename" and "names the root": both refused
      assert.deepEqual(absolute.ok ? absolute.segments : null, relative.ok ? relative.segments : null);
      if (absolute.ok) {
        const joined = ['root', ...absolute.segments].join('/');
        assert.ok(joined.startsWith('root/') && !absolute.segments.includes('..'));
      }
    }),
    { numRuns: 2000 },
  );
});

test('an accepted path has no segment that could climb out of the root', () => {
  const segment = fc.oneof(fc.constantFrom('..', '.', '', '/', '\\', 'a', 'ipxe.efi'), fc.string({ maxLength: 6 }));
  fc.assert(
    fc.property(fc.array(segment, { maxLength: 6 }), (parts) => {
      const result = checkRequestPath(parts.join('/'));
      if (!result.ok) return;
      for (const s of result.segments) {
        assert.ok(s !== '..' && s !== '.' && s !== '' && !s.includes('/') && !s.includes('\\') && !s.includes('\u0000'));
      }
    }),
    { numRuns: 2000 },
  );
});

test('netascii: LF goes out as CR LF, CR as CR NUL, and a client turns it back', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc')), Buffer.from('a\r\nb\r\u0000c', 'latin1'));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const local = Buffer.from(bytes);
      assert.deepEqual(fromNetascii(toNetascii(local)), local);
    }),
    { numRuns: 1000 },
  );
});
