// Kernels and initrds from [assets] dir, and the iPXE binaries from [tftp] root for UEFI HTTP boot.
import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';
import { sendFile } from './static-files.ts';

export function assetRoutes(router: Router, deps: HttpDeps): void {
  router.get('/assets/*path', async (ctx) => {
    await sendFile(ctx, deps.profile().assets.dir, String(ctx.params.path ?? ''));
  });
  router.get('/ipxe/*path', async (ctx) => {
    const path = String(ctx.params.path ?? '');
    await sendFile(ctx, deps.profile().tftp.root, path, path.endsWith('.efi') ? 'application/efi' : 'application/octet-stream');
  });
}
