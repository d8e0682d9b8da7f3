// The dashboard at /ui/: login and logout, the session's CSRF token, and the static page files.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { readFileSync } from 'node:fs';
import type { HttpDeps } from '../context.ts';
import { isLoopback } from '../../net/address.ts';
import { tokensEqual } from '../auth.ts';
import { readBody } from '../body.ts';
import { HttpError } from '../errors.ts';
import { clientAddress } from '../request.ts';
import { SessionStore, sessionOf, setSessionCookie } from './session.ts';

const STATIC_DIR = new URL('../../ui/static/', import.meta.url);
const FILES: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'ui.js': 'text/javascript; charset=utf-8',
  'machines.js': 'text/javascript; charset=utf-8',
  'machine.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};
/** The page files are small and part of the program: read once, served from memory. */
const cache = new Map<string, Buffer>();
function staticFile(name: string): Buffer {
  let b = cache.get(name);
  if (!b) {
    b = readFileSync(new URL(name, STATIC_DIR));
    cache.set(name, b);
  }
  return b;
}

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(options: { tokenConfigured: boolean; error?: string }): string {
  const note = options.tokenConfigured
    ? '<label for="token">Admin token</label><input id="token" name="token" type="password" autocomplete="current-password" required autofocus>'
    : '<p class="note" id="no-token">No <code>[http] admin_token</code> is configured: the console answers on this machine (loopback) only. Set <code>admin_token</code> to use it from the network.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>pxe-pilot — log in</title><link rel="stylesheet" href="/ui/style.css"><link rel="icon" href="/ui/favicon.svg"></head>
<body class="login"><main class="login-box"><h1>pxe-pilot</h1>
${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
<form method="post" action="/ui/login">${note}<button type="submit">Log in</button></form></main></body></html>`;
}

export function uiRoutes(router: Router, deps: HttpDeps, sessions: SessionStore): void {
  const tokenConfigured = (): boolean => deps.profile().http.adminToken !== '';
  const html = (ctx: Context, body: string, status = 200): void => {
    ctx.status = status;
    ctx.set(SECURITY_HEADERS);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = body;
  };
  const refuseRemoteWithoutToken = (ctx: Context): boolean => {
    if (tokenConfigured() || isLoopback(clientAddress(ctx))) return false;
    html(ctx, loginPage({ tokenConfigured: false, error: 'No admin token is configured, so the console answers on loopback only.' }), 403);
    return true;
  };

  router.get('/ui/login', (ctx) => {
    if (refuseRemoteWithoutToken(ctx)) return;
    html(ctx, loginPage({ tokenConfigured: tokenConfigured() }));
  });

  router.post('/ui/login', async (ctx) => {
    if (refuseRemoteWithoutToken(ctx)) return;
    const raw = (await readBody(ctx, 4096)).toString('utf8');
    const token = new URLSearchParams(raw).get('token') ?? '';
    const expected = deps.profile().http.adminToken;
    if (expected && !tokensEqual(token, expected)) {
      deps.logger.warn({ client: clientAddress(ctx) }, 'dashboard: login refused (wrong token)');
      html(ctx, loginPage({ tokenConfigured: true, error: 'Wrong token.' }), 401);
      return;
    }
    setSessionCookie(ctx, sessions.create({ loopbackOnly: !expected }));
    ctx.status = 303;
    ctx.redirect('/ui/');
  });

  router.post('/ui/logout', (ctx) => {
    const s = sessionOf(ctx, sessions);
    if (s) {
      if (ctx.state.adminSession !== true) throw new HttpError(403, 'logout needs the X-CSRF-Token header of the session');
      sessions.delete(s.id);
    }
    setSessionCookie(ctx, null);
    ctx.body = { loggedOut: true };
  });

  router.get('/ui/session', (ctx) => {
    const s = sessionOf(ctx, sessions);
    if (!s) throw new HttpError(401, 'no dashboard session: log in at /ui/login');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { csrf: s.csrf, expires: new Date(s.expiresAt).toISOString(), tokenConfigured: tokenConfigured() };
  });

  // A route for /ui matches /ui/ too (one for /ui/ would not match /ui): the page's relative links want the slash.
  router.get('/ui', (ctx) => {
    if (ctx.path === '/ui') {
      ctx.redirect('/ui/');
      return;
    }
    if (!sessionOf(ctx, sessions)) {
      ctx.redirect('/ui/login');
      return;
    }
    html(ctx, staticFile('index.html').toString('utf8'));
  });

  router.get('/ui/:file', (ctx) => {
    const name = String(ctx.params.file);
    const type = FILES[name];
    if (!type) throw new HttpError(404, `no such dashboard file: ${name.slice(0, 60)}`);
    ctx.type = type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = staticFile(name);
  });
}
