// GET /cpio/<product>/<version>/<file>: an image file wrapped in a one-file cpio archive, so the
// kernel unpacks it at /<file> in the initramfs (the Proxmox installer looks for /proxmox.iso).
// Header, the file, padding and trailer; never the file in memory: the file part goes with
// sendfile(2) on plain HTTP (file-send.ts), and the whole is streamed where that cannot work (TLS).
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';
import { respondWithFileBody, resolveInside } from './static-files.ts';
import { canSendFile } from './file-send.ts';
import { HttpError } from './errors.ts';
import { NEWC_MAX_SIZE, newcFileHeader, newcFileTail } from '../boot/cpio.ts';

export function initrdCpioRoutes(router: Router, deps: HttpDeps): void {
  router.get('/cpio/*path', async (ctx) => {
    const { path, stats } = await resolveInside(deps.profile().assets.dir, String(ctx.params.path ?? ''));
    if (stats.size > NEWC_MAX_SIZE) throw new HttpError(400, `${basename(path)} is larger than 4 GiB: a cpio archive cannot carry it`);
    const name = basename(path);
    const head = newcFileHeader(name, stats.size, stats.mtimeMs / 1000);
    const tail = newcFileTail(stats.size);
    ctx.type = 'application/octet-stream';
    ctx.set('ETag', `"cpio-${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`);
    ctx.length = head.length + stats.size + tail.length;
    if (ctx.method === 'HEAD') {
      ctx.respond = false;
      ctx.res.writeHead(200, ctx.response.headers as Record<string, string>);
      ctx.res.end();
      return;
    }
    if (canSendFile(ctx.res)) {
      ctx.status = 200;
      return respondWithFileBody(ctx, path, { start: 0, length: stats.size, prefix: head, suffix: tail });
    }
    ctx.body = Readable.from(
      (async function* () {
        yield head;
        yield* createReadStream(path, { highWaterMark: 256 * 1024 });
        yield tail;
      })(),
    );
  });
}
