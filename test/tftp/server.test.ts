// The TFTP service on 127.0.0.1, driven packet by packet: what a client sees on the wire
// and what the operator sees in the events.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { BindError } from '../../src/service.ts';
import { testProfile } from '../helpers/profile.ts';
import { silentLogger } from '../../src/log.ts';
import { TftpService } from '../../src/tftp/server.ts';
import { toNetascii } from '../../src/tftp/netascii.ts';
import { encodeRequest, type TftpPacket } from '../../src/tftp/packet.ts';
import { waitFor } from '../helpers/netns.ts';
import { RawClient, download, makeRoot, sha256, startTftp, type RootFixture, type RunningTftp } from '../helpers/tftp.ts';
import { detailOf } from '../../src/boot/events.ts';

function isData(p: TftpPacket | undefined, block?: number): boolean {
  return p?.opcode === 3 && (block === undefined || p.block === block);
}

function errorOf(p: TftpPacket | undefined): { code: number; message: string } | null {
  return p?.opcode === 5 ? { code: p.code, message: p.message } : null;
}

describe('tftp service on loopback', () => {
  let root: RootFixture;
  let tftp: RunningTftp;

  before(async () => {
    root = makeRoot();
    tftp = await startTftp(root.dir, { retransmitTimeout: 5 });
  });
  after(async () => {
    await tftp.stop();
    root.remove();
  });

  test('plain RFC 1350 read: DATA 1 comes from a new port (its own TID), the file arrives whole, one event tells it', async () => {
    const { bytes, serverPort } = await download(tftp.port, 'undionly.kpxe');
    assert.notEqual(serverPort, tftp.port);
    assert.equal(sha256(bytes), sha256(root.files['undionly.kpxe']!));
    await waitFor('served event', () => tftp.events.some((e) => e.kind === 'RRQ undionly.kpxe'));
    const event = tftp.events.find((e) => e.kind === 'RRQ undionly.kpxe')!;
    assert.equal(event.protocol, 'tftp');
    assert.equal(event.decision, 'served');
    assert.equal(event.mac, null);
    assert.match(event.reason, /^undionly\.kpxe 74\.2 kB in \d+\.\d s, blksize 512, window 1, 0 retransmits$/);
    assert.equal(event.detail?.['bytes'], 74_213);
    assert.equal(detailOf(event, 'tftp')?.client, '127.0.0.1');
  });

  test('files that end on a block boundary end with an empty block; empty files are one empty block', async () => {
    assert.equal(sha256((await download(tftp.port, 'exact.bin')).bytes), sha256(root.files['exact.bin']!));
    assert.equal((await download(tftp.port, 'empty.bin')).bytes.length, 0);
  });

  test('options: OACK carries only what was accepted, capped by the profile; ACK 0 starts the window', async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi', [
        { name: 'blksize', value: '9000' },
        { name: 'tsize', value: '0' },
        { name: 'windowsize', value: '4' },
        { name: 'rollover', value: '0' },
      ]);
      const oack = await client.next();
      assert.deepEqual(oack?.packet, {
        opcode: 6,
        options: [
          { name: 'blksize', value: '1468' },
          { name: 'tsize', value: '1000000' },
          { name: 'windowsize', value: '4' },
        ],
      });
      client.ack(0, oack.from.port);
      const window = [await client.next(), await client.next(), await client.next(), await client.next()];
      assert.deepEqual(
        window.map((r) => (r?.packet.opcode === 3 ? [r.packet.block, r.packet.data.length] : null)),
        [
          [1, 1468],
          [2, 1468],
          [3, 1468],
          [4, 1468],
        ],
      );
      assert.equal(await client.next(300), null, 'nothing past the window before its ACK');
    } finally {
      client.close();
    }
  });

  test('a size-only request (tsize, then ERROR 8, as UEFI PXE does first) is recorded as such, not as a failure', async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi', [{ name: 'tsize', value: '0' }]);
      const oack = await client.next();
      assert.deepEqual(oack?.packet, { opcode: 6, options: [{ name: 'tsize', value: '1000000' }] });
      client.send(Buffer.from([0, 5, 0, 8, ...Buffer.from('User aborted the transfer'), 0]), oack.from.port);
      const ours = () => tftp.events.filter((e) => detailOf(e, 'tftp')?.port === client.port);
      await waitFor('the size-only request to be recorded', () => ours().length > 0);
      assert.deepEqual(
        ours().map((e) => e.decision),
        ['size-asked'],
      );
      assert.match(ours()[0]!.reason, /^ipxe\.efi: the client read the size \(tsize\) and ended before the data \(ERROR 8\)/);
    } finally {
      client.close();
    }
  });

  test("duplicate ACKs are ignored: no Sorcerer's Apprentice", async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi');
      const first = await client.next();
      assert.ok(isData(first?.packet, 1));
      const tid = first!.from.port;
      for (let i = 0; i < 4; i++) client.ack(1, tid);
      const got = await client.drain(400);
      assert.equal(got.filter((r) => isData(r.packet, 2)).length, 1, 'block 2 sent once for four ACK 1');
      assert.equal(got.length, 1);
    } finally {
      client.close();
    }
  });

  test('windowsize: an ACK for the first block of a window restarts at the block after it', async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi', [{ name: 'windowsize', value: '4' }]);
      const oack = await client.next();
      client.ack(0, oack!.from.port);
      await client.drain(200); // blocks 1-4; say block 2 was lost
      client.ack(1, oack!.from.port);
      const resent = await client.drain(300);
      assert.deepEqual(
        resent.map((r) => (r.packet.opcode === 3 ? r.packet.block : -1)),
        [2, 3, 4, 5],
      );
    } finally {
      client.close();
    }
  });

  test('a window with a lost block still delivers the file byte for byte', async () => {
    const { bytes } = await download(tftp.port, 'ipxe.efi', { blksize: 1468, windowsize: 8, drop: (b) => b % 50 === 3 });
    assert.equal(sha256(bytes), sha256(root.files['ipxe.efi']!));
    await waitFor('event with retransmits', () =>
      tftp.events.some((e) => e.kind === 'RRQ ipxe.efi' && e.decision === 'served' && Number(detailOf(e, 'tftp')?.retransmits) > 0),
    );
  });

  test('datagrams from another port get ERROR 5 and do not disturb the transfer', async () => {
    const client = await RawClient.open();
    const stranger = await RawClient.open();
    try {
      client.request(tftp.port, 'undionly.kpxe');
      const first = await client.next();
      const tid = first!.from.port;
      stranger.ack(1, tid);
      stranger.send(Buffer.from([0, 3, 0, 1, 9, 9]), tid);
      assert.deepEqual(errorOf((await stranger.next())?.packet), { code: 5, message: 'unknown transfer ID' });
      assert.deepEqual(errorOf((await stranger.next())?.packet), { code: 5, message: 'unknown transfer ID' });
      assert.equal(await client.next(200), null, "the stranger's ACK moved nothing");
      client.ack(1, tid);
      assert.ok(isData((await client.next())?.packet, 2));
    } finally {
      client.close();
      stranger.close();
    }
  });

  test('a repeated request from the same port starts no second transfer', async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi');
      client.request(tftp.port, 'ipxe.efi');
      const got = await client.drain(300);
      assert.equal(got.length, 1);
      assert.ok(isData(got[0]?.packet, 1));
    } finally {
      client.close();
    }
  });

  test('write requests are refused with ERROR 2: the server is read-only', async () => {
    const client = await RawClient.open();
    try {
      client.send(encodeRequest({ opcode: 2, filename: 'ipxe.efi', mode: 'octet', options: [] }), tftp.port);
      assert.deepEqual(errorOf((await client.next())?.packet), { code: 2, message: 'server is read-only' });
      await waitFor('WRQ event', () => tftp.events.some((e) => e.kind === 'WRQ ipxe.efi' && e.decision === 'error'));
    } finally {
      client.close();
    }
  });

  test('an absolute path is read inside the root (as tftpd-hpa does): the file outside is never sent', async () => {
    await assert.rejects(download(tftp.port, `${root.outside}/secret.txt`), /ERROR 1: file not found/);
    assert.equal(sha256((await download(tftp.port, '/efi/x64/snponly.efi')).bytes), sha256(root.files['efi/x64/snponly.efi']!));
  });

  test('nothing outside the root is served: ../, backslashes, symlinks out', async () => {
    for (const name of [
      '../outside/secret.txt',
      'efi/../../outside/secret.txt',
      '/../outside/secret.txt',
      '..\\outside\\secret.txt',
      'escape.txt',
      'escape-dir/secret.txt',
    ]) {
      const client = await RawClient.open();
      try {
        client.request(tftp.port, name);
        const reply = await client.next();
        assert.deepEqual(errorOf(reply?.packet), { code: 2, message: 'access violation' }, name);
      } finally {
        client.close();
      }
      await waitFor(`event for ${name}`, () => tftp.events.some((e) => e.kind === `RRQ ${name}` && e.decision === 'error'));
      const event = tftp.events.find((e) => e.kind === `RRQ ${name}`)!;
      assert.match(event.reason, /outside root/);
      assert.equal(detailOf(event, 'tftp')?.client, '127.0.0.1');
    }
  });

  test('a symlink that stays inside the root is served; a missing file is ERROR 1', async () => {
    assert.equal(sha256((await download(tftp.port, 'alias.efi')).bytes), sha256(root.files['ipxe.efi']!));
    assert.equal(sha256((await download(tftp.port, 'efi/x64/snponly.efi')).bytes), sha256(root.files['efi/x64/snponly.efi']!));
    await assert.rejects(download(tftp.port, 'nope.efi'), /ERROR 1: file not found/);
    await assert.rejects(download(tftp.port, 'efi'), /ERROR 1/);
  });

  test('absurd option values get ERROR 8', async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi', [{ name: 'blksize', value: '2' }]);
      assert.equal(errorOf((await client.next())?.packet)?.code, 8);
    } finally {
      client.close();
    }
  });

  test('boot.ipxe and autoexec.ipxe are generated: they chain to the HTTP bootstrap of this appliance', async () => {
    for (const name of ['boot.ipxe', 'autoexec.ipxe']) {
      const script = (await download(tftp.port, name)).bytes.toString('utf8');
      assert.match(script, /^#!ipxe\n/);
      assert.match(script, /chain --autofree http:\/\/127\.0\.0\.1:8080\/boot\?mac=/);
    }
  });

  test('netascii: line ends go out as CR LF', async () => {
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'notes.txt', [], 'netascii');
      const got = await client.next();
      assert.ok(got?.packet.opcode === 3);
      assert.deepEqual(got.packet.data, toNetascii(root.files['notes.txt']!));
      client.ack(1, got.from.port);
    } finally {
      client.close();
    }
  });

  test('a cached file changed on disk is read again', async () => {
    const name = 'changing.bin';
    writeFileSync(join(root.dir, name), 'first version');
    assert.equal((await download(tftp.port, name)).bytes.toString(), 'first version');
    writeFileSync(join(root.dir, name), 'second, longer version');
    assert.equal((await download(tftp.port, name)).bytes.toString(), 'second, longer version');
  });

  test('malformed requests get ERROR 4 or silence, a log event, and the server keeps serving', async () => {
    const client = await RawClient.open();
    try {
      client.send(Buffer.from('\u0000\u0001ipxe.efi', 'latin1'), tftp.port); // no terminators
      assert.deepEqual(errorOf((await client.next())?.packet), { code: 4, message: 'malformed request' });
      client.send(Buffer.from('\u0000\u0001ipxe.efi\u0000mail\u0000', 'latin1'), tftp.port);
      assert.equal(errorOf((await client.next())?.packet)?.code, 4);
      client.send(Buffer.alloc(0), tftp.port);
      client.send(Buffer.alloc(65_000, 0x41), tftp.port);
      client.send(Buffer.from([0, 4, 0, 1]), tftp.port); // an ACK to the request port
      assert.equal(await client.next(300), null, 'silence for what is not a request');
      await waitFor('malformed events', () => tftp.events.filter((e) => e.kind === 'malformed').length >= 3);
      assert.equal(sha256((await download(tftp.port, 'undionly.kpxe')).bytes), sha256(root.files['undionly.kpxe']!));
    } finally {
      client.close();
    }
  });
});

