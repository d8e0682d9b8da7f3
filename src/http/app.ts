// The Koa application: error mapping, request log, and the routers.
import Koa from 'koa';
import type { Context } from 'koa';
import Router from '@koa/router';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { bootRoutes } from './boot.ts';
import { agentNextRoutes } from './agent-next.ts';
import { bmcUserRoutes } from './bmc-user.ts';
import { agentDeployRoutes } from './agent-deploy.ts';
import { agentWipeRoutes } from './agent-wipe.ts';
import { agentSeedRoutes } from './agent-seed.ts';
import { assetRoutes } from './assets.ts';
import { healthRoutes } from './health.ts';
import { answerRoutes } from './answers.ts';
import { adminRoutes } from './admin.ts';
import { initrdCpioRoutes } from './initrd-cpio.ts';
import { installerRoutes } from './installers.ts';
import { inventoryRoutes } from './inventory.ts';
import { parseMacParams } from './request.ts';
import { consoleHttp } from './console.ts';
import { foldRequestSlashes } from './slashes.ts';
import { legacyApi } from './legacy/index.ts';

/** Paths iPXE or an installer fetches: errors there are text/plain, elsewhere JSON. */
function wantsText(path: string): boolean {
  return /^\/(boot|chain|menu\.ipxe|assets\/|cpio\/|ipxe\/|nocloud\/|preseed\/)/.test(path);
}

export function createHttpApp(deps: HttpDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  const operatorConsole = consoleHttp(deps);
  app.use(foldRequestSlashes);
  app.use(operatorConsole.middleware);

  app.use(async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new HttpError(404, `no such path: ${ctx.method} ${ctx.path}`);
    } catch (err) {
      respondWithError(ctx, err, deps);
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // Built only when asked for: the hot paths should not assemble a log line nobody writes.
      if (deps.logger.isLevelEnabled('debug'))
        deps.logger.debug(
          { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, client: ctx.req.socket.remoteAddress },
          'http',
        );
    }
  });

  // An earlier pxe-pilot's API, when [http] legacy_api names one (src/http/legacy).
  app.use(legacyApi(deps));
  const router = new Router();
  parseMacParams(router);
  for (const register of [
    healthRoutes,
    bootRoutes,
    agentNextRoutes,
    bmcUserRoutes,
    agentDeployRoutes,
    agentWipeRoutes,
    agentSeedRoutes,
    assetRoutes,
    initrdCpioRoutes,
    answerRoutes,
    adminRoutes,
    installerRoutes,
    inventoryRoutes,
    operatorConsole.routes,
  ])
    register(router, deps);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  // Koa's own error event would print a stack to stderr; we already answered and logged.
  app.on('error', () => {});
  return app;
}

function respondWithError(ctx: Context, err: unknown, deps: HttpDeps): void {
  let status = 500;
  let message = 'internal error';
  let headers: Record<string, string> = {};
  if (err instanceof HttpError) {
    status = err.status;
    message = err.message;
    headers = err.headers;
  } else if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number') {
    // Koa and the router throw http-errors for 405/501 and malformed URLs (400).
    status = (err as { status: number }).status;
    message = (err as { expose?: boolean; message?: string }).expose
      ? String((err as { message?: string }).message)
      : status === 405
        ? `method ${ctx.method} not allowed on ${ctx.path}`
        : 'bad request';
  }
  if (status >= 500) deps.logger.error({ err, path: ctx.path }, 'http handler failed');
  ctx.status = status;
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  if (wantsText(ctx.path)) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = `${message}\n`;
  } else {
    ctx.type = 'application/json';
    ctx.body = { error: message };
  }
}
