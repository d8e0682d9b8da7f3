// Dashboard sessions: a login with the admin token gives an HTTP-only, SameSite=Strict cookie that
// expires; requests that change state must also carry the session's CSRF token in a header.
// Sessions live in memory: a restart logs everyone out, which is fine for an appliance's console.
import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { tokensEqual } from '../auth.ts';
import { isLoopback } from '../../net/address.ts';
import { clientAddress } from '../request.ts';

export const SESSION_COOKIE = 'pxe_pilot_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_TTL_MS = 8 * 3600 * 1000;
const MAX_SESSIONS = 1000;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface Session {
  id: string;
  csrf: string;
  expiresAt: number;
  /**
   * Logged in without a token (none is configured, so only loopback may log in): the cookie is
   * honoured from loopback only, or a copy of it would open the console to the network.
   */
  loopbackOnly: boolean;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(options: { loopbackOnly: boolean }): Session {
    // Oldest first in a Map: past the cap, the oldest login goes.
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const session = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: this.now() + SESSION_TTL_MS,
      loopbackOnly: options.loopbackOnly,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  find(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }
}

/** The request's live session; a token-less (loopback-only) session is none from any other address. */
export function sessionOf(ctx: Context, sessions: SessionStore): Session | null {
  const s = sessions.find(ctx.cookies.get(SESSION_COOKIE));
  if (s?.loopbackOnly && !isLoopback(clientAddress(ctx))) return null;
  return s;
}

export function setSessionCookie(ctx: Context, session: Session | null): void {
  ctx.cookies.set(SESSION_COOKIE, session ? session.id : '', {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    overwrite: true,
    secure: ctx.secure,
    ...(session ? { expires: new Date(session.expiresAt) } : { expires: new Date(0) }),
  });
}

/**
 * Marks the request as the admin's (ctx.state.adminSession) when it carries a live session and,
 * for anything but GET/HEAD, the session's CSRF token. The admin guard honours the mark.
 */
export function sessionAuth(sessions: SessionStore) {
  return async function session(ctx: Context, next: Next): Promise<void> {
    // iPXE and installers send no cookies: no session to look for (and no cookie jar to build).
    const s = ctx.headers.cookie ? sessionOf(ctx, sessions) : null;
    if (s) {
      const given = ctx.get(CSRF_HEADER);
      if (SAFE_METHODS.has(ctx.method) || (given !== '' && tokensEqual(given, s.csrf))) ctx.state.adminSession = true;
      else ctx.state.csrfMissing = true;
    }
    await next();
  };
}
