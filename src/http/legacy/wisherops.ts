// The WisherOps pxe-pilot API's `GET /hosts` shape: the default answer's presence and the host
// files by name. `GET /hosts/<mac>` needs nothing here: the native route already answers with the
// file a MAC gets and the same X-PXE-Pilot-Source header. Admin token needed, as natively: answers
// hold root password hashes. Mounted by ./index.ts only while `[http] legacy_api = wisherops`.
import Router from '@koa/router';
import { listAnswers, PROXMOX_LAYOUT } from '../../answers/folder.ts';
import { requireAdmin } from '../auth.ts';
import type { HttpDeps } from '../context.ts';

export function wisheropsRoutes(deps: HttpDeps): Router {
  const router = new Router();
  router.get('/hosts', requireAdmin(deps.profile), async (ctx) => {
    const inventory = await listAnswers(deps.profile().answers.dir, PROXMOX_LAYOUT);
    // Its names were the file names without .toml: aa-bb-cc-dd-ee-ff.
    const hosts = inventory.macs.map((m) => m.mac.replace(/:/g, '-')).sort();
    ctx.body = { default_exists: inventory.default !== null, host_count: hosts.length, hosts };
  });
  return router;
}
