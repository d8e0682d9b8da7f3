// `[http] legacy_api`: an earlier pxe-pilot's routes in its own shapes, in front of the native ones.
// Read per request, so a reload turns it on or off. Where a path exists in both (`/health`,
// `GET /nodes`, `/nodes/<mac>/reinstall`, `/hosts`), the earlier shape answers, except to
// pxe-pilot's own clients: the dashboard (its session) and any request with the header
// `X-PXE-Pilot-API: native` (the CLI sends it). A path the earlier API did not have falls
// through to the native routes untouched.
import type { Context, Middleware, Next } from 'koa';
import type { HttpDeps } from '../context.ts';
import { aayusharyanRoutes } from './aayusharyan.ts';
import { wisheropsRoutes } from './wisherops.ts';

export const NATIVE_API_HEADER = 'x-pxe-pilot-api';

export function wantsNativeApi(ctx: Context): boolean {
  return ctx.state.adminSession === true || ctx.get(NATIVE_API_HEADER).toLowerCase() === 'native';
}

export function legacyApi(deps: HttpDeps): Middleware {
  const routers = { aayusharyan: aayusharyanRoutes(deps).routes(), wisherops: wisheropsRoutes(deps).routes() };
  return async function legacyRoutes(ctx: Context, next: Next): Promise<void> {
    const which = deps.profile().http.legacyApi;
    if (which === '' || wantsNativeApi(ctx)) await next();
    else await (routers[which] as Middleware)(ctx, next);
  };
}
