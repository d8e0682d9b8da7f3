// Serving files from one folder: HEAD, Content-Length, single Range (206/416), ETag,
// Last-Modified; no listing, and nothing outside the folder (symlinks included). The body goes
// with sendfile(2) on plain HTTP (file-send.ts) and is streamed where that cannot work (TLS).
import { constants, createReadStream, type Stats } from 'node:fs';
import { access, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Context } from 'koa';
import { cannotRead } from '../net/readable-as.ts';
import { HttpError } from './errors.ts';
import { canSendFile, sendFileBody, type FileBodyPart } from './file-send.ts';

const SEGMENT = /^[A-Za-z0-9._+~@=,-]+$/;

/** Resolves a request path below `root`, or throws 404 / 400. */
export async function resolveInside(root: string, relPath: string): Promise<{ path: string; stats: Stats }> {
  const segments = relPath.split('/').filter((s) => s !== '');
  if (segments.length === 0) throw new HttpError(404, 'no file named');
  for (const s of segments) {
    // Decoded already by the router: reject anything that is not a plain name.
    if (s === '.' || s === '..' || !SEGMENT.test(s)) throw new HttpError(400, `path segment ${JSON.stringify(s).slice(0, 60)} is not allowed`);
  }
  // A file the daemon's account may not read is a 403 that says so, never "no such file".
  const denied = (path: string, err: unknown): HttpError | null => {
    const problem = cannotRead(path, err);
    return problem ? new HttpError(403, problem) : null;
  };
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (err) {
    throw denied(root, err) ?? new HttpError(404, `folder ${root} does not exist on the server`);
  }
  let real: string;
  try {
    real = await realpath(`${realRoot}${sep}${segments.join(sep)}`);
  } catch (err) {
    throw denied(join(root, ...segments), err) ?? new HttpError(404, `no such file: ${segments.join('/')}`);
  }
  if (!real.startsWith(realRoot + sep)) throw new HttpError(404, `no such file: ${segments.join('/')}`);
  const stats = await stat(real);
  if (!stats.isFile()) throw new HttpError(404, `no such file: ${segments.join('/')}`);
  try {
    await access(real, constants.R_OK);
  } catch (err) {
    throw denied(join(root, ...segments), err) ?? err;
  }
  return { path: real, stats };
}

function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null; // multiple or malformed ranges: serve the whole file, as RFC 9110 allows
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export async function sendFile(ctx: Context, root: string, relPath: string, contentType = 'application/octet-stream'): Promise<void> {
  const { path, stats } = await resolveInside(root, relPath);
  const etag = `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  ctx.set('ETag', etag);
  ctx.set('Last-Modified', stats.mtime.toUTCString());
  ctx.set('Accept-Ranges', 'bytes');
  ctx.type = contentType;
  const inm = ctx.get('if-none-match');
  const ims = ctx.get('if-modified-since');
  if ((inm && inm === etag) || (!inm && ims && Date.parse(ims) >= Math.floor(stats.mtimeMs / 1000) * 1000)) {
    ctx.status = 304;
    return;
  }
  let start = 0;
  let end = stats.size - 1;
  const rangeHeader = ctx.get('range');
  const ifRange = ctx.get('if-range');
  if (rangeHeader && (!ifRange || ifRange === etag)) {
    const range = parseRange(rangeHeader, stats.size);
    if (range === 'unsatisfiable') {
      ctx.set('Content-Range', `bytes */${stats.size}`);
      throw new HttpError(416, `range ${rangeHeader} is outside the file (${stats.size} bytes)`, { 'Content-Range': `bytes */${stats.size}` });
    }
    if (range) {
      start = range.start;
      end = range.end;
      ctx.status = 206;
      ctx.set('Content-Range', `bytes ${start}-${end}/${stats.size}`);
    }
  }
  if (ctx.status !== 206) ctx.status = 200;
  ctx.length = stats.size === 0 ? 0 : end - start + 1;
  if (ctx.method === 'HEAD') {
    // Koa would turn an empty body into 204 and drop Content-Length: answer HEAD ourselves.
    ctx.respond = false;
    ctx.res.writeHead(ctx.status, ctx.response.headers as Record<string, string>);
    ctx.res.end();
    return;
  }
  if (stats.size === 0) {
    ctx.body = '';
    return;
  }
  if (canSendFile(ctx.res)) return respondWithFileBody(ctx, path, { start, length: end - start + 1 });
  ctx.body = createReadStream(path, { start, end, highWaterMark: 256 * 1024 });
}

/**
 * Answers with the status and headers set on ctx and `part` of the file at `path` (found by
 * resolveInside) sent with sendfile; only where canSendFile(ctx.res).
 */
export async function respondWithFileBody(ctx: Context, path: string, part: FileBodyPart): Promise<void> {
  // Opened before the head goes out: a file that vanished since stat() is still a clean 404.
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HttpError(404, 'no such file');
    throw err;
  }
  ctx.respond = false;
  ctx.res.writeHead(ctx.status, ctx.response.headers as Record<string, string>);
  sendFileBody(ctx.res, file, part);
}
