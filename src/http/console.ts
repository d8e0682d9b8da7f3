// The operator's console on the HTTP side, in one place for the app to mount: request metrics,
// /metrics, the live event stream, transfers, leases, images, status, the machines read-out.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { HttpDeps } from './context.ts';
import { DaemonTelemetry } from '../metrics/telemetry.ts';
import { requireAdmin } from './auth.ts';
import { observeRequests } from './observe.ts';
import { metricsRoutes } from './metrics-route.ts';
import { eventStreamRoutes } from './events-stream.ts';
import { consoleRoutes } from './console-routes.ts';
import { SessionStore, sessionAuth } from './ui/session.ts';
import { uiRoutes } from './ui/routes.ts';
import { machinesRoutes } from './ui/machines.ts';

export function consoleHttp(deps: HttpDeps): { middleware: Middleware; routes: (router: Router, deps: HttpDeps) => void } {
  const telemetry = deps.telemetry ?? new DaemonTelemetry({ processMetrics: false });
  const sessions = new SessionStore();
  const observe = observeRequests(telemetry);
  const session = sessionAuth(sessions);
  return {
    middleware: (ctx, next) => observe(ctx, () => session(ctx, next)),
    routes: (router) => {
      const admin = requireAdmin(deps.profile);
      metricsRoutes(router, deps, telemetry);
      eventStreamRoutes(router, admin, telemetry);
      consoleRoutes(router, deps, admin, telemetry);
      machinesRoutes(router, deps, admin);
      uiRoutes(router, deps, sessions);
    },
  };
}
