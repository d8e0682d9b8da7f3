// Firmware and shim build URLs by gluing a folder and a name, so requests arrive as
// `…/amd64//grubx64.efi` or `//ipxe/snponly.efi`. An empty path segment means nothing in any of
// our routes: fold runs of slashes into one before anything (auth, metrics, routing) reads the
// path, so every later piece sees the same canonical path. `..` stays a segment and is still
// refused where files are served (src/http/static-files.ts).
import type { Context, Next } from 'koa';

/** The path with every run of slashes folded into one. */
export function foldSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

export async function foldRequestSlashes(ctx: Context, next: Next): Promise<void> {
  // ctx.path is the raw path before percent-decoding, so an escaped %2F is not folded here.
  if (ctx.path.includes('//')) ctx.path = foldSlashes(ctx.path);
  await next();
}
