// Answers over plain HTTP while [answers] require_tls is on (issue 27): the 403 names the URL the
// installer used (the one baked into its ISO) and the two ways out, explain says the same for the
// machine, [answers] plain_http_from lets a subnet or an installer through on purpose, and
// [http] also_listen serves the same routes on another port (127.0.0.1, unprivileged ports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startHttp } from '../helpers/http.ts';
import { makeAnswerTree, post } from '../helpers/answer-tree.ts';
import { explainMac } from '../../src/explain.ts';
import { plainHttpAllowed } from '../../src/http/plain-http.ts';

const MAC = '52:54:00:27:80:01';

function answerRequest(mac: string): Record<string, unknown> {
  return {
    $schema: { version: '1.0' },
    product: { fullname: 'Proxmox VE', product: 'pve', enable_btrfs: true },
    iso: { release: '9.1', isorelease: '1' },
    dmi: { system: { serial: 'NOSUCHSERIAL', uuid: '11111111-2222-3333-4444-555555555555', sku: '', name: 'x' } },
    network_interfaces: [{ link: 'eno1', mac }],
  };
}

/** A port the kernel says is free now (it is closed again before the service binds it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function serve(plainHttpFrom: string[], extraPort: number) {
  const tree = makeAnswerTree({ 'default.toml': '[global]\nfqdn = "x.lab"\n', 'nocloud/default/user-data': '#cloud-config\n' });
  const h = await startHttp({
    answers: { dir: tree.answers, requireTls: true, plainHttpFrom },
    http: { alsoListen: [`127.0.0.1:${extraPort}`] },
  });
  return {
    h,
    extra: `http://127.0.0.1:${extraPort}`,
    stop: async () => {
      await h.stop();
      tree.remove();
    },
  };
}

test('also_listen: the same routes on a second port, listed in the bindings; both closed by stop', async () => {
  const port = await freePort();
  const { h, extra, stop } = await serve([], port);
  try {
    assert.deepEqual(
      h.service.bindings().map((b) => `${b.address}:${b.port}`),
      [`127.0.0.1:${h.port}`, `127.0.0.1:${port}`],
    );
    const main = await fetch(`${h.base}/boot.ipxe`);
    const other = await fetch(`${extra}/boot.ipxe`);
    assert.equal(other.status, 200);
    assert.equal(await other.text(), await main.text());
  } finally {
    await stop();
  }
  await assert.rejects(fetch(`${extra}/health`), 'the extra listener is closed with the service');
});

test('a plain-HTTP answer request gets a 403 naming the ISO-baked URL, the rebuild command and the key; explain says the same', async () => {
  const port = await freePort();
  const { h, extra, stop } = await serve([], port);
  try {
    const res = await post(extra, '/answer', answerRequest(MAC));
    assert.equal(res.status, 403);
    const body = res.text;
    assert.ok(body.includes(`this installer asked http://127.0.0.1:${port}/answer: the answer URL baked into its ISO`), body);
    assert.ok(body.includes('rebuild the ISO so it asks https://127.0.0.1/answer'), body);
    assert.ok(body.includes('pxe-pilot assets add proxmox-ve_9.1-1.iso --force'), body);
    assert.ok(body.includes('[answers] plain_http_from = 127.0.0.0/24 (or proxmox: every proxmox installer)'), body);
    const event = h.store.events({ mac: MAC }).at(-1);
    assert.equal(event?.decision, 'refused');
    const explained = explainMac(h.store, MAC);
    assert.ok(explained.includes(`asked http://127.0.0.1:${port}/answer`), explained);
    assert.ok(explained.includes('plain_http_from'), explained);
    // NoCloud: the URL is on the kernel line, so the way out is the cmdline, or the key.
    const nocloud = await fetch(`${extra}/nocloud/52-54-00-27-80-02/user-data`);
    assert.equal(nocloud.status, 403);
    const text = await nocloud.text();
    assert.match(text, /asked http:\/\/127\.0\.0\.1:\d+\/nocloud\/52-54-00-27-80-02\/user-data: the URL on its kernel line/);
    assert.match(text, /plain_http_from = 127\.0\.0\.0\/24 \(or nocloud: every nocloud installer\)/);
  } finally {
    await stop();
  }
});

test('plain_http_from: a named installer, or a subnet, is let through on purpose; others still get the 403', async () => {
  const port = await freePort();
  const byInstaller = await serve(['proxmox'], port);
  try {
    const res = await post(byInstaller.extra, '/answer', answerRequest(MAC));
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /fqdn = "x\.lab"/);
    assert.equal((await fetch(`${byInstaller.extra}/nocloud/52-54-00-27-80-02/user-data`)).status, 403, 'nocloud is not named');
  } finally {
    await byInstaller.stop();
  }
  const bySubnet = await serve(['127.0.0.0/8'], await freePort());
  try {
    assert.equal((await post(bySubnet.h.base, '/answer', answerRequest(MAC))).status, 200);
    assert.equal((await fetch(`${bySubnet.h.base}/nocloud/52-54-00-27-80-02/user-data`)).status, 200);
  } finally {
    await bySubnet.stop();
  }
  assert.equal(plainHttpAllowed(['10.0.0.0/24'], '/answer', '10.0.1.5'), false);
  assert.equal(plainHttpAllowed(['10.0.0.0/24'], '/preseed/x.cfg', '10.0.0.5'), true);
  assert.equal(plainHttpAllowed(['preseed'], '/webhook/proxmox', '10.0.0.5'), false);
});
