// Which bytes a read request gets, without a socket: the same SourceOpener the server asks.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../src/tftp/packet.ts';
import { fromNetascii } from '../../src/tftp/netascii.ts';
import { SourceOpener, type OpenOutcome } from '../../src/tftp/opener.ts';
import { makeRoot, type RootFixture } from '../helpers/tftp.ts';
import { testProfile } from '../helpers/profile.ts';

async function bytesOf(opened: OpenOutcome): Promise<Buffer> {
  assert.ok(opened.ok, opened.ok ? '' : opened.reason);
  const bytes = await opened.source.read(0, opened.source.size);
  opened.source.close();
  return bytes;
}

describe('the bytes a TFTP read request gets', () => {
  let root: RootFixture;
  before(() => {
    root = makeRoot({ 'huge.txt': Buffer.alloc(0) });
    truncateSync(join(root.dir, 'huge.txt'), (64 << 20) + 1); // sparse: no disk used
  });
  after(() => root.remove());
  const profile = () => testProfile({ http: { port: 8080 }, tftp: { root: root.dir, port: 0, bind: '127.0.0.1' } });

  test('a generated file asked in netascii gets CR LF line ends, and reads back as the octet one', async () => {
    const opener = new SourceOpener({ root: root.dir });
    const octet = await bytesOf(await opener.open({ filename: 'boot.ipxe', mode: 'octet' }, '127.0.0.1', profile()));
    const netascii = await bytesOf(await opener.open({ filename: 'boot.ipxe', mode: 'netascii' }, '127.0.0.1', profile()));
    assert.match(octet.toString('utf8'), /^#!ipxe\n/);
    assert.match(netascii.toString('utf8'), /^#!ipxe\r\n/);
    assert.deepEqual(fromNetascii(netascii), octet);
  });

  test('netascii of a file over 64 MiB is refused with a hint to ask for octet; octet is served', async () => {
    const opener = new SourceOpener({ root: root.dir });
    const refused = await opener.open({ filename: 'huge.txt', mode: 'netascii' }, '127.0.0.1', profile());
    assert.ok(!refused.ok);
    assert.equal(refused.code, ErrorCode.NOT_DEFINED);
    assert.match(refused.message, /use octet/);
    const octet = await opener.open({ filename: 'huge.txt', mode: 'octet' }, '127.0.0.1', profile());
    assert.ok(octet.ok);
    assert.equal(octet.source.size, (64 << 20) + 1);
    octet.source.close();
  });

  test("GRUB's per-machine configuration without a node store is not found, saying why", async () => {
    const opener = new SourceOpener({ root: root.dir });
    const opened = await opener.open({ filename: 'debian-installer/amd64/grub/pxe-pilot/52:54:00:12:34:56.cfg', mode: 'octet' }, '127.0.0.1', profile());
    assert.ok(!opened.ok);
    assert.equal(opened.code, ErrorCode.FILE_NOT_FOUND);
    assert.match(opened.reason, /no node store/);
  });

  test('a path out of the root is an access violation; a missing file is not found', async () => {
    const opener = new SourceOpener({ root: root.dir });
    const escape = await opener.open({ filename: 'escape.txt', mode: 'octet' }, '127.0.0.1', profile());
    assert.ok(!escape.ok);
    assert.equal(escape.code, ErrorCode.ACCESS_VIOLATION);
    const missing = await opener.open({ filename: 'nothing.here', mode: 'octet' }, '127.0.0.1', profile());
    assert.ok(!missing.ok);
    assert.equal(missing.code, ErrorCode.FILE_NOT_FOUND);
  });
});
