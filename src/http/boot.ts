// What iPXE fetches: the bootstrap, the per-machine script, the menu, and menu picks.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Profile } from '../config/profile.ts';
import { answerBase, httpBase } from '../boot/urls.ts';
import { describeIpxeClient } from '../boot/client.ts';
import { fetchesAnswer, nextState, profileArmsInstall, type StateChange } from '../boot/lifecycle.ts';
import { decide } from '../boot/policy.ts';
import { renderBootstrapScript, renderInstallScript, renderLocalScript, renderMenu, renderRefusalScript } from '../boot/ipxe.ts';
import type { HttpDeps } from './context.ts';
import { badRequest } from './errors.ts';
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

/** Why the install may not be served after all (null: consumed now), from the store's answer. */
async function consumeRefusal(deps: HttpDeps, mac: string, change: StateChange): Promise<string | null> {
  try {
    return (await deps.store.applyChange(mac, change))
      ? null
      : 'the install was consumed meanwhile (another request or appliance served it): booting from local disk next';
  } catch (err) {
    return `the store cannot record the install consumption now (${(err as Error).message}): not served, so it cannot run twice; retry when the store is back`;
  }
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
    const host = profile.hosts.get(mac);
    let node = deps.store.sawNode(
      mac,
      { ip, firmware: client.firmware, uuid: client.uuid, serial: client.serial, hostname: host?.hostname || undefined },
      profileArmsInstall(host),
    );
    let decision = decide(client, profile, node);
    if (decision.action === 'install' && deps.store.reread) {
      // A fleet's store: another appliance may have consumed or cancelled it a moment ago.
      node = (await deps.store.reread(mac)) ?? node;
      decision = decide(client, profile, node);
    }
    ctx.type = IPXE_TYPE;
    let outcome: string = decision.action;
    let reason = decision.reason;

    if (decision.action === 'install') {
      const image = deps.catalogue.find(profile.assets.dir, decision.profile!);
      if (!image) {
        outcome = 'error';
        reason = `${decision.reason}, but ${profile.assets.dir}/${decision.profile} has no vmlinuz and initrd`;
        ctx.body = renderRefusalScript(reason);
      } else if (image.integrity === 'changed') {
        outcome = 'error';
        reason = `${decision.reason}, but ${image.profile} is not offered: ${image.integrityProblem}; run pxe-pilot assets verify ${image.profile}, or add the image again`;
        ctx.body = renderRefusalScript(reason);
      } else {
        const base = httpBase(profile);
        const served = nextState({ kind: 'script-served', profile: image.profile, fetchesAnswer: fetchesAnswer(image.product) }, node);
        // An installer that fetches no answer consumes the install now: it is served only when
        // the store wrote the consumption (once across a fleet sharing the store).
        const refusal = served.change ? await consumeRefusal(deps, mac, served.change) : null;
        if (refusal) {
          outcome = 'refused';
          reason = `${decision.reason}, but ${refusal}`;
          ctx.body = renderRefusalScript(reason);
        } else {
          ctx.body = renderInstallScript(
            image,
            assetBase(profile),
            host?.cmdline ?? '',
            { mac, ip, hostname: host?.hostname ?? '', server: base, answerUrl: `${answerBase(profile)}/answer`, answerServer: answerBase(profile) },
            decision.reason,
          );
          if (served.change) reason += `; ${served.reason}`;
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
    deps.store.record({
      mac,
      protocol: 'http',
      kind: 'GET /boot',
      decision: outcome,
      reason,
      detail: { ip, ...(decision.profile ? { profile: decision.profile } : {}), ...(buildarch ? { buildarch } : {}), ...(platform ? { platform } : {}) },
    });
  });

  // A pick from the menu by the person at the console: serves that image's install script.
  router.get('/install', (ctx) => {
    const profile = deps.profile();
    const mac = macQuery(ctx, true, '?mac=…&profile=<product>/<version>');
    const wanted = query(ctx, 'profile', 256);
    if (!wanted) throw badRequest('profile is missing: expected /install?mac=…&profile=<product>/<version>');
    const image = deps.catalogue.find(profile.assets.dir, wanted);
    if (!image) throw badRequest(`no install image ${JSON.stringify(wanted).slice(0, 80)} under [assets] dir`);
    if (image.integrity === 'changed') throw badRequest(`install image ${image.profile} is not offered: ${image.integrityProblem}`);
    const ip = clientAddress(ctx);
    const host = profile.hosts.get(mac);
    const base = httpBase(profile);
    const reason = `chosen from the menu at the console`;
    ctx.type = IPXE_TYPE;
    ctx.body = renderInstallScript(
      image,
      assetBase(profile),
      host?.cmdline ?? '',
      { mac, ip, hostname: host?.hostname ?? '', server: base, answerUrl: `${answerBase(profile)}/answer`, answerServer: answerBase(profile) },
      reason,
    );
    deps.store.record({
      mac,
      protocol: 'http',
      kind: 'GET /install',
      decision: 'install',
      reason: `${image.profile} ${reason}`,
      detail: { ip, profile: image.profile },
    });
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
    ctx.body = renderMenu(deps.catalogue.images(profile.assets.dir), {
      mac,
      httpBase: httpBase(profile),
      defaultItem: profile.boot.menuDefault,
      timeoutSeconds: profile.boot.menuTimeout,
      reason: 'menu requested directly',
    });
  });
}
