// The admin API's power routes: GET /nodes/<mac>/power reads the state from the BMC now,
// POST /nodes/<mac>/power {"action": "on", "networkBoot": true} acts. Both answer within the
// BMC call's timeout, with what happened (a BMC's failure is part of the answer, not a 5xx).
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { HttpDeps } from '../http/context.ts';
import { isPlainObject, readBody } from '../http/body.ts';
import { badRequest, notFound } from '../http/errors.ts';
import { clientAddress, routeMac } from '../http/request.ts';
import { PowerError, POWER_ACTIONS, type PowerAction } from './driver.ts';
import type { PowerControl } from './control.ts';

const EXPECTED = `expected {"action": "${POWER_ACTIONS.join('" | "')}"} and optionally "networkBoot": true`;

async function powerRequest(ctx: Context): Promise<{ action: PowerAction; networkBoot: boolean }> {
  const raw = (await readBody(ctx)).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`power request: body is not valid JSON (${(err as Error).message}); ${EXPECTED}`);
  }
  if (!isPlainObject(body)) throw badRequest(`power request: ${EXPECTED}`);
  const unknown = Object.keys(body).filter((k) => k !== 'action' && k !== 'networkBoot');
  if (unknown.length) throw badRequest(`power request: unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ${EXPECTED}`);
  if (typeof body.action !== 'string' || !(POWER_ACTIONS as readonly string[]).includes(body.action)) throw badRequest(`power request: ${EXPECTED}`);
  if (body.networkBoot !== undefined && typeof body.networkBoot !== 'boolean') throw badRequest('power request: networkBoot must be true or false');
  return { action: body.action as PowerAction, networkBoot: body.networkBoot === true };
}

export function powerRoutes(router: Router, deps: HttpDeps & { power?: PowerControl }, admin: Middleware): void {
  const control = (): PowerControl => {
    if (!deps.power) throw notFound('power control is not running in this daemon');
    return deps.power;
  };
  const run = async (ctx: Context, action: PowerAction, networkBoot: boolean) => {
    const mac = routeMac(ctx);
    try {
      return await control().run(mac, action, { who: 'admin', ip: clientAddress(ctx) }, networkBoot);
    } catch (err) {
      if (err instanceof PowerError && err.failure === 'unsupported') throw notFound(err.message);
      throw err;
    }
  };
  router.get('/nodes/:mac/power', admin, async (ctx) => {
    ctx.body = await run(ctx, 'status', false);
  });
  router.post('/nodes/:mac/power', admin, async (ctx) => {
    const { action, networkBoot } = await powerRequest(ctx);
    ctx.body = await run(ctx, action, networkBoot);
  });
}
