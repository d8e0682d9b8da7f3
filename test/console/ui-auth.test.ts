// Dashboard login without a browser: the no-token case, cookie attributes, CSRF on changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHttp } from '../helpers/http.ts';

test('no admin token: the login page says the console is loopback-only, and loopback may enter', async () => {
  const http = await startHttp();
  try {
    const page = await (await fetch(`${http.base}/ui/login`)).text();
    assert.match(page, /No <code>\[http\] admin_token<\/code> is configured: the console answers on this machine \(loopback\) only/);
    const login = await fetch(`${http.base}/ui/login`, { method: 'POST', redirect: 'manual', body: '' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/ui/');
  } finally {
    await http.stop();
  }
});

test('with a token: the session cookie is HttpOnly, SameSite=Strict and expires; changes need the CSRF header; logout ends it', async () => {
  const token = 'ui-auth-token-0123456789';
  const http = await startHttp({ http: { adminToken: token } });
  try {
    const refused = await fetch(`${http.base}/ui/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: 'wrong-wrong-wrong-wrong' }),
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('set-cookie'), null);
    assert.equal((await fetch(`${http.base}/ui/`, { redirect: 'manual' })).headers.get('location'), '/ui/login');

    const login = await fetch(`${http.base}/ui/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token }) });
    assert.equal(login.status, 303);
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /pxe_pilot_session=[\w-]{20,}/);
    assert.match(setCookie, /httponly/i);
    assert.match(setCookie, /samesite=strict/i);
    assert.match(setCookie, /expires=/i);
    const cookie = setCookie.split(';')[0]!;
    const { csrf } = (await (await fetch(`${http.base}/ui/session`, { headers: { cookie } })).json()) as { csrf: string };
    assert.equal((await fetch(`${http.base}/nodes`, { headers: { cookie } })).status, 200, 'reads need only the session');
    const mac = '52:54:00:ff:00:01';
    assert.equal(
      (await fetch(`${http.base}/nodes/${mac}/local-boot`, { method: 'PUT', headers: { cookie }, body: '{"script":"exit"}' })).status,
      403,
      'no CSRF header',
    );
    assert.equal(
      (await fetch(`${http.base}/nodes/${mac}/local-boot`, { method: 'PUT', headers: { cookie, 'x-csrf-token': 'forged' }, body: '{"script":"exit"}' })).status,
      403,
      'wrong CSRF header',
    );
    assert.equal(
      (await fetch(`${http.base}/nodes/${mac}/local-boot`, { method: 'PUT', headers: { cookie, 'x-csrf-token': csrf }, body: '{"script":"exit"}' })).status,
      200,
    );
    assert.equal((await fetch(`${http.base}/ui/logout`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status, 200);
    assert.equal((await fetch(`${http.base}/nodes`, { headers: { cookie } })).status, 401, 'the session is gone');
  } finally {
    await http.stop();
  }
});

test('/ui without the slash redirects to /ui/, which sends a visitor without a session to the login page', async () => {
  const http = await startHttp({ http: { adminToken: 'ui-auth-token-0123456789' } });
  try {
    const bare = await fetch(`${http.base}/ui`, { redirect: 'manual' });
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.get('location'), '/ui/');
    assert.equal((await fetch(`${http.base}/ui/`, { redirect: 'manual' })).headers.get('location'), '/ui/login');
  } finally {
    await http.stop();
  }
});
