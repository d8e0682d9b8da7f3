// The native fast path of a transfer (src/tftp/pump.ts): in-order ACKs are answered without
// JavaScript while the bytes are in memory. What a client sees must not change: retransmissions
// of the right block, limits, the recorded bytes, and files read from disk in chunks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { detailOf } from '../../src/boot/events.ts';
import { waitFor } from '../helpers/netns.ts';
import { RawClient, download, makeRoot, sha256, startTftp, type RootFixture } from '../helpers/tftp.ts';

describe('tftp transfers past their first blocks', () => {
  let root: RootFixture;
  before(() => {
    // Over the 8 MiB memory cache: streamed from disk in 1 MiB reads.
    root = makeRoot({ 'big.bin': randomBytes(9_000_000) });
  });
  after(() => root.remove());

  test('a client that stops ACKing midway gets its next block again, a bounded number of times, then ERROR 0', async () => {
    const tftp = await startTftp(root.dir, { retransmitTimeout: 0.3, retries: 2, idleTimeout: 30 });
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi');
      for (let block = 1; block <= 5; block++) {
        const got = await client.next();
        assert.ok(got?.packet.opcode === 3 && got.packet.block === block, `DATA ${block}`);
        client.ack(block, got.from.port);
      }
      await waitFor('transfer given up', () => tftp.events.some((e) => e.kind === 'RRQ ipxe.efi'));
      const got = await client.drain(50);
      const blocks = got.map((r) => (r.packet.opcode === 3 ? r.packet.block : r.packet.opcode === 5 ? `ERROR ${r.packet.code}` : r.packet.opcode));
      assert.deepEqual(blocks, [6, 6, 6, 'ERROR 0'], 'DATA 6 once and twice again, then the error');
      const event = tftp.events.find((e) => e.kind === 'RRQ ipxe.efi')!;
      assert.equal(event.decision, 'error');
      assert.match(event.reason, /no ACK after 2 retransmissions/);
      assert.equal(detailOf(event, 'tftp')?.bytes, 5 * 512, 'the five acknowledged blocks are counted');
      assert.equal(detailOf(event, 'tftp')?.retransmits, 2);
      assert.equal(tftp.service.stats().active, 0);
    } finally {
      client.close();
      await tftp.stop();
    }
  });

  test('a file read from disk in chunks arrives whole in lockstep, with blocks lost on both sides of a read boundary', async () => {
    const tftp = await startTftp(root.dir, { retransmitTimeout: 0.2, retries: 5 });
    try {
      // 1 MiB / 1468 B: block 715 straddles the first read boundary.
      const lost = new Set([714, 715, 716, 1429]);
      const { bytes } = await download(tftp.port, 'big.bin', { blksize: 1468, drop: (b) => lost.has(b) });
      assert.equal(sha256(bytes), sha256(root.files['big.bin']!));
      await waitFor('served event', () => tftp.events.some((e) => e.kind === 'RRQ big.bin'));
      const event = tftp.events.find((e) => e.kind === 'RRQ big.bin')!;
      assert.equal(event.decision, 'served');
      assert.equal(detailOf(event, 'tftp')?.bytes, 9_000_000);
      // Each lost block is sent again; a client stalled past the timeout on a loaded machine may cause more.
      assert.ok(Number(detailOf(event, 'tftp')?.retransmits) >= lost.size, 'each lost block sent again');
    } finally {
      await tftp.stop();
    }
  });

  test('windowsize 8 over a file read from disk: every byte arrives, and a loss-free transfer retransmits nothing', async () => {
    const tftp = await startTftp(root.dir, { retransmitTimeout: 2, retries: 5 });
    try {
      const { bytes } = await download(tftp.port, 'big.bin', { blksize: 1468, windowsize: 8 });
      assert.equal(sha256(bytes), sha256(root.files['big.bin']!));
      await waitFor('served event', () => tftp.events.some((e) => e.kind === 'RRQ big.bin'));
      const event = tftp.events.find((e) => e.kind === 'RRQ big.bin')!;
      assert.equal(event.decision, 'served');
      assert.equal(detailOf(event, 'tftp')?.retransmits, 0);
    } finally {
      await tftp.stop();
    }
  });
});
