// Arbitrary datagrams at the request port and at a live transfer's port: nothing throws out of a
// handler, the transfer under fire still delivers its file, and a real client downloads afterwards.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { encodeRequest } from '../../src/tftp/packet.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { RawClient, makeRoot, sha256, startTftp, type RootFixture, type RunningTftp } from '../helpers/tftp.ts';

const run = promisify(execFile);

/** Datagrams a confused or hostile host might send: random bytes, near-requests, extremes of size. */
const hostileDatagram: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 700 }).map((a) => Buffer.from(a)),
  fc
    .tuple(
      fc.constantFrom(1, 2, 3, 4, 5, 6, 7, 0xffff),
      fc.array(
        fc.oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom('octet', 'netascii', 'blksize', 'windowsize', 'tsize', 'timeout', '0', '65464', '99999999999', 'ipxe.efi', '../x'),
        ),
        {
          maxLength: 8,
        },
      ),
      fc.boolean(),
    )
    .map(([opcode, fields, terminated]) => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(opcode);
      return Buffer.concat([head, Buffer.from(fields.join('\u0000') + (terminated ? '\u0000' : ''), 'utf8')]);
    }),
  fc.constantFrom(Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 4]), Buffer.alloc(65_507, 0xff), Buffer.alloc(65_507, 0)),
);

describe('hostile datagrams', () => {
  let root: RootFixture;
  let tftp: RunningTftp;
  let out: string;

  before(async () => {
    root = makeRoot();
    // Short timers so transfers the fuzzer opens by chance end quickly; limits high so they do not block the final download.
    tftp = await startTftp(root.dir, { retransmitTimeout: 0.2, retries: 2, maxTransfers: 10_000, maxTransfersPerClient: 10_000 });
    out = mkdtempSync(join(tmpdir(), 'pxp-tftp-hostile-'));
  });
  after(async () => {
    await tftp.stop();
    root.remove();
    rmSync(out, { recursive: true, force: true });
  });

  test('arbitrary datagrams at the request port, then curl still downloads', { skip: skipUnless(['curl']) }, async () => {
    const attacker = await RawClient.open();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(hostileDatagram, { minLength: 1, maxLength: 10 }), async (datagrams) => {
          for (const d of datagrams) attacker.send(d, tftp.port);
          await attacker.drain(2);
        }),
        { numRuns: 150 },
      );
    } finally {
      attacker.close();
    }
    assert.ok(tftp.service.stats().malformed > 0, 'the junk was seen and counted');
    const file = join(out, 'after-request-fuzz.efi');
    await run('curl', ['-sS', '--max-time', '30', '--tftp-blksize', '1468', '-o', file, `tftp://127.0.0.1:${tftp.port}/ipxe.efi`]);
    assert.equal(sha256(readFileSync(file)), sha256(root.files['ipxe.efi']!));
  });

  test('arbitrary datagrams from strangers at a live transfer port: the transfer completes intact', async () => {
    // A patient server of its own: the transfer under fire waits for its client's first ACK while
    // the fuzzer runs, which on a loaded machine can take longer than the short timers above allow.
    const patient = await startTftp(root.dir, { retransmitTimeout: 5, retries: 5 });
    const client = await RawClient.open();
    const attacker = await RawClient.open();
    try {
      client.send(encodeRequest({ filename: 'undionly.kpxe', mode: 'octet', options: [{ name: 'windowsize', value: '4' }] }), patient.port);
      const oack = await client.next();
      assert.equal(oack?.packet.opcode, 6);
      const tid = oack.from.port;
      await fc.assert(
        fc.asyncProperty(fc.array(hostileDatagram, { minLength: 1, maxLength: 10 }), async (datagrams) => {
          for (const d of datagrams) attacker.send(d, tid);
          await attacker.drain(2);
        }),
        { numRuns: 100 },
      );
      // Every reply to the attacker was ERROR 5; the transfer itself was not moved.
      // Now the real client finishes the download it started.
      client.ack(0, tid);
      const chunks: Buffer[] = [];
      let expected = 1;
      let since = 0;
      for (;;) {
        const got = await client.next();
        assert.ok(got, `block ${expected} arrived`);
        if (got.packet.opcode !== 3) continue;
        if (got.packet.block !== expected % 65536) continue;
        chunks.push(got.packet.data);
        expected += 1;
        since += 1;
        const last = got.packet.data.length < 512;
        if (since === 4 || last) {
          client.ack(got.packet.block, tid);
          since = 0;
        }
        if (last) break;
      }
      assert.equal(sha256(Buffer.concat(chunks)), sha256(root.files['undionly.kpxe']!));
      assert.ok(patient.service.stats().strangers > 0);
    } finally {
      client.close();
      attacker.close();
      await patient.stop();
    }
  });

  test('arbitrary datagrams from the client itself at its transfer port never take the server down', { skip: skipUnless(['curl']) }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileDatagram, { minLength: 1, maxLength: 6 }), async (datagrams) => {
        const client = await RawClient.open();
        try {
          client.request(tftp.port, 'ipxe.efi', [{ name: 'blksize', value: '1468' }]);
          const first = await client.next();
          assert.ok(first, 'the server answers every fresh request');
          for (const d of datagrams) client.send(d, first.from.port);
          await client.drain(2);
        } finally {
          client.close();
        }
      }),
      { numRuns: 60 },
    );
    const file = join(out, 'after-transfer-fuzz.efi');
    await run('curl', ['-sS', '--max-time', '30', '-o', file, `tftp://127.0.0.1:${tftp.port}/ipxe.efi`]);
    assert.equal(sha256(readFileSync(file)), sha256(root.files['ipxe.efi']!));
  });
});
