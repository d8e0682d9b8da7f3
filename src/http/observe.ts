// Request metrics (route pattern, method, status, latency) and the live table of asset downloads.
// Sits outside the error mapping, so it sees the status the client really got.
import type { Context, Next } from 'koa';
import { Readable } from 'node:stream';
import type { DaemonTelemetry } from '../metrics/telemetry.ts';
import { clientAddress } from './request.ts';
import { fileBodyOf, type FileBodyTransfer } from './file-send.ts';

/** Downloads worth showing as transfers: install assets and iPXE binaries. */
const DOWNLOAD = /^\/(assets|ipxe)\//;

export function observeRequests(telemetry: DaemonTelemetry) {
  return async function observe(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      // The matched pattern (/nodes/:mac), never the raw path: labels stay bounded.
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      telemetry.httpRequests.inc({ route: String(route), method: ctx.method, status: String(ctx.status) });
      telemetry.httpSeconds.observe({ route: String(route) }, seconds);
      if (DOWNLOAD.test(ctx.path)) {
        const sent = fileBodyOf(ctx.res);
        if (sent) trackFileBody(ctx, sent, telemetry);
        else if (ctx.body instanceof Readable) trackDownload(ctx, ctx.body, telemetry);
      }
    }
  };
}

/** A body sent with sendfile (file-send.ts): it counts its own bytes and says when it ended. */
function trackFileBody(ctx: Context, sent: FileBodyTransfer, telemetry: DaemonTelemetry): void {
  const size = typeof ctx.length === 'number' ? ctx.length : null;
  const handle = telemetry.transferStarted({ protocol: 'http', client: clientAddress(ctx), file: ctx.path, size, bytes: () => sent.bytes() });
  void sent.done.then((ok) => handle.end(ok && (size === null || sent.bytes() >= size) ? 'served' : 'error', sent.bytes()));
}

function trackDownload(ctx: Context, body: Readable, telemetry: DaemonTelemetry): void {
  let bytes = 0;
  const size = typeof ctx.length === 'number' ? ctx.length : null;
  const handle = telemetry.transferStarted({ protocol: 'http', client: clientAddress(ctx), file: ctx.path, size, bytes: () => bytes });
  // A second 'data' listener beside Koa's pipe sees every chunk without changing the flow.
  body.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  const done = (): void => handle.end(size !== null && bytes >= size ? 'served' : 'error', bytes);
  ctx.res.once('close', done);
  body.once('error', done);
}
