// What iPXE fetches: the bootstrap, the per-machine script, the menu, and menu picks.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { answerBase, httpBase, type Profile } from '../config/profile.ts';
import { normaliseMac, type ClientDescription } from '../boot/client.ts';
import { decide, profileArmsInstall } from '../boot/policy.ts';
import { fetchesAnswer } from '../boot/catalogue.ts';
import { renderBootstrapScript, renderInstallScript, renderLocalScript, renderMenu, renderRefusalScript } from '../boot/ipxe.ts';
import type { HttpDeps } from './context.ts';
import { badRequest } from './errors.ts';

const IPXE_TYPE = 'text/plain; charset=utf-8';

function clientIp(ctx: Context): string {
  const a = ctx.req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function query(ctx: Context, key: string, max = 128): string | undefined {
  const v = ctx.query[key];
  const s = Array.isArray(v) ? v[0] : v;
  // iPXE sends unset variables as empty strings.
  return s && s.length <= max ? s : undefined;
}

function macFromQuery(ctx: Context): string {
  const raw = ctx.query.mac;
  if (raw === undefined || raw === '') throw badRequest('mac is missing: expected /boot?mac=aa-bb-cc-dd-ee-ff');
  const mac = typeof raw === 'string' ? normaliseMac(raw) : null;
  if (!mac) throw badRequest(`mac ${JSON.stringify(String(raw)).slice(0, 40)} is not a MAC address`);
  return mac;
}

export function assetBase(profile: Profile): string {
  return profile.assets.url ? profile.assets.url.replace(/\/+$/, '') : `${httpBase(profile)}/assets`;
}

export function bootRoutes(router: Router, deps: HttpDeps): void {
  const bootstrap = (ctx: Context): void => {
    ctx.type = IPXE_TYPE;
    ctx.body = renderBootstrapScript(httpBase(deps.profile()));
  };
  router.get('/boot.ipxe', bootstrap);
  router.get('/chain', bootstrap);

  router.get('/boot', (ctx) => {
    const profile = deps.profile();
    const mac = macFromQuery(ctx);
    const ip = clientIp(ctx);
    const buildarch = query(ctx, 'arch', 16);
    const platform = query(ctx, 'platform', 16);
    const client: ClientDescription = {
      mac,
      firmware: platform === 'pcbios' ? 'bios' : platform === 'efi' ? 'uefi' : 'unknown',
      isIpxe: true,
      ip,
      ...(buildarch ? { buildarch } : {}),
      ...(platform ? { platform } : {}),
      ...(query(ctx, 'uuid') ? { uuid: query(ctx, 'uuid') } : {}),
      ...(query(ctx, 'serial') ? { serial: query(ctx, 'serial') } : {}),
    };
    const host = profile.hosts.get(mac);
    const node = deps.store.sawNode(mac, { ip, firmware: client.firmware, uuid: client.uuid, serial: client.serial, hostname: host?.hostname || undefined }, profileArmsInstall(host));
    const decision = decide(client, profile, node);
    ctx.type = IPXE_TYPE;
    let outcome: string = decision.action;
    let reason = decision.reason;

    if (decision.action === 'install') {
      const image = deps.catalogue.find(profile.assets.dir, decision.profile!);
      if (!image) {
        outcome = 'error';
        reason = `${decision.reason}, but ${profile.assets.dir}/${decision.profile} has no vmlinuz and initrd`;
        ctx.body = renderRefusalScript(reason);
      } else {
        const base = httpBase(profile);
        ctx.body = renderInstallScript(image, assetBase(profile), host?.cmdline ?? '', { mac, ip, hostname: host?.hostname ?? '', server: base, answerUrl: `${answerBase(profile)}/answer`, answerServer: answerBase(profile) }, decision.reason);
        if (!fetchesAnswer(image.product)) {
          deps.store.consumeInstall(mac, image.profile);
          reason += '; install consumed now (this installer fetches no answer)';
        }
      }
    } else if (decision.action === 'local') {
      ctx.body = renderLocalScript(decision.reason, decision.localScript);
    } else if (decision.action === 'menu') {
      ctx.body = renderMenu(deps.catalogue.images(profile.assets.dir), {
        mac,
        httpBase: httpBase(profile),
        defaultItem: profile.boot.menuDefault,
        timeoutSeconds: profile.boot.menuTimeout,
        reason: decision.reason,
      });
    } else {
      ctx.body = renderRefusalScript(decision.reason);
    }
    deps.store.record({ mac, protocol: 'http', kind: 'GET /boot', decision: outcome, reason, detail: { ip, ...(decision.profile ? { profile: decision.profile } : {}), ...(buildarch ? { buildarch } : {}), ...(platform ? { platform } : {}) } });
  });

  // A pick from the menu by the person at the console: serves that image's install script.
  router.get('/install', (ctx) => {
    const profile = deps.profile();
    const mac = macFromQuery(ctx);
    const wanted = query(ctx, 'profile', 256);
    if (!wanted) throw badRequest('profile is missing: expected /install?mac=…&profile=<product>/<version>');
    const image = deps.catalogue.find(profile.assets.dir, wanted);
    if (!image) throw badRequest(`no install image ${JSON.stringify(wanted).slice(0, 80)} under [assets] dir`);
    const ip = clientIp(ctx);
    const host = profile.hosts.get(mac);
    const base = httpBase(profile);
    const reason = `chosen from the menu at the console`;
    ctx.type = IPXE_TYPE;
    ctx.body = renderInstallScript(image, assetBase(profile), host?.cmdline ?? '', { mac, ip, hostname: host?.hostname ?? '', server: base, answerUrl: `${answerBase(profile)}/answer`, answerServer: answerBase(profile) }, reason);
    deps.store.record({ mac, protocol: 'http', kind: 'GET /install', decision: 'install', reason: `${image.profile} ${reason}`, detail: { ip, profile: image.profile } });
  });

  router.get('/menu.ipxe', (ctx) => {
    const profile = deps.profile();
    const raw = ctx.query.mac;
    const mac = (typeof raw === 'string' && normaliseMac(raw)) || '${mac}';
    ctx.type = IPXE_TYPE;
    ctx.body = renderMenu(deps.catalogue.images(profile.assets.dir), {
      mac,
      httpBase: httpBase(profile),
      defaultItem: profile.boot.menuDefault,
      timeoutSeconds: profile.boot.menuTimeout,
      reason: 'menu requested directly',
    });
  });
}
