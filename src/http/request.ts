// What every route reads from a request the same way: the peer's address and MAC parameters.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { normaliseMac } from '../net/mac.ts';
import { unmappedAddress } from '../net/address.ts';
import { badRequest } from './errors.ts';

/** The peer's address, IPv4-mapped IPv6 unwrapped. */
export function clientAddress(ctx: Context): string {
  return unmappedAddress(ctx.req.socket.remoteAddress ?? '');
}

/** A MAC in any usual form, normalised; a 400 naming the forms accepted otherwise. */
export function parseMac(raw: string, name = 'mac'): string {
  const mac = normaliseMac(raw);
  if (!mac) throw badRequest(`${name} ${JSON.stringify(raw).slice(0, 40)} is not a MAC address (aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff or aabbccddeeff)`);
  return mac;
}

/** Every `:mac` route parameter is parsed once, here; handlers read it with routeMac(ctx). */
export function parseMacParams(router: Router): void {
  router.param('mac', (value, ctx, next) => {
    ctx.state.mac = parseMac(value);
    return next();
  });
}

export function routeMac(ctx: Context): string {
  return ctx.state.mac as string;
}

/** `?mac=`: required (400 when missing or malformed) or optional (undefined when absent). */
export function macQuery(ctx: Context, required: true, example?: string): string;
export function macQuery(ctx: Context, required: false): string | undefined;
export function macQuery(ctx: Context, required: boolean, example = '?mac=aa-bb-cc-dd-ee-ff'): string | undefined {
  const raw = ctx.query.mac;
  if (raw === undefined || raw === '') {
    if (required) throw badRequest(`mac is missing: expected ${ctx.path}${example}`);
    return undefined;
  }
  if (typeof raw !== 'string') throw badRequest('mac given more than once');
  return parseMac(raw);
}
