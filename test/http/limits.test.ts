// What one client address can cost the HTTP service: requests (429 + Retry-After), failed
// tokens, open connections, header size. Loopback is exempt in production; these tests turn
// that off and use 127.0.0.2 as the abuser and 127.0.0.1 as the machine that must still boot.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ClientLimits, DEFAULT_LIMITS } from '../../src/http/limits.ts';
import { startHttps, type RunningHttps } from '../helpers/tls.ts';
import { waitFor } from '../helpers/netns.ts';

/** GET from a chosen local address; status, Retry-After and body. */
function get(url: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('client limits (bookkeeping)', () => {
  test('1,000 machines booting at once, 20 requests each in the same second, are never limited', () => {
    const limits = new ClientLimits({ exemptLoopback: false });
    const now = 1_000_000;
    let limited = 0;
    for (let round = 0; round < 20; round++) {
      for (let m = 0; m < 1000; m++) if (!limits.request(`10.0.${m >> 8}.${m & 255}`, false, now).ok) limited++;
    }
    assert.equal(limited, 0);
  });

  test('one address past its burst waits, with a Retry-After, then gets tokens back', () => {
    const limits = new ClientLimits({ exemptLoopback: false, burst: 5, perSecond: 2 });
    for (let i = 0; i < 5; i++) assert.ok(limits.request('10.0.0.9', false, 0).ok);
    const refused = limits.request('10.0.0.9', false, 0);
    assert.ok(!refused.ok);
    assert.equal(refused.retryAfter, 1);
    assert.ok(limits.request('10.0.0.8', false, 0).ok, 'another address is not affected');
    assert.ok(limits.request('10.0.0.9', false, 1000).ok, 'two tokens back after a second');
  });

  test('a flood of addresses keeps memory bounded', () => {
    const limits = new ClientLimits({ exemptLoopback: false, maxTracked: 100 });
    for (let i = 0; i < 10_000; i++) limits.request(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, false, 0);
    assert.ok(limits.tracked <= 100);
  });

  test('loopback (the host itself) is exempt by default', () => {
    const limits = new ClientLimits({ burst: 1 });
    for (let i = 0; i < 100; i++) assert.ok(limits.request('127.0.0.1', false, 0).ok);
    assert.equal(DEFAULT_LIMITS.exemptLoopback, true);
  });
});

describe('client limits on a real server', () => {
  let state: string;
  let h: RunningHttps;
  const ABUSER = '127.0.0.2';
  const MACHINE = '127.0.0.1';

  before(async () => {
    state = mkdtempSync(join(tmpdir(), 'pxp-limits-'));
    h = await startHttps({ http: { adminToken: 'a-long-admin-token-0123456789' } }, state, { exemptLoopback: false, burst: 20, perSecond: 1, authFailures: 3 });
  });
  after(async () => {
    await h.stop();
    rmSync(state, { recursive: true, force: true });
  });

  test('past its burst an address gets 429 with Retry-After and a reason; another address boots', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof get>> | null = null;
    for (let i = 0; i < 25; i++) {
      last = await get(`${h.http}/boot.ipxe`, ABUSER);
      statuses.push(last.status);
    }
    assert.ok(
      statuses.slice(0, 15).every((s) => s === 200),
      statuses.join(','),
    );
    assert.equal(last!.status, 429);
    assert.match(last!.retryAfter ?? '', /^\d+$/);
    assert.match(last!.body, /too many requests from 127\.0\.0\.2/);
    assert.equal((await get(`${h.http}/boot.ipxe`, MACHINE)).status, 200);
  });

  test('after 3 wrong admin tokens the address is locked out of authenticated requests', async () => {
    const from = '127.0.0.3';
    for (let i = 0; i < 3; i++) assert.equal((await get(`${h.http}/nodes`, from, { authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
    const locked = await get(`${h.http}/nodes`, from, { authorization: 'Bearer a-long-admin-token-0123456789' });
    assert.equal(locked.status, 429, 'even the right token waits: a brute force cannot tell');
    assert.match(locked.body, /too many failed tokens/);
    assert.equal(
      (await get(`${h.http}/nodes`, MACHINE, { authorization: 'Bearer a-long-admin-token-0123456789' })).status,
      200,
      'the operator elsewhere is not locked out',
    );
  });

  test('request headers over 16 KB get 431, not a crash', async () => {
    const r = await get(`${h.http}/boot.ipxe`, '127.0.0.4', { 'x-big': 'a'.repeat(20_000) });
    assert.equal(r.status, 431);
    assert.equal((await get(`${h.http}/boot.ipxe`, MACHINE)).status, 200);
  });

  test('a slowloris of 2,000 connections from one address does not stop another machine booting', async () => {
    const sockets: Socket[] = [];
    const from = '127.0.0.5';
    try {
      await Promise.all(
        Array.from(
          { length: 2000 },
          () =>
            new Promise<void>((resolve) => {
              const s = connect({ host: '127.0.0.1', port: h.profile.http.port, localAddress: from }, () => {
                // Headers that never end.
                s.write('GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n');
                resolve();
              });
              s.on('error', () => resolve());
              s.on('close', () => resolve());
              sockets.push(s);
            }),
        ),
      );
      await waitFor(
        'the server to close connections over the per-address cap',
        () =>
          h.service.limits.openConnections(from) <= DEFAULT_LIMITS.connectionsPerAddress &&
          sockets.filter((s) => !s.destroyed).length <= DEFAULT_LIMITS.connectionsPerAddress + 50,
        15_000,
        100,
      );
      assert.equal(h.service.limits.openConnections(from), DEFAULT_LIMITS.connectionsPerAddress);
      const r = await get(`${h.http}/boot.ipxe`, '127.0.0.6');
      assert.equal(r.status, 200);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});
