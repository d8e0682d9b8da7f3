// The admin API, all of it: see every node, arm or cancel a reinstall, set what local boot runs,
// read the event log and a machine's explanation, preview the answers a machine would get, and
// list the install images (`pxe-pilot assets ls --json`, for scripts).
// Every change is an 'admin' event saying who armed what.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { NODE_LIFECYCLES, nextState, type NodeLifecycle } from '../boot/lifecycle.ts';
import type { EventProtocol } from '../boot/events.ts';
import type { InstallRecord, NodeRecord } from '../boot/ports.ts';
import { answerBase } from '../boot/urls.ts';
import { dhcpFacts, explainMac, machineEvents } from '../explain.ts';
import type { HostEntry } from '../config/profile.ts';
import { parseLocalBoot } from '../answers/local-boot.ts';
import { listAnswers, nocloudLayout, PRESEED_LAYOUT, PROXMOX_LAYOUT } from '../answers/folder.ts';
import { normaliseProduct, normaliseSerial, normaliseUuid, proxmoxProductOfProfile } from '../answers/names.ts';
import type { HttpDeps } from './context.ts';
import { fillAnswer, locateAnswer } from './answers.ts';
import { nodeSettingsView } from './node-settings.ts';
import { listImagesWithProblems } from '../assets/inventory.ts';
import { requireAdmin } from './auth.ts';
import { isPlainObject, readBody } from './body.ts';
import { badRequest, notFound } from './errors.ts';
import { clientAddress, macQuery, routeMac } from './request.ts';
import { powerRoutes } from '../power/routes.ts';
import { reinstallNow, reinstallRoutes } from '../power/reinstall-routes.ts';
import { chosenProfile } from './profile-choice.ts';
import { enrolmentJson, enrolmentRoutes, isDiscovered } from './enrolment.ts';

const PROTOCOLS: readonly EventProtocol[] = ['dhcp', 'proxydhcp', 'tftp', 'http', 'answer', 'webhook', 'admin', 'daemon', 'agent'];
const TOML_TYPE = 'application/toml; charset=utf-8';
const RECENT_EVENTS = 50;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function intQuery(ctx: Context, key: string, fallback: number, min: number, max: number): number {
  const raw = ctx.query[key];
  if (raw === undefined || raw === '') return fallback;
  const n = typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw badRequest(`${key} must be a whole number from ${min} to ${max}`);
  return n;
}

function stringQuery(ctx: Context, key: string): string | undefined {
  const raw = ctx.query[key];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw badRequest(`${key} given more than once`);
  return raw;
}

