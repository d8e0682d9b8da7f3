// GET /events/stream (admin): every event as it is recorded, as Server-Sent Events.
// A slow reader gets a bounded queue; when it fills, the client is dropped and its connection
// closed, so a stalled dashboard never grows the daemon's memory. Frames recorded in one turn of
// the event loop go out in one write: a boot storm's events cost a write per client per turn,
// not a write (and a TCP segment, with no Nagle) per event per client.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { DaemonTelemetry } from '../metrics/telemetry.ts';
import type { StreamedEvent } from '../live/event-hub.ts';
import { macQuery } from './request.ts';

/** Bytes queued for one client beyond what the socket accepted; past this the client is dropped. */
export const STREAM_QUEUE_BYTES = 256 * 1024;
const HEARTBEAT_MS = 15_000;

export function eventStreamRoutes(router: Router, admin: Middleware, telemetry: DaemonTelemetry): void {
  router.get('/events/stream', admin, (ctx) => {
    const mac = macQuery(ctx, false) ?? null;
    const res = ctx.res;
    ctx.respond = false;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(': pxe-pilot event stream\nretry: 2000\n\n');
    ctx.req.socket.setNoDelay(true);

    const queue: string[] = [];
    let queuedBytes = 0;
    let waiting = false;
    let closed = false;
    /** Frames of this event-loop turn, written together by flush(). */
    const batch: string[] = [];
    let flushScheduled = false;

    const close = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(heartbeat);
      queue.length = 0;
      batch.length = 0;
      res.destroy();
    };
    const send = (frame: string): void => {
      if (closed) return;
      if (waiting) {
        queue.push(frame);
        queuedBytes += Buffer.byteLength(frame);
        if (queuedBytes > STREAM_QUEUE_BYTES) {
          telemetry.streamDropped.inc();
          close();
        }
        return;
      }
      if (!res.write(frame)) waiting = true;
    };
    const flush = (): void => {
      flushScheduled = false;
      if (batch.length === 0) return;
      const frames = batch.join('');
      batch.length = 0;
      send(frames);
    };
    const write = (frame: string): void => {
      if (closed) return;
      batch.push(frame);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    };
    res.on('drain', () => {
      waiting = false;
      while (queue.length > 0 && !waiting) {
        const frame = queue.shift()!;
        queuedBytes -= Buffer.byteLength(frame);
        if (!res.write(frame)) waiting = true;
      }
    });
    const unsubscribe = telemetry.hub.subscribe((e: StreamedEvent) => {
      if (mac !== null && e.event.mac !== mac) return;
      write(e.frame());
    }, close);
    const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
    heartbeat.unref();
    res.once('close', close);
    res.once('error', close);
  });
}
