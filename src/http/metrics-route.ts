// GET /metrics: Prometheus text format, for loopback, [http] metrics_allow, or the admin token.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { HttpDeps } from './context.ts';
import type { DaemonTelemetry } from '../metrics/telemetry.ts';
import { isLoopback } from '../net/address.ts';
import { addressAllowed } from './answers.ts';
import { bearerToken, tokensEqual } from './auth.ts';
import { HttpError } from './errors.ts';
import { clientAddress } from './request.ts';

export function metricsAllowed(ctx: Context, deps: HttpDeps): boolean {
  const address = clientAddress(ctx);
  if (isLoopback(address)) return true;
  const { metricsAllow, adminToken } = deps.profile().http;
  if (metricsAllow.length > 0 && address && addressAllowed(address, metricsAllow)) return true;
  const given = bearerToken(ctx);
  return Boolean(adminToken && given && tokensEqual(given, adminToken));
}

export function metricsRoutes(router: Router, deps: HttpDeps, telemetry: DaemonTelemetry): void {
  router.get('/metrics', async (ctx) => {
    if (!metricsAllowed(ctx, deps)) {
      throw new HttpError(403, '/metrics answers loopback, the [http] metrics_allow blocks, or Authorization: Bearer <[http] admin_token>', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    const { contentType, body } = await telemetry.exposition();
    ctx.type = contentType;
    ctx.body = body;
  });
}
