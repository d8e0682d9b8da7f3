// The probe's TFTP client against pxe-pilot's own TFTP service on loopback: the byte count is
// the file's for every block and window size, and a server's ERROR becomes the reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tftpFetch } from '../../src/probe/tftp-client.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { makeRoot, startTftp, type RootFixture, type RunningTftp } from '../helpers/tftp.ts';

// SO_BINDTODEVICE (the probe always binds to its interface) needs CAP_NET_RAW.
describe('probe TFTP client', { skip: skipUnless(['root']) }, () => {
  let root: RootFixture;
  let tftp: RunningTftp;

  before(async () => {
    root = makeRoot();
    tftp = await startTftp(root.dir, { maxBlksize: 8192, maxWindowsize: 16 });
  });

  after(async () => {
    await tftp?.stop();
    root?.remove();
  });

  const fetch = (file: string, blksize: number, windowsize: number) =>
    tftpFetch({ server: '127.0.0.1', port: tftp.port, file, localAddress: '127.0.0.1', interface: 'lo', blksize, windowsize, timeoutMs: 500, retries: 3 });

  test('counts every byte of every file, whatever block and window size it asks for', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('ipxe.efi', 'undionly.kpxe', 'exact.bin', 'empty.bin', 'efi/x64/snponly.efi'),
        fc.integer({ min: 8, max: 9000 }),
        fc.integer({ min: 1, max: 20 }),
        async (file, blksize, windowsize) => {
          const r = await fetch(file, blksize, windowsize);
          assert.ok(r.ok, r.ok ? '' : r.reason);
          assert.equal(r.bytes, root.files[file]!.length);
          // The server grants at most its own limits, never more than asked.
          assert.equal(r.blksize, Math.min(blksize, 8192));
          assert.equal(r.windowsize, windowsize === 1 ? 1 : Math.min(windowsize, 16));
        },
      ),
      { numRuns: 25 },
    );
  });

  test("a missing file: the server's error is the reason", async () => {
    const r = await fetch('no-such.efi', 1468, 4);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.reason, /^TFTP error 1 from 127\.0\.0\.1: /);
  });

  test('no server: it resends, then says nobody answered', async () => {
    const r = await tftpFetch({
      server: '127.0.0.1',
      port: 9,
      file: 'x',
      localAddress: '127.0.0.1',
      interface: 'lo',
      blksize: 1468,
      windowsize: 4,
      timeoutMs: 100,
      retries: 2,
    });
    assert.deepEqual(r, { ok: false, bytes: 0, reason: 'no answer to the request from 127.0.0.1:9, 2 resends' });
  });
});
