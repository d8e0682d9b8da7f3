// Admin authentication: Bearer <[http] admin_token>, compared in constant time.
// With no token configured, the admin API answers on loopback only.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Profile } from '../config/profile.ts';
import { HttpError } from './errors.ts';
import { isLoopback } from '../net/address.ts';

export function bearerToken(ctx: Context): string | null {
  const header = ctx.get('authorization');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function requireAdmin(getProfile: () => Profile) {
  return async function adminOnly(ctx: Context, next: Next): Promise<void> {
    // A dashboard session (cookie, plus the CSRF header for changes): see src/http/ui/session.ts.
    if (ctx.state.adminSession === true) {
      await next();
      return;
    }
    if (ctx.state.csrfMissing === true && !bearerToken(ctx))
      throw new HttpError(403, 'dashboard session: this change needs the X-CSRF-Token header of the session');
    const token = getProfile().http.adminToken;
    if (token) {
      const given = bearerToken(ctx);
      if (given === null) throw new HttpError(401, 'admin API: send Authorization: Bearer <[http] admin_token>', { 'WWW-Authenticate': 'Bearer' });
      if (!tokensEqual(given, token)) throw new HttpError(401, 'admin API: wrong token', { 'WWW-Authenticate': 'Bearer' });
    } else if (!isLoopback(ctx.req.socket.remoteAddress)) {
      throw new HttpError(403, 'admin API: no [http] admin_token is configured, so it answers on loopback only; set admin_token to use it from the network');
    }
    await next();
  };
}
