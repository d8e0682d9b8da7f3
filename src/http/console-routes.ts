// Admin read-outs the console (dashboard and CLI) needs beside the admin API: transfers and deploys
// in flight, DHCP leases, install images and who uses them, and the daemon's status with its warnings.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { HttpDeps } from './context.ts';
import type { DaemonTelemetry } from '../metrics/telemetry.ts';
import { profileWarnings } from '../config/load.ts';
import { nodeCounts } from '../metrics/sources.ts';
import { deployProgress } from '../live/deploys.ts';
import { parseMac } from './request.ts';

export function consoleRoutes(router: Router, deps: HttpDeps, admin: Middleware, telemetry: DaemonTelemetry): void {
  router.get('/transfers', admin, (ctx) => {
    ctx.body = { transfers: telemetry.transfers.list().map((t) => ({ ...t, startedAt: new Date(t.startedAt).toISOString() })) };
  });

  // Deploys under way (the Live and machine pages), from the agents' progress events; ?mac= for one.
  router.get('/deploys', admin, (ctx) => {
    const now = Date.now();
    const only = typeof ctx.query.mac === 'string' ? parseMac(ctx.query.mac) : null;
    const nodes = only ? [deps.store.getNode(only)].filter((n) => n !== null && n !== undefined) : deps.store.listNodesInState('installing', 1000);
    ctx.body = {
      deploys: nodes
        .map((n) => deployProgress(n, deps.store.events({ mac: n.mac, protocol: 'agent', limit: 200 }), now))
        .filter((d) => d !== null)
        .map((d) => ({ ...d, at: new Date(d.at).toISOString() })),
    };
  });

  router.get('/leases', admin, (ctx) => {
    const now = Date.now();
    const leases = deps.leases.all();
    ctx.body = {
      dhcpMode: deps.profile().dhcp.mode,
      leases: leases
        .sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }))
        .map((l) => ({
          ip: l.ip,
          mac: l.mac,
          hostname: l.hostname,
          state: l.state,
          expires: new Date(l.expiresAt).toISOString(),
          expired: l.expiresAt <= now,
        })),
    };
  });

  router.get('/images', admin, (ctx) => {
    const profile = deps.profile();
    const images = deps.catalogue.images(profile.assets.dir);
    const users = new Map<string, Set<string>>();
    const use = (image: string | null | undefined, who: string): void => {
      if (!image) return;
      if (!users.has(image)) users.set(image, new Set());
      users.get(image)!.add(who);
    };
    for (const [mac, host] of profile.hosts) use(host.profile, host.hostname || mac);
    for (const n of deps.store.listNodes(10_000, 0)) use(n.profile, n.hostname ?? n.mac);
    ctx.body = {
      dir: profile.assets.dir,
      images: images.map((i) => ({
        profile: i.profile,
        product: i.product,
        version: i.version,
        kernel: i.kernel,
        initrds: i.initrds,
        remote: i.remote !== undefined,
        hosts: [...(users.get(i.profile) ?? [])].sort(),
        // As `assets ls` says it: files match image.json (verified) or there is none (unverified, made by hand).
        integrity: i.integrity ?? 'unverified',
      })),
      // Images no longer offered: their files changed since they were added.
      changed: deps.catalogue
        .all(profile.assets.dir)
        .filter((i) => i.integrity === 'changed')
        .map((i) => ({ profile: i.profile, problem: i.integrityProblem ?? 'changed since it was added' })),
      // Remote images ([image] sections) not offered yet: a pinned file not fetched and checked.
      unfetched: deps.catalogue
        .all(profile.assets.dir)
        .filter((i) => i.integrity === 'unfetched')
        .map((i) => ({ profile: i.profile, problem: i.integrityProblem ?? 'not in the cache yet' })),
    };
  });

  router.get('/status', admin, (ctx) => {
    const profile = deps.profile();
    ctx.body = {
      version: deps.version,
      uptime: Math.round((Date.now() - deps.startedAt) / 1000),
      startedAt: new Date(deps.startedAt).toISOString(),
      address: profile.server.address,
      dhcpMode: profile.dhcp.mode,
      config: profile.file,
      services: deps.services(),
      warnings: profileWarnings(profile),
      nodes: nodeCounts(deps.store),
      // Degraded: PostgreSQL unreachable; boots go on from memory (docs/fleet.md).
      store: deps.storeHealth?.() ?? { backend: 'sqlite', state: 'ok' },
      transfers: telemetry.transfers.size,
      streamClients: telemetry.hub.clients,
    };
  });
}