/** An optional JSON object body: empty → {}. */
async function optionalJsonObject(ctx: Context, what: string): Promise<Record<string, unknown>> {
  const raw = await readBody(ctx);
  if (raw.toString('utf8').trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw badRequest(`${what}: body is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(value)) throw badRequest(`${what}: expected a JSON object`);
  return value;
}

function nodeSummary(node: NodeRecord, host: HostEntry | undefined) {
  return {
    mac: node.mac,
    state: node.state,
    profile: node.profile ?? host?.profile ?? null,
    hostname: node.hostname ?? host?.hostname ?? null,
    lastSeen: iso(node.lastSeen),
    lastIp: node.lastIp,
    arch: node.arch,
    firmware: node.firmware,
    installedAt: iso(node.installedAt),
    fqdn: node.fqdn,
    discovered: isDiscovered(node, host),
    hardware: hardwareSummary(node),
  };
}

/** What a list shows of an inspected machine: who it is, its size, and the switch port of its first NIC with a neighbour. */
function hardwareSummary(node: NodeRecord) {
  const inv = node.inventory?.document;
  if (!inv) return null;
  const lldp = inv.nics.find((n) => n.lldp)?.lldp ?? null;
  return {
    vendor: inv.system.vendor,
    product: inv.system.product,
    serial: inv.system.serial,
    cpuThreads: inv.cpus.threads,
    memoryBytes: inv.memory.totalBytes,
    disks: inv.disks.length,
    diskBytes: inv.disks.reduce((sum, d) => sum + d.sizeBytes, 0),
    switchPort: lldp ? [lldp.systemName ?? lldp.chassisId, lldp.portId ?? lldp.portDescription].filter((x) => x).join(' ') || null : null,
  };
}

/** The stored inventory as the API shows it (reportedAt in ms, as the contract has it). */
function inventoryJson(node: NodeRecord) {
  return node.inventory ? { document: node.inventory.document, reportedAt: node.inventory.reportedAt, session: node.inventory.session } : null;
}

function installJson(i: InstallRecord) {
  return { profile: i.profile, armedAt: iso(i.armedAt), armedBy: i.armedBy, consumedAt: iso(i.consumedAt), installedAt: iso(i.installedAt), fqdn: i.fqdn };
}

export function adminRoutes(router: Router, deps: HttpDeps): void {
  const admin = requireAdmin(deps.profile);
  const host = (mac: string): HostEntry | undefined => deps.profile().hosts.get(mac);

  const recentEvents = (mac: string) => machineEvents(deps.store, mac, RECENT_EVENTS).timeline.map((e) => ({ ...e, time: iso(e.time) }));

  function nodeDetail(mac: string) {
    const node = deps.store.getNode(mac);
    const h = host(mac);
    if (!node) {
      // A machine with a [host] section that has not booted yet: known to the operator, not to us.
      if (!h) throw notFound(`no node ${mac}: it has not booted from us and has no [host] section`);
      return {
        mac,
        state: 'unknown',
        profile: h.profile || null,
        hostname: h.hostname || null,
        lastSeen: null,
        lastIp: null,
        arch: null,
        firmware: null,
        installedAt: null,
        fqdn: null,
        localBoot: null,
        host: { action: h.action, profile: h.profile || null, hostname: h.hostname || null },
        inventory: null,
        enrolment: null,
        discovered: false,
        installs: [],
        events: recentEvents(mac),
      };
    }
    return {
      ...nodeSummary(node, h),
      firstSeen: iso(node.firstSeen),
      armedAt: iso(node.armedAt),
      armedBy: node.armedBy,
      consumedAt: iso(node.consumedAt),
      bootMode: node.bootMode,
      uuid: node.uuid,
      serial: node.serial,
      localBoot: node.localBoot,
      host: h ? { action: h.action, profile: h.profile || null, hostname: h.hostname || null } : null,
      inventory: inventoryJson(node),
      enrolment: enrolmentJson(node.enrolment),
      discovered: isDiscovered(node, h),
      installs: deps.store.installHistory(mac).map(installJson),
      events: recentEvents(mac),
      installReport: node.installReport,
    };
  }

  function recordAdmin(ctx: Context, mac: string, decision: string, reason: string): void {
    deps.store.record({
      mac,
      protocol: 'admin',
      kind: `${ctx.method} ${ctx.path.replace(/\/nodes\/[^/]+/, '/nodes/<mac>')}`,
      decision,
      reason,
      detail: { ip: clientAddress(ctx) },
    });
    deps.logger.info({ mac }, reason);
  }

  router.get('/nodes', admin, (ctx) => {
    const limit = intQuery(ctx, 'limit', 1000, 1, 10_000);
    const offset = intQuery(ctx, 'offset', 0, 0, 1e9);
    const state = stringQuery(ctx, 'state');
    if (state === 'discovered') {
      // Inspected machines nothing gives settings yet: a filter over the mirror, not a lifecycle state.
      const discovered = deps.store.listNodes(deps.store.countNodes()).filter((n) => isDiscovered(n, host(n.mac)));
      ctx.body = { total: discovered.length, offset, nodes: discovered.slice(offset, offset + limit).map((n) => nodeSummary(n, host(n.mac))) };
      return;
    }
    if (state !== undefined && !(NODE_LIFECYCLES as readonly string[]).includes(state))
      throw badRequest(`state must be one of ${NODE_LIFECYCLES.join(', ')}, or discovered`);
    const nodes = state ? deps.store.listNodesInState(state as NodeLifecycle, limit, offset) : deps.store.listNodes(limit, offset);
    const total = state ? deps.store.countNodesInState(state as NodeLifecycle) : deps.store.countNodes();
    ctx.body = { total, offset, nodes: nodes.map((n) => nodeSummary(n, host(n.mac))) };
  });

  router.get('/nodes/:mac', admin, (ctx) => {
    const mac = routeMac(ctx);
    ctx.body = { ...nodeDetail(mac), ...nodeSettingsView(deps.profile(), deps.store, mac) };
  });

  router.post('/nodes/:mac/reinstall', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const body = await optionalJsonObject(ctx, 'reinstall request');
    const unknownKeys = Object.keys(body).filter((k) => k !== 'profile' && k !== 'now');
    if (unknownKeys.length)
      throw badRequest(
        `reinstall request: unknown key ${unknownKeys.map((k) => JSON.stringify(k)).join(', ')}; expected {"profile": "<product>/<version>", "now": true}`,
      );
    if (body.now !== undefined && typeof body.now !== 'boolean') throw badRequest('reinstall request: now must be true or false');
    const profile = chosenProfile(deps, body.profile);
    // now: arm, set the next boot to the network and power-cycle through its BMC (src/power/reinstall.ts).
    if (body.now === true) {
      ctx.status = 202;
      ctx.body = await reinstallNow(deps, [{ mac, profile }], clientAddress(ctx));
      return;
    }
    const chosen = profile ?? (host(mac)?.profile || null);
    const armed = nextState({ kind: 'reinstall-armed', profile }, deps.store.getNode(mac));
    if (armed.change) await deps.store.applyChange(mac, armed.change);
    const what = chosen
      ? `profile ${chosen}${profile ? '' : ' (from its [host] section)'}`
      : 'no profile named here or in a [host] section, so its next boot shows the menu';
    recordAdmin(ctx, mac, 'armed', `reinstall armed by admin, ${what}: ${armed.reason}`);
    ctx.body = nodeDetail(mac);
  });

  router.delete('/nodes/:mac/reinstall', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const before = deps.store.getNode(mac);
    if (!before) throw notFound(`no node ${mac}`);
    const cancelled = nextState({ kind: 'reinstall-cancelled' }, before);
    if (cancelled.change) {
      await deps.store.applyChange(mac, cancelled.change);
      recordAdmin(ctx, mac, 'disarmed', `reinstall cancelled by admin: ${cancelled.reason}`);
    } else {
      recordAdmin(ctx, mac, 'unchanged', `reinstall cancel asked by admin, but the node ${cancelled.reason}`);
    }
    ctx.body = nodeDetail(mac);
  });

  // Release (issue 26): unenrol and clear the install state, keeping the inventory; {"wipe": true}
  // arms a wipe instead, and the release happens when the agent reports it (src/http/agent-wipe.ts).
  router.post('/nodes/:mac/release', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const body = await optionalJsonObject(ctx, 'release request');
    const unknownKeys = Object.keys(body).filter((k) => k !== 'wipe');
    if (unknownKeys.length)
      throw badRequest(`release request: unknown key ${unknownKeys.map((k) => JSON.stringify(k)).join(', ')}; expected {"wipe": true} or {}`);
    if (body.wipe !== undefined && typeof body.wipe !== 'boolean') throw badRequest('release request: wipe must be true or false');
    const before = deps.store.getNode(mac);
    if (body.wipe === true) {
      const armed = nextState({ kind: 'wipe-armed' }, before);
      if (armed.change) await deps.store.applyChange(mac, armed.change);
      recordAdmin(ctx, mac, 'wipe-armed', `release with wipe asked by admin${before ? ` (was ${before.state})` : ''}: ${armed.reason}`);
      ctx.body = nodeDetail(mac);
      return;
    }
    if (!before) throw notFound(`no node ${mac}`);
    const released = nextState({ kind: 'released' }, before);
    if (released.change) await deps.store.applyChange(mac, released.change);
    const was = before.enrolment ? ` (enrolled as ${before.enrolment.action} by ${before.enrolment.enrolledBy})` : '';
    recordAdmin(ctx, mac, 'released', `released by admin${was}: ${released.reason}`);
    ctx.body = nodeDetail(mac);
  });

  router.put('/nodes/:mac/local-boot', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const body = await optionalJsonObject(ctx, 'local-boot request');
    if (!('script' in body)) throw badRequest('local-boot request: expected {"script": "exit"} or {"script": "sanboot --no-describe --drive 0x80"}');
    const parsed = parseLocalBoot(body.script);
    if (!parsed.ok) throw badRequest(`local-boot script refused: ${parsed.error}`);
    deps.store.ensureNode(mac);
    await deps.store.setLocalBoot(mac, parsed.script);
    recordAdmin(ctx, mac, 'local-boot', `local boot set by admin to "${parsed.script}"`);
    ctx.body = nodeDetail(mac);
  });

  router.delete('/nodes/:mac/local-boot', admin, async (ctx) => {
    const mac = routeMac(ctx);
    if (!deps.store.getNode(mac)) throw notFound(`no node ${mac}`);
    await deps.store.setLocalBoot(mac, null);
    recordAdmin(ctx, mac, 'local-boot', 'local boot reset by admin to the default "exit"');
    ctx.body = nodeDetail(mac);
  });

  // The same timeline as `pxe-pilot explain <mac>`, as text.
  router.get('/nodes/:mac/explain', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const limit = intQuery(ctx, 'limit', 50, 1, 1000);
    // A fleet's store reads what every appliance recorded; a single appliance's log is all of it.
    const source = (await deps.store.history?.(mac)) ?? deps.store;
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = explainMac(source, mac, { limit, dhcp: dhcpFacts(deps.profile()), settings: deps.profile() });
  });

  router.get('/events', admin, (ctx) => {
    const mac = macQuery(ctx, false);
    const protocol = stringQuery(ctx, 'protocol');
    if (protocol !== undefined && !(PROTOCOLS as readonly string[]).includes(protocol)) throw badRequest(`protocol must be one of ${PROTOCOLS.join(', ')}`);
    const limit = intQuery(ctx, 'limit', 100, 1, 10_000);
    // A machine's events include the TFTP transfers from its addresses, as in explain
    // (TFTP events carry no MAC, so only that protocol needs the address match).
    const events =
      mac && (protocol === undefined || protocol === 'tftp')
        ? machineEvents(deps.store, mac, limit).timeline.filter((e) => protocol === undefined || e.protocol === protocol)
        : deps.store.events({ ...(mac ? { mac } : {}), ...(protocol ? { protocol: protocol as EventProtocol } : {}), limit });
    ctx.body = { events: events.map((e) => ({ ...e, time: iso(e.time) })) };
  });

  router.get('/hosts', admin, async (ctx) => {
    const { dir } = deps.profile().answers;
    const [proxmox, preseed, nocloud] = await Promise.all([
      listAnswers(dir, PROXMOX_LAYOUT),
      listAnswers(dir, PRESEED_LAYOUT),
      listAnswers(dir, nocloudLayout('user-data')),
    ]);
    ctx.body = { dir, ...proxmox, preseed, nocloud };
  });

  // What a MAC would receive; serial, uuid and product come from the node table unless given.
  router.get('/hosts/:mac', admin, async (ctx) => {
    const profile = deps.profile();
    const mac = routeMac(ctx);
    const node = deps.store.getNode(mac);
    const q = (key: string): string | undefined => (typeof ctx.query[key] === 'string' ? ctx.query[key] : undefined);
    const serial = normaliseSerial(q('serial') ?? node?.serial);
    const uuid = normaliseUuid(q('uuid') ?? node?.uuid);
    const product = normaliseProduct(q('product') ?? proxmoxProductOfProfile(node?.profile ?? profile.hosts.get(mac)?.profile));
    const answer = await locateAnswer(profile, PROXMOX_LAYOUT, { macs: [mac], serial, uuid, product }, 'answer');
    const text = fillAnswer(
      profile,
      answer,
      { mac, ip: node?.lastIp ?? null, hostname: node?.hostname ?? null, serial, uuid, product, server: answerBase(profile) },
      'answer',
      deps.store,
    );
    ctx.type = TOML_TYPE;
    ctx.set('X-PXE-Pilot-Source', answer.rel);
    ctx.body = text;
  });

  powerRoutes(router, deps, admin);
  reinstallRoutes(router, deps, admin);
  enrolmentRoutes(router, deps, { admin, nodeDetail, recordAdmin });

  router.get('/assets.json', admin, async (ctx) => {
    const { images, problems } = await listImagesWithProblems(deps.profile());
    ctx.body = { dir: deps.profile().assets.dir, images, problems };
  });
}
