// Real TFTP clients from Debian against the service on 127.0.0.1: each fetches a binary and the
// checksum must match; the events say what each negotiated.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { skipUnless } from '../helpers/requirements.ts';
import { waitFor } from '../helpers/netns.ts';
import { makeRoot, sha256, startTftp, type RootFixture, type RunningTftp } from '../helpers/tftp.ts';
import { detailOf } from '../../src/boot/events.ts';

const run = promisify(execFile);

async function runClient(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 60_000 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

describe('real TFTP clients', () => {
  let root: RootFixture;
  let tftp: RunningTftp;
  let out: string;

  before(async () => {
    root = makeRoot();
    tftp = await startTftp(root.dir);
    out = mkdtempSync(join(tmpdir(), 'pxp-tftp-out-'));
  });
  after(async () => {
    await tftp.stop();
    root.remove();
    rmSync(out, { recursive: true, force: true });
  });

  function lastServed(file: string) {
    return tftp.events.filter((e) => e.kind === `RRQ ${file}` && e.decision === 'served').at(-1);
  }

  test('curl, default and --tftp-blksize 1468', { skip: skipUnless(['curl']) }, async () => {
    for (const extra of [[], ['--tftp-blksize', '1468']]) {
      const file = join(out, `curl-${extra.length}.efi`);
      const r = await runClient('curl', ['-sS', '--max-time', '30', ...extra, '-o', file, `tftp://127.0.0.1:${tftp.port}/ipxe.efi`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha256(readFileSync(file)), sha256(root.files['ipxe.efi']!));
    }
    await waitFor('curl events', () => tftp.events.filter((e) => e.kind === 'RRQ ipxe.efi' && e.decision === 'served').length >= 2);
    assert.equal(detailOf(lastServed('ipxe.efi')!, 'tftp')?.blksize, 1468);
  });

  test('curl: a missing file is "not found", a file outside the root is "permission problem"', { skip: skipUnless(['curl']) }, async () => {
    // curl's exit codes 68 (TFTP: file not found) and 69 (TFTP: permission problem) come from our ERROR 1 and 2.
    let r = await runClient('curl', ['-sS', '--max-time', '30', '-o', join(out, 'x'), `tftp://127.0.0.1:${tftp.port}/missing.efi`]);
    assert.equal(r.code, 68, r.stderr);
    r = await runClient('curl', ['-sS', '--max-time', '30', '-o', join(out, 'x'), `tftp://127.0.0.1:${tftp.port}/escape.txt`]);
    assert.equal(r.code, 69, r.stderr);
  });

  test('tftp-hpa: binary get, ascii get, and a refused put', { skip: skipUnless(['tftp']) }, async () => {
    const bin = join(out, 'hpa.kpxe');
    let r = await runClient('tftp', ['-m', 'binary', '127.0.0.1', String(tftp.port), '-c', 'get', 'undionly.kpxe', bin]);
    assert.equal(sha256(readFileSync(bin)), sha256(root.files['undionly.kpxe']!), r.stdout + r.stderr);

    const text = join(out, 'hpa.txt');
    r = await runClient('tftp', ['-m', 'ascii', '127.0.0.1', String(tftp.port), '-c', 'get', 'notes.txt', text]);
    assert.equal(readFileSync(text, 'latin1'), root.files['notes.txt']!.toString('latin1'), r.stdout + r.stderr);

    const upload = join(out, 'upload.bin');
    writeFileSync(upload, 'should never land');
    r = await runClient('tftp', ['-m', 'binary', '127.0.0.1', String(tftp.port), '-c', 'put', upload, 'uploaded.bin']);
    assert.match(r.stdout + r.stderr, /Error code 2: server is read-only/);
    assert.throws(() => readFileSync(join(root.dir, 'uploaded.bin')));
  });

  test('busybox tftp -b 1468', { skip: skipUnless(['busybox']) }, async () => {
    const file = join(out, 'bb.efi');
    const r = await runClient('busybox', ['tftp', '-g', '-b', '1468', '-r', 'efi/x64/snponly.efi', '-l', file, '127.0.0.1', String(tftp.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(readFileSync(file)), sha256(root.files['efi/x64/snponly.efi']!));
    await waitFor('busybox event', () => lastServed('efi/x64/snponly.efi') !== undefined);
    assert.equal(detailOf(lastServed('efi/x64/snponly.efi')!, 'tftp')?.blksize, 1468);
  });

  test('atftp with windowsize 16 (RFC 7440)', { skip: skipUnless(['atftp']) }, async () => {
    const file = join(out, 'atftp.efi');
    const r = await runClient('atftp', [
      '--option',
      'blksize 1468',
      '--option',
      'windowsize 16',
      '-g',
      '-r',
      'ipxe.efi',
      '-l',
      file,
      '127.0.0.1',
      String(tftp.port),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(readFileSync(file)), sha256(root.files['ipxe.efi']!));
    await waitFor('atftp event', () => tftp.events.some((e) => e.kind === 'RRQ ipxe.efi' && detailOf(e, 'tftp')?.windowsize === 16));
    const event = tftp.events.find((e) => e.kind === 'RRQ ipxe.efi' && detailOf(e, 'tftp')?.windowsize === 16)!;
    assert.match(event.reason, /^ipxe\.efi 1\.0 MB in \d+\.\d s, blksize 1468, window 16, \d+ retransmits?$/);
  });

  test('block numbers roll over: a 34 MB file at blksize 512 reaches atftp whole', { skip: skipUnless(['atftp']) }, async () => {
    // More than 65535 blocks of 512 bytes; every 4 KiB stamped with its offset so a misplaced block shows.
    const bytes = Buffer.alloc(34_000_000);
    for (let i = 0; i < bytes.length; i += 4096) bytes.writeUInt32BE(i, i);
    writeFileSync(join(root.dir, 'disk.img'), bytes);
    const file = join(out, 'disk.img');
    const r = await runClient('atftp', [
      '--option',
      'blksize 512',
      '--option',
      'windowsize 16',
      '-g',
      '-r',
      'disk.img',
      '-l',
      file,
      '127.0.0.1',
      String(tftp.port),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256(readFileSync(file)), sha256(bytes));
  });
});
