import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';

export function healthRoutes(router: Router, deps: HttpDeps): void {
  router.get('/health', (ctx) => {
    const profile = deps.profile();
    const store = deps.storeHealth?.() ?? { backend: 'sqlite', state: 'ok' };
    ctx.body = {
      // Degraded: boots go on from memory, installs needing a consumption wait for the store.
      status: store.state === 'ok' ? 'ok' : 'degraded',
      store,
      version: deps.version,
      uptime: Math.round((Date.now() - deps.startedAt) / 1000),
      address: profile.server.address,
      dhcpMode: profile.dhcp.mode,
      services: deps.services(),
    };
  });
}
