// GET /assets.json (admin): the install images as `pxe-pilot assets ls --json` shows them, for scripts.
import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';
import { requireAdmin } from './auth.ts';
import { listImages } from '../assets/inventory.ts';

export function assetListRoutes(router: Router, deps: HttpDeps): void {
  router.get('/assets.json', requireAdmin(deps.profile), async (ctx) => {
    ctx.body = { dir: deps.profile().assets.dir, images: await listImages(deps.profile()) };
  });
}
