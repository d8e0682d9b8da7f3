// Kernels and initrds from [assets] dir, and the iPXE binaries from [tftp] root for UEFI HTTP boot.
import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';
import { sendFile } from './static-files.ts';
import { isPinnedRemoteFile, remoteCacheDir } from '../config/images.ts';
import { notFound } from './errors.ts';

export function assetRoutes(router: Router, deps: HttpDeps): void {
  router.get('/assets/*path', async (ctx) => {
    await sendFile(ctx, deps.profile().assets.dir, String(ctx.params.path ?? ''));
  });
  // Pinned files of [image] sections, from the cache once fetched and checked; nothing else there.
  router.get('/remote/:sha256/:name', async (ctx) => {
    const profile = deps.profile();
    const { sha256 = '', name = '' } = ctx.params;
    if (!isPinnedRemoteFile(profile, sha256, name)) throw notFound(`no [image] section pins ${name} with SHA-256 ${sha256}`);
    await sendFile(ctx, remoteCacheDir(profile.server.stateDir), `${sha256}/${name}`);
  });
  router.get('/ipxe/*path', async (ctx) => {
    const path = String(ctx.params.path ?? '');
    await sendFile(ctx, deps.profile().tftp.root, path, path.endsWith('.efi') ? 'application/efi' : 'application/octet-stream');
  });
}
