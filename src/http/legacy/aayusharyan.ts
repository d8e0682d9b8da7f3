// The aayusharyan pxe-pilot API (its 3.x routes), in its own shapes, for the scripts and buttons
// its users already have. Backed by our lifecycle: "reinstall" is an armed install
// (install-pending), read from the node's state; the local-boot script is the node's.
// Mounted by ./index.ts only while `[http] legacy_api = aayusharyan`.
import Router from '@koa/router';
import type { Context } from 'koa';
import { nextState } from '../../boot/lifecycle.ts';
import type { NodeRecord } from '../../boot/ports.ts';
import { httpBase } from '../../boot/urls.ts';
import { HAND_BACK_TO_FIRMWARE } from '../../boot/ipxe.ts';
import { requireAdmin } from '../auth.ts';
import { isPlainObject, readBody } from '../body.ts';
import type { HttpDeps } from '../context.ts';
import { badRequest } from '../errors.ts';
import { clientAddress, parseMac } from '../request.ts';
import { parseLegacyLocalBoot } from './local-boot.ts';

/** ISO 8601 with an explicit +00:00 offset, as that project wrote its times. */
export function legacyTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString().replace(/Z$/, '+00:00');
}

/** A node as that project's `GET /nodes` listed it. */
export function legacyNode(node: NodeRecord) {
  return {
    mac: node.mac,
    reinstall: node.state === 'install-pending',
    local_boot_script: node.localBoot,
    last_seen: legacyTime(node.lastSeen),
    created_at: legacyTime(node.firstSeen),
  };
}

/** Its bootstrap: chain to /boot with the MAC, and a `:fallback` that hands the machine back to the firmware. */
export function legacyChainScript(base: string): string {
  return [
    '#!ipxe',
    `chain ${base}/boot?mac=\${mac} || goto fallback`,
    ':fallback',
    'echo pxe-pilot: boot server unavailable, continuing with the next boot device',
    HAND_BACK_TO_FIRMWARE,
    '',
  ].join('\n');
}

/** The MAC of the path, 400 in that project's shape when it is not one. */
function pathMac(ctx: Context): string {
  const params = ctx.params as Record<string, string | undefined>;
  return parseMac(params.mac ?? '');
}

async function scriptOfBody(ctx: Context): Promise<unknown> {
  const raw = (await readBody(ctx)).toString('utf8');
  let body: unknown;
  try {
    body = raw.trim() === '' ? undefined : JSON.parse(raw);
  } catch {
    body = undefined;
  }
  if (!isPlainObject(body) || !('script' in body)) throw badRequest("Request body must be JSON with a 'script' key");
  return body.script;
}

export function aayusharyanRoutes(deps: HttpDeps): Router {
  const router = new Router();
  const admin = requireAdmin(deps.profile);

  function record(ctx: Context, mac: string, decision: string, reason: string): void {
    deps.store.record({
      mac,
      protocol: 'admin',
      kind: `legacy ${ctx.method} ${ctx.path.replace(/\/nodes\/[^/]+/, '/nodes/<mac>')}`,
      decision,
      reason,
      detail: { ip: clientAddress(ctx) },
    });
    deps.logger.info({ mac }, reason);
  }

  router.get('/health', (ctx) => {
    ctx.body = { status: 'OK' };
  });

  router.get('/chain', (ctx) => {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = legacyChainScript(httpBase(deps.profile()));
  });

  router.get('/nodes', admin, (ctx) => {
    const nodes = deps.store.listNodes(Number.MAX_SAFE_INTEGER, 0).sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
    ctx.body = { nodes: nodes.map(legacyNode) };
  });

  router.post('/nodes/:mac/reinstall', admin, async (ctx) => {
    const mac = pathMac(ctx);
    const armed = nextState({ kind: 'reinstall-armed', profile: null }, deps.store.getNode(mac));
    if (armed.change) await deps.store.applyChange(mac, armed.change);
    record(ctx, mac, 'armed', `reinstall armed by admin (legacy API), no profile named: ${armed.reason}`);
    ctx.body = { mac, reinstall: true };
  });

  router.delete('/nodes/:mac/reinstall', admin, async (ctx) => {
    const mac = pathMac(ctx);
    // That project created the node here too.
    const node = deps.store.getNode(mac) ?? deps.store.ensureNode(mac);
    const cancelled = nextState({ kind: 'reinstall-cancelled' }, node);
    if (cancelled.change) await deps.store.applyChange(mac, cancelled.change);
    record(ctx, mac, cancelled.change ? 'disarmed' : 'unchanged', `reinstall cleared by admin (legacy API): ${cancelled.reason}`);
    ctx.body = { mac, reinstall: deps.store.getNode(mac)?.state === 'install-pending' };
  });

  router.put('/nodes/:mac/local-boot-config', admin, async (ctx) => {
    const mac = pathMac(ctx);
    const parsed = parseLegacyLocalBoot(await scriptOfBody(ctx));
    if (!parsed.ok) throw badRequest(parsed.error);
    deps.store.ensureNode(mac);
    await deps.store.setLocalBoot(mac, parsed.script);
    record(ctx, mac, 'local-boot', `local boot set by admin (legacy API) to "${parsed.script}"`);
    ctx.body = { mac, local_boot_script: parsed.script };
  });

  router.delete('/nodes/:mac/local-boot-config', admin, async (ctx) => {
    const mac = pathMac(ctx);
    deps.store.ensureNode(mac);
    await deps.store.setLocalBoot(mac, null);
    record(ctx, mac, 'local-boot', 'local boot reset by admin (legacy API) to the default "exit"');
    ctx.body = { mac, local_boot_script: null };
  });

  return router;
}
