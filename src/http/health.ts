import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';

export function healthRoutes(router: Router, deps: HttpDeps): void {
  router.get('/health', (ctx) => {
    const profile = deps.profile();
    ctx.body = {
      status: 'ok',
      version: deps.version,
      uptime: Math.round((Date.now() - deps.startedAt) / 1000),
      address: profile.server.address,
      dhcpMode: profile.dhcp.mode,
      services: deps.services(),
    };
  });
}
