// Bounded JSON request bodies: too large or not JSON → 400 naming the problem; never a 500.
// An oversized body is a 400, not a 413: to an installer it is one more bad request.
import type { Context } from 'koa';
import { HttpError } from './errors.ts';

export const DEFAULT_BODY_LIMIT = 64 * 1024;

/**
 * The body, refused past `limit` bytes (declared or sent) with `tooLarge.status` (400 by default;
 * 413 where the client should learn its document is too large) and `tooLarge.what` in the reason.
 */
export async function readBody(
  ctx: Context,
  limit = DEFAULT_BODY_LIMIT,
  tooLarge: { status: 400 | 413; what: string } = { status: 400, what: 'request body' },
): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (Number.isFinite(declared) && declared > limit)
    throw new HttpError(tooLarge.status, `${tooLarge.what} of ${declared} bytes is over the limit of ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      ctx.req.resume();
      throw new HttpError(tooLarge.status, `${tooLarge.what} is over the limit of ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON body; `what` names the expected document in error messages. */
export async function readJson(ctx: Context, what: string, limit = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const raw = await readBody(ctx, limit);
  if (raw.length === 0) throw new HttpError(400, `${what}: empty body, expected JSON`);
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch (err) {
    throw new HttpError(400, `${what}: body is not valid JSON (${(err as Error).message})`);
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
