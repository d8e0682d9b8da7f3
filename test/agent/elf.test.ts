// The DT_NEEDED reader the image builder follows to carry a program's libraries: it agrees with
// readelf on real programs, reads the names of ELF files it is given, and any bytes give a list or
// a reason, never an exception.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { elfNeeded } from '../../src/agent/elf.ts';
import { dependencyNames } from '../../src/agent/programs.ts';
import { skipUnless } from '../helpers/requirements.ts';

/** A minimal 64-bit little-endian ELF: null section, .dynstr, .dynamic with the given NEEDED names. */
function elfWith(needed: string[]): Uint8Array {
  const strtab = [0];
  const offsets: number[] = [];
  for (const n of needed) {
    offsets.push(strtab.length);
    strtab.push(...new TextEncoder().encode(n), 0);
  }
  const dynamic = new DataView(new ArrayBuffer((needed.length + 1) * 16));
  offsets.forEach((o, i) => {
    dynamic.setBigInt64(i * 16, 1n, true);
    dynamic.setBigUint64(i * 16 + 8, BigInt(o), true);
  });
  const strOff = 64;
  const dynOff = strOff + strtab.length;
  const shOff = dynOff + dynamic.byteLength;
  const file = new Uint8Array(shOff + 3 * 64);
  const v = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setBigUint64(0x28, BigInt(shOff), true);
  v.setUint16(0x3a, 64, true);
  v.setUint16(0x3c, 3, true);
  file.set(strtab, strOff);
  file.set(new Uint8Array(dynamic.buffer), dynOff);
  const section = (i: number, type: number, offset: number, size: number, link: number): void => {
    const at = shOff + i * 64;
    v.setUint32(at + 4, type, true);
    v.setBigUint64(at + 0x18, BigInt(offset), true);
    v.setBigUint64(at + 0x20, BigInt(size), true);
    v.setUint32(at + 0x28, link, true);
  };
  section(1, 3, strOff, strtab.length, 0);
  section(2, 6, dynOff, dynamic.byteLength, 1);
  return file;
}

describe('elfNeeded', () => {
  test('agrees with readelf on programs of this machine', { skip: skipUnless(['readelf', '/usr/bin/ipmitool']) }, () => {
    for (const program of ['/usr/bin/ipmitool', process.execPath, '/usr/bin/ls']) {
      const expected = [...execFileSync('readelf', ['-d', program], { encoding: 'utf8' }).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map(
        (m) => m[1],
      );
      const r = elfNeeded(readFileSync(program));
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assert.deepEqual(r.needed, expected, program);
    }
  });

  test('a script or a 32-bit file is refused with the reason', () => {
    assert.deepEqual(elfNeeded(new TextEncoder().encode('#!/bin/sh\necho hi\n'.padEnd(80))), { ok: false, reason: 'not an ELF file' });
    const elf32 = elfWith([]);
    elf32[4] = 1;
    assert.deepEqual(elfNeeded(elf32), { ok: false, reason: 'not a 64-bit little-endian ELF file' });
  });

  test('property: the names written are the names read', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^lib[a-z0-9_+-]{1,20}\.so(\.[0-9]{1,3}){0,3}$/), { maxLength: 12 }), (names) => {
        assert.deepEqual(elfNeeded(elfWith(names)), { ok: true, needed: names });
      }),
    );
  });

  test('property: any bytes, or an ELF file with bytes changed, give names or a reason and never throw', () => {
    const base = elfWith(['libc.so.6', 'libm.so.6']);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (bytes, edits) => {
          const changed = Uint8Array.from(base);
          for (const [at, b] of edits) changed[at] = b;
          for (const input of [bytes, changed]) {
            const r = elfNeeded(input);
            if (r.ok) assert.ok(r.needed.every((n) => /^[A-Za-z0-9._+-]+$/.test(n)));
            else assert.equal(typeof r.reason, 'string');
          }
        },
      ),
    );
  });
});

describe('dependencyNames', () => {
  test('the first alternative of each clause, without version or architecture', () => {
    assert.deepEqual(dependencyNames('libc6 (>= 2.34), libfreeipmi17 (>= 1.1.5), libreadline8 | libedit2, libssl3:any (>= 3.0.0)'), [
      'libc6',
      'libfreeipmi17',
      'libreadline8',
      'libssl3',
    ]);
    assert.deepEqual(dependencyNames(''), []);
  });
});
