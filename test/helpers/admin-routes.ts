// Every admin route, read from the HTTP app's own router: a layer is admin when the admin guard
// (requireAdmin's `adminOnly`) is in its middleware. Tests that must cover every admin route take
// the list from here, so a route added later is covered without anyone remembering to.
import type Router from '@koa/router';
import { createHttpApp } from '../../src/http/app.ts';
import { Store } from '../../src/store/store.ts';
import { testProfile } from './profile.ts';
import { testHttpDeps } from './http.ts';

export interface AdminRoute {
  method: string;
  /** As registered, e.g. /nodes/:mac/reinstall. */
  pattern: string;
}

/**
 * The admin routes README's API table names (admin, or "loopback only when no token is set").
 * The router is the list the tests use; this only proves the router was read right.
 */
export const README_ADMIN_ROUTES: readonly string[] = [
  'GET /nodes',
  'GET /nodes/:mac',
  'POST /nodes/:mac/reinstall',
  'DELETE /nodes/:mac/reinstall',
  'PUT /nodes/:mac/local-boot',
  'DELETE /nodes/:mac/local-boot',
  'PUT /nodes/:mac/enrolment',
  'DELETE /nodes/:mac/enrolment',
  'GET /nodes/:mac/explain',
  'GET /events',
  'GET /events/stream',
  'GET /hosts',
  'GET /hosts/:mac',
  'GET /status',
  'GET /images',
  'GET /leases',
  'GET /transfers',
  'GET /assets.json',
];

/** The admin routes of the app the daemon serves, in registration order; HEAD (answered as GET) left out. */
export function adminRoutes(): AdminRoute[] {
  const store = Store.open(':memory:');
  try {
    const profile = testProfile();
    // Routes are only listed, never asked: no service is behind /health.
    const app = createHttpApp({ ...testHttpDeps(profile, store, () => undefined as never), profile: () => profile, services: () => [] });
    const routers = app.middleware.map((m) => (m as { router?: Router }).router).filter((r): r is Router => r !== undefined);
    if (routers.length !== 1) throw new Error(`expected the app to mount one router, found ${routers.length}`);
    const routes: AdminRoute[] = [];
    for (const layer of routers[0]!.stack) {
      if (!layer.stack.some((fn) => fn.name === 'adminOnly')) continue;
      if (typeof layer.path !== 'string') throw new Error(`admin route with a RegExp path ${String(layer.path)}: give it a sample path here`);
      for (const method of layer.methods) if (method !== 'HEAD') routes.push({ method, pattern: layer.path });
    }
    return routes;
  } finally {
    store.close();
  }
}

/** The pattern with its parameters filled in; a parameter this does not know is an error, never skipped. */
export function concretePath(pattern: string, mac: string): string {
  const unknown = /[:*][A-Za-z_]+/.exec(pattern.replace(/:mac\b/g, ''));
  if (unknown) throw new Error(`admin route ${pattern}: no sample value for ${unknown[0]}; add one in test/helpers/admin-routes.ts`);
  return pattern.replace(/:mac\b/g, mac);
}
