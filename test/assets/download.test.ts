// http(s) sources against a local server on 127.0.0.1: checked before extraction, resumed with Range.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { buildProxmoxIso, cli, entriesUnder, workspace, assetTools, type Workspace } from './fixtures.ts';

const skip = skipUnless(assetTools);

describe('assets add from http://', { skip }, () => {
  let ws: Workspace;
  let server: Server;
  let base = '';
  let iso: Buffer;
  let sha = '';
  const seen: { path: string; range: string | undefined }[] = [];
  /** When set, the next request for the ISO stops after this many bytes. */
  let cutAfter: number | null = null;

  before(async () => {
    ws = workspace();
    const file = join(ws.dir, 'src.iso');
    buildProxmoxIso(file);
    iso = readFileSync(file);
    sha = createHash('sha256').update(iso).digest('hex');
    server = createServer((req, res) => {
      seen.push({ path: req.url ?? '', range: req.headers.range });
      if (req.url === '/SHA256SUMS') return res.end(`${sha}  proxmox-ve_9.1-1.iso\n${'0'.repeat(64)}  other.iso\n`);
      if (req.url === '/moved.iso') {
        res.writeHead(302, { Location: '/proxmox-ve_9.1-1.iso' });
        return res.end();
      }
      if (req.url !== '/proxmox-ve_9.1-1.iso') {
        res.writeHead(404);
        return res.end();
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const body = iso.subarray(start);
      res.writeHead(m ? 206 : 200, { 'Content-Length': body.length, ...(m ? { 'Content-Range': `bytes ${start}-${iso.length - 1}/${iso.length}` } : {}) });
      if (cutAfter !== null) {
        const n = cutAfter;
        cutAfter = null;
        res.write(body.subarray(0, n), () => res.destroy());
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((r) => server.close(r));
    ws.cleanup();
  });

  test('without a checksum: refused before downloading', async () => {
    const r = await cli(['assets', 'add', `${base}/proxmox-ve_9.1-1.iso`, '--config', ws.ini]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--sha256 HEX or --sha256sums URL/);
    assert.ok(!seen.some((s) => s.path === '/proxmox-ve_9.1-1.iso'));
  });

  test('a checksum mismatch deletes the download and adds nothing', async () => {
    const r = await cli(['assets', 'add', `${base}/proxmox-ve_9.1-1.iso`, '--sha256', 'f'.repeat(64), '--config', ws.ini]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /checksum mismatch.*deleted/);
    assert.deepEqual(
      entriesUnder(ws.assets).filter((e) => !e.startsWith('.downloads')),
      [],
    );
    assert.deepEqual(readdirSync(join(ws.assets, '.downloads')), []);
  });

  test('an interrupted download resumes with Range, is verified against SHA256SUMS, then added', async () => {
    cutAfter = 300_000;
    const first = await cli(['assets', 'add', `${base}/proxmox-ve_9.1-1.iso`, '--sha256sums', `${base}/SHA256SUMS`, '--config', ws.ini]);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /interrupted.*run the same command again to resume/);
    assert.ok(!existsSync(join(ws.assets, 'proxmox-ve')), 'nothing added from half a download');
    seen.length = 0;
    const second = await cli(['assets', 'add', `${base}/proxmox-ve_9.1-1.iso`, '--sha256sums', `${base}/SHA256SUMS`, '--config', ws.ini]);
    assert.equal(second.code, 0, second.stderr);
    const resumed = seen.find((s) => s.path === '/proxmox-ve_9.1-1.iso');
    assert.match(resumed?.range ?? '', /^bytes=[1-9][0-9]*-$/, 'the second run asked only for the rest');
    const m = JSON.parse(readFileSync(join(ws.assets, 'proxmox-ve', '9.1-1', 'image.json'), 'utf8')) as { source: { sha256: string } };
    assert.equal(m.source.sha256, sha);
    assert.deepEqual(readdirSync(join(ws.assets, '.downloads')), [], 'the download is removed once added');
  });

  test('redirects are followed; a 404 is a clear error', async () => {
    const r = await cli(['assets', 'add', `${base}/moved.iso`, '--sha256', sha, '--config', ws.ini, '--version', 'moved']);
    assert.equal(r.code, 0, r.stderr);
    const missing = await cli(['assets', 'add', `${base}/missing.iso`, '--sha256', sha, '--config', ws.ini]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /answered HTTP 404/);
  });
});