describe('tftp limits and timeouts', () => {
  let root: RootFixture;
  before(() => {
    root = makeRoot();
  });
  after(() => root.remove());

  test('past [tftp] max_transfers, ERROR 0 "server busy"; the slot frees when a transfer ends', async () => {
    const tftp = await startTftp(root.dir, { maxTransfers: 2, maxTransfersPerClient: 10 });
    const clients = await Promise.all([RawClient.open(), RawClient.open(), RawClient.open()]);
    try {
      clients[0].request(tftp.port, 'ipxe.efi');
      clients[1].request(tftp.port, 'ipxe.efi');
      const first = await clients[0].next();
      assert.ok(isData(first?.packet, 1));
      assert.ok(isData((await clients[1].next())?.packet, 1));
      clients[2].request(tftp.port, 'ipxe.efi');
      assert.deepEqual(errorOf((await clients[2].next())?.packet), { code: 0, message: 'server busy' });
      assert.equal(tftp.service.stats().busy, 1);
      // The first client gives up on its transfer: its slot is free again.
      clients[0].send(Buffer.from([0, 5, 0, 0, 0x78, 0]), first!.from.port);
      await waitFor('slot freed', () => tftp.service.stats().active === 1);
      clients[2].request(tftp.port, 'ipxe.efi');
      assert.ok(isData((await clients[2].next())?.packet, 1));
      assert.ok(tftp.events.some((e) => e.decision === 'error' && /^ipxe\.efi: client ended the transfer: ERROR 0 "x"/.test(e.reason)));
    } finally {
      for (const c of clients) c.close();
      await tftp.stop();
    }
  });

  test('past [tftp] max_transfers_per_client, that client is told to wait', async () => {
    const tftp = await startTftp(root.dir, { maxTransfersPerClient: 1 });
    const a = await RawClient.open();
    const b = await RawClient.open();
    try {
      a.request(tftp.port, 'ipxe.efi');
      assert.ok(isData((await a.next())?.packet, 1));
      b.request(tftp.port, 'ipxe.efi');
      assert.deepEqual(errorOf((await b.next())?.packet), { code: 0, message: 'server busy: too many transfers from your address' });
    } finally {
      a.close();
      b.close();
      await tftp.stop();
    }
  });

  test('a client that stops ACKing gets a bounded number of retransmissions, then ERROR 0; the event says why', async () => {
    const tftp = await startTftp(root.dir, { retransmitTimeout: 0.1, retries: 2, idleTimeout: 30 });
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi');
      await waitFor('transfer given up', () => tftp.events.some((e) => e.kind === 'RRQ ipxe.efi'));
      const got = await client.drain(50);
      assert.equal(got.filter((r) => isData(r.packet, 1)).length, 3, 'DATA 1 once and twice again');
      assert.deepEqual(errorOf(got.at(-1)?.packet), { code: 0, message: 'no ACK after 2 retransmissions' });
      const event = tftp.events.find((e) => e.kind === 'RRQ ipxe.efi')!;
      assert.equal(event.decision, 'error');
      assert.match(event.reason, /^ipxe\.efi: no ACK after 2 retransmissions after 0 B/);
      assert.equal(tftp.service.stats().active, 0);
    } finally {
      client.close();
      await tftp.stop();
    }
  });

  test('[tftp] idle_timeout drops a transfer that makes no progress even while the client chatters', async () => {
    const tftp = await startTftp(root.dir, { retransmitTimeout: 0.1, retries: 1000, idleTimeout: 0.5 });
    const client = await RawClient.open();
    try {
      client.request(tftp.port, 'ipxe.efi');
      const first = await client.next();
      const chatter = setInterval(() => client.ack(0, first!.from.port), 20);
      await waitFor('idle transfer dropped', () => tftp.events.some((e) => e.kind === 'RRQ ipxe.efi'));
      clearInterval(chatter);
      assert.match(tftp.events.find((e) => e.kind === 'RRQ ipxe.efi')!.reason, /no progress for \d+\.\d s/);
    } finally {
      client.close();
      await tftp.stop();
    }
  });

  test('stop() aborts transfers still running after the grace period, telling the client', async () => {
    const tftp = await startTftp(root.dir);
    const client = await RawClient.open();
    client.request(tftp.port, 'ipxe.efi');
    assert.ok(isData((await client.next())?.packet, 1));
    await tftp.stop();
    const got = await client.drain(100);
    assert.deepEqual(errorOf(got.at(-1)?.packet), { code: 0, message: 'server shutting down' });
    assert.deepEqual(tftp.service.bindings(), []);
    client.close();
  });

  test('a busy port gives a BindError that names [tftp] port', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(0, '127.0.0.1', resolve));
    const port = squatter.address().port;
    try {
      const service = new TftpService({
        profile: testProfile({ tftp: { root: root.dir, port, bind: '127.0.0.1' } }),
        logger: silentLogger(),
        events: { record() {} },
      });
      await assert.rejects(service.start(), (err: unknown) => err instanceof BindError && /\[tftp\] port/.test(err.message) && /EADDRINUSE/.test(err.message));
    } finally {
      squatter.close();
    }
  });

  test('reload: a new root serves new files at once; a new port moves the listener', async () => {
    const tftp = await startTftp(root.dir);
    const other = makeRoot({ 'only-here.bin': Buffer.from('from the new root') });
    try {
      const profile = testProfile({ tftp: { root: other.dir, port: 0, bind: '127.0.0.1' } });
      tftp.service.reload(profile);
      assert.equal((await download(tftp.port, 'only-here.bin')).bytes.toString(), 'from the new root');
      const squatter = createSocket('udp4');
      await new Promise<void>((resolve) => squatter.bind(0, '127.0.0.1', resolve));
      const newPort = squatter.address().port;
      squatter.close();
      tftp.service.reload(testProfile({ tftp: { root: other.dir, port: newPort, bind: '127.0.0.1' } }));
      await waitFor('listener moved', () => tftp.service.port === newPort);
      assert.deepEqual(tftp.service.bindings(), [{ protocol: 'udp', address: '127.0.0.1', port: newPort }]);
      assert.equal((await download(newPort, 'only-here.bin')).bytes.toString(), 'from the new root');
    } finally {
      await tftp.stop();
      other.remove();
    }
  });
});
