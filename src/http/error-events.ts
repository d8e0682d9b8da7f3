// One middleware records a refused or failed request as an event (and a log line), so every
// installer-facing handler leaves the same trail: 404 → 'not-found', other 4xx → 'error'.
import type { Context, Next } from 'koa';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { clientAddress } from './request.ts';

/** A template that cannot be filled completely: 400 to the installer, an error in the log. */
export class AnswerTemplateError extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}

/**
 * Records HttpErrors thrown below as `protocol` events. The machine is the route's :mac, or the
 * one a handler names later with `ctx.state.eventMac`; the kind defaults to "METHOD /path".
 */
export function recordErrors(deps: Pick<HttpDeps, 'store' | 'logger'>, protocol: 'http' | 'answer' | 'webhook', kind?: (ctx: Context) => string) {
  return async function errorEvents(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      if (err instanceof HttpError) {
        const ip = clientAddress(ctx);
        const mac = (ctx.state.eventMac as string | undefined) ?? (ctx.state.mac as string | undefined) ?? null;
        const decision = err.status === 404 ? 'not-found' : 'error';
        // { ip, status } is a valid detail for each of the three protocols.
        deps.store.record({
          mac,
          protocol,
          kind: kind ? kind(ctx) : `${ctx.method} ${ctx.path}`,
          decision,
          reason: err.message,
          detail: { ip, status: err.status },
        });
        if (err instanceof AnswerTemplateError) deps.logger.error({ mac, ip }, err.message);
        else deps.logger.warn({ mac, ip, status: err.status }, err.message);
      }
      throw err;
    }
  };
}
