// GET /nodes/<mac>/explain: the same timeline as `pxe-pilot explain <mac>`, for the admin.
import type Router from '@koa/router';
import { normaliseMac } from '../boot/client.ts';
import { explainMac } from '../explain.ts';
import { requireAdmin } from './auth.ts';
import type { HttpDeps } from './context.ts';
import { badRequest } from './errors.ts';

export function explainRoutes(router: Router, deps: HttpDeps): void {
  router.get('/nodes/:mac/explain', requireAdmin(deps.profile), (ctx) => {
    const mac = normaliseMac(ctx.params.mac ?? '');
    if (!mac) throw badRequest(`${JSON.stringify(ctx.params.mac ?? '').slice(0, 40)} is not a MAC address`);
    const limitText = typeof ctx.query.limit === 'string' ? ctx.query.limit : '';
    const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : undefined;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = explainMac(deps.store, mac, limit ? { limit } : {});
  });
}
