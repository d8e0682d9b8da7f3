// What iPXE fetches: the bootstrap, the per-machine script, the menu, and menu picks.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Profile } from '../config/profile.ts';
import { httpBase } from '../boot/urls.ts';
import { describeIpxeClient } from '../boot/client.ts';
import { menuImages, resolveBoot, type BootOutcome } from '../boot/resolve.ts';
import {
  renderBootstrapScript,
  renderInspectScript,
  renderInstallScript,
  renderLocalScript,
  renderMenu,
  renderRefusalScript,
  type MenuOptions,
} from '../boot/ipxe.ts';
import type { MenuSpec } from '../boot/rules.ts';
import type { HttpDeps } from './context.ts';
import { bootPortsOf } from './agent-next.ts';
import { badRequest, HttpError } from './errors.ts';
import { clientAddress, macQuery } from './request.ts';

const IPXE_TYPE = 'text/plain; charset=utf-8';

function query(ctx: Context, key: string, max = 128): string | undefined {
  const v = ctx.query[key];
  const s = Array.isArray(v) ? v[0] : v;
  // iPXE sends unset variables as empty strings.
  return s && s.length <= max ? s : undefined;
}

export function assetBase(profile: Profile): string {
  return profile.assets.url ? profile.assets.url.replace(/\/+$/, '') : `${httpBase(profile)}/assets`;
}

/** The iPXE script of an outcome of src/boot/resolve.ts. */
function renderOutcome(outcome: BootOutcome, profile: Profile, mac: string): string {
  switch (outcome.tag) {
    case 'install':
      return renderInstallScript(outcome.image, assetBase(profile), outcome.cmdline, outcome.vars, outcome.reason);
    case 'local':
      return renderLocalScript(outcome.reason, outcome.script);
    case 'menu':
      return renderMenu(outcome.images, menuOptions(profile, mac, outcome.reason, outcome.menu), outcome.disks);
    case 'inspect':
      return renderInspectScript(outcome.image, assetBase(profile), outcome.cmdline, outcome.reason);
    case 'refused':
    case 'error':
      return renderRefusalScript(outcome.reason);
  }
}

/** A [menu NAME] may name its own default entry; else [boot] menu_default. */
function menuOptions(profile: Profile, mac: string, reason: string, menu?: MenuSpec): MenuOptions {
  return { mac, httpBase: httpBase(profile), defaultItem: menu?.default || profile.boot.menuDefault, timeoutSeconds: profile.boot.menuTimeout, reason };
}

export function bootRoutes(router: Router, deps: HttpDeps): void {
  const bootstrap = (ctx: Context): void => {
    ctx.type = IPXE_TYPE;
    ctx.body = renderBootstrapScript(httpBase(deps.profile()));
  };
  router.get('/boot.ipxe', bootstrap);
  router.get('/chain', bootstrap);

  router.get('/boot', async (ctx) => {
    const profile = deps.profile();
    const mac = macQuery(ctx, true);
    const ip = clientAddress(ctx);
    const buildarch = query(ctx, 'arch', 16);
    const platform = query(ctx, 'platform', 16);
    const client = describeIpxeClient({ mac, ip, buildarch, platform, uuid: query(ctx, 'uuid'), serial: query(ctx, 'serial') });
    const detail = { ip, ...(buildarch ? { buildarch } : {}), ...(platform ? { platform } : {}) };
    const outcome = await resolveBoot({ client, event: { protocol: 'http', kind: 'GET /boot', detail } }, profile, bootPortsOf(deps), deps.catalogue);
    ctx.type = IPXE_TYPE;
    ctx.body = renderOutcome(outcome, profile, mac);
  });

  // A pick from the menu by the person at the console: an install image's script, or (a disk image,
  // confirmed with erase=yes) the deploy armed and the agent's script in deploy mode.
  router.get('/install', async (ctx) => {
    const profile = deps.profile();
    const mac = macQuery(ctx, true, '?mac=…&profile=<product>/<version>');
    const pick = query(ctx, 'profile', 256);
    if (!pick) throw badRequest('profile is missing: expected /install?mac=…&profile=<product>/<version>');
    const erase = query(ctx, 'erase', 8);
    if (erase !== undefined && erase !== 'yes') throw badRequest(`erase=${erase}: only erase=yes confirms a deploy`);
    const ip = clientAddress(ctx);
    const buildarch = query(ctx, 'arch', 16);
    const client = describeIpxeClient({ mac, ip, ...(buildarch ? { buildarch } : {}) });
    const request = { client, pick, erase: erase === 'yes', event: { protocol: 'http' as const, kind: 'GET /install', detail: { ip } } };
    const outcome = await resolveBoot(request, profile, bootPortsOf(deps), deps.catalogue);
    // Refused: the machine or the store is not in a state to take it now; an error: the request is wrong.
    if (outcome.tag === 'refused') throw new HttpError(409, outcome.reason);
    if (outcome.tag !== 'install' && outcome.tag !== 'inspect') throw badRequest(outcome.reason);
    ctx.type = IPXE_TYPE;
    ctx.body = renderOutcome(outcome, profile, mac);
  });

  router.get('/menu.ipxe', (ctx) => {
    const profile = deps.profile();
    // Without a valid one, iPXE fills in its own ${mac} when it fetches the picks.
    let mac = '${mac}';
    try {
      mac = macQuery(ctx, false) ?? mac;
    } catch {
      // keep iPXE's variable
    }
    ctx.type = IPXE_TYPE;
    // The default menu: its disk images are deployed only for a machine whose own decision is a menu.
    const listed = menuImages(profile, deps.catalogue, undefined);
    ctx.body = renderMenu(listed.images, menuOptions(profile, mac, 'menu requested directly'), listed.disks);
  });
}
