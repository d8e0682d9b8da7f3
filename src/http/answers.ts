// The Proxmox automated installer's side: POST /answer (the one-shot install is consumed here),
// the post-installation webhook, and the admin's view of which answers exist.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import ipaddr from 'ipaddr.js';
import type { Profile } from '../config/profile.ts';
import { answerBase } from '../boot/urls.ts';
import { nextState, profileArmsInstall, type NodeLifecycle } from '../boot/lifecycle.ts';
import { consumeInstall } from '../boot/resolve.ts';
import type { NodeLookup, NodeRecord } from '../boot/ports.ts';
import { answerCandidates, type MachineIdentity } from '../answers/selection.ts';
import { findAnswer, PROXMOX_LAYOUT, type AnswerLayout, type FoundAnswer } from '../answers/folder.ts';
import { describeTemplateErrors, inventoryTemplateValues, renderTemplate, templateValues, type RequestFacts } from '../answers/template.ts';
import { settingsFor } from '../boot/settings.ts';
import { chooseInstallDisk } from '../boot/rules.ts';
import { parseAnswerRequest, parseInstallReport } from '../answers/proxmox.ts';
import { pickMachineMac, type NicFacts } from '../answers/machine.ts';
import type { HttpDeps } from './context.ts';
import { bearerToken, tokensEqual } from './auth.ts';
import { readJson } from './body.ts';
import { badRequest, HttpError, notFound } from './errors.ts';
import { AnswerTemplateError, recordErrors } from './error-events.ts';
import { clientAddress } from './request.ts';
import { askedUrl, macOfPath, plainHttpAllowed, plainHttpRefusal } from './plain-http.ts';

const TOML_TYPE = 'application/toml; charset=utf-8';
const WEBHOOK_BODY_LIMIT = 256 * 1024;

/** Whether `address` falls in one of the CIDR blocks; an empty list allows everyone. */
export function addressAllowed(address: string, allow: readonly string[]): boolean {
  if (allow.length === 0) return true;
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(address);
  } catch {
    return false;
  }
  return allow.some((cidr) => {
    try {
      const range = ipaddr.parseCIDR(cidr);
      return addr.kind() === range[0].kind() && addr.match(range);
    } catch {
      return false;
    }
  });
}

function queryToken(ctx: Context): string | null {
  const t = ctx.query.token;
  return typeof t === 'string' && t !== '' ? t : null;
}

/**
 * Guards the installer endpoints: `[answers] allow` (403 from elsewhere), then, where the client
 * can send one, `[answers] token` as a Bearer header or `?token=` (for ISOs older than 9.2,
 * whose baked-in URL can carry it). Refusals are events too.
 */
export function requireAnswerClient(deps: HttpDeps, options: { token: boolean; protocol: 'answer' | 'webhook' }) {
  return async function answerClient(ctx: Context, next: Next): Promise<void> {
    const { answers } = deps.profile();
    const from = clientAddress(ctx);
    const refuse = (err: HttpError, mac: string | null = null): never => {
      deps.store.record({
        mac,
        protocol: options.protocol,
        kind: `${ctx.method} ${ctx.path}`,
        decision: 'refused',
        reason: err.message,
        detail: { ip: from },
      });
      deps.logger.warn({ ip: from, path: ctx.path, status: err.status }, err.message);
      throw err;
    };
    // Before anything else: a refused plain request must not even learn whether an answer exists.
    if (answers.requireTls && !ctx.secure && !plainHttpAllowed(answers.plainHttpFrom, ctx.path, from)) {
      const about = await refusedRequestFacts(ctx);
      refuse(new HttpError(403, plainHttpRefusal(deps.profile(), askedUrl(ctx, ctx.req.socket.localPort, deps.profile()), from, about.isoVersion)), about.mac);
    }
    if (!addressAllowed(from, answers.allow)) refuse(new HttpError(403, `${from} is not in [answers] allow (${answers.allow.join(', ')})`));
    if (options.token && answers.token) {
      const given = bearerToken(ctx) ?? queryToken(ctx);
      if (given === null)
        refuse(
          new HttpError(401, 'answers need a token: send Authorization: Bearer <[answers] token> (prepare-iso --answer-auth-token)', {
            'WWW-Authenticate': 'Bearer',
          }),
        );
      if (!tokensEqual(given!, answers.token)) refuse(new HttpError(401, 'wrong answer token', { 'WWW-Authenticate': 'Bearer' }));
    }
    await next();
  };
}

/**
 * The machine and ISO a refused plain-HTTP request is about, so that its event is the machine's
 * (explain shows it) and the 403 names the ISO: the path's MAC (NoCloud, preseed), or the answer
 * request's first NIC and ISO version. Read only to word the refusal; nothing is served.
 */
async function refusedRequestFacts(ctx: Context): Promise<{ mac: string | null; isoVersion: string | null }> {
  const mac = macOfPath(ctx.path);
  if (mac || ctx.method !== 'POST' || ctx.path !== '/answer') return { mac, isoVersion: null };
  try {
    const parsed = parseAnswerRequest(await readJson(ctx, 'answer request'));
    return parsed.ok ? { mac: parsed.value.macs[0] ?? null, isoVersion: parsed.value.isoVersion } : { mac: null, isoVersion: null };
  } catch {
    return { mac: null, isoVersion: null };
  }
}

/** The first answer that matches; 404 saying what was tried, or 403 when an entry escapes the folder. */
export async function locateAnswer(profile: Profile, layout: AnswerLayout, identity: MachineIdentity, what: string): Promise<FoundAnswer> {
  const lookup = await findAnswer(profile.answers.dir, layout, answerCandidates(identity, layout.rules));
  if (lookup.status === 'none') throw notFound(`no ${what} for this machine in ${profile.answers.dir}: tried ${lookup.tried.join(', ')}`);
  if (lookup.status === 'refused') throw new HttpError(403, `refusing ${lookup.rel}: ${lookup.reason}`);
  return lookup.answer;
}

/** Fills the placeholders completely, or throws AnswerTemplateError naming file, line and column. */
export function fillAnswer(profile: Profile, answer: FoundAnswer, facts: RequestFacts, what: string, nodes?: NodeLookup): string {
  const host = facts.mac ? profile.hosts.get(facts.mac) : undefined;
  const { values, missing } = templateValues(facts, host);
  // {{inventory.…}} and {{install_disk}}: from the machine's inventory and its settings' install_disk.
  const node = facts.mac ? nodes?.getNode(facts.mac) : undefined;
  const inventory = node?.inventory?.document ?? null;
  const choice = facts.mac ? settingsFor(facts.mac, node, profile).installDisk : null;
  const disk = choice && inventory ? chooseInstallDisk(choice, inventory) : null;
  const fromInventory = inventoryTemplateValues(answer.text, {
    inventory,
    installDisk: disk === null ? null : disk.ok ? { path: disk.path } : { problem: disk.reason },
  });
  Object.assign(values, fromInventory.values);
  Object.assign(missing, fromInventory.missing);
  const rendered = renderTemplate(answer.text, values, missing);
  if (!rendered.ok) throw new AnswerTemplateError(`${what} template error: ${describeTemplateErrors(answer.rel, rendered.errors)}`);
  return rendered.text;
}

function nicFacts(deps: HttpDeps, profile: Profile, macs: string[], management: string | null = null): NicFacts[] {
  return macs.map((mac) => ({ mac, state: deps.store.getNode(mac)?.state ?? null, hasHost: profile.hosts.has(mac), management: mac === management }));
}

function clock(ms: number | null): string {
  return ms === null ? '?' : new Date(ms).toISOString().slice(11, 19);
}

const ANSWER_STATE_PREFERENCE: NodeLifecycle[] = ['install-pending', 'installing'];
const WEBHOOK_STATE_PREFERENCE: NodeLifecycle[] = ['installing', 'install-pending'];

export function answerRoutes(router: Router, deps: HttpDeps): void {
  router.post('/answer', requireAnswerClient(deps, { token: true, protocol: 'answer' }), recordErrors(deps, 'answer'), async (ctx) => {
    const profile = deps.profile();
    const ip = clientAddress(ctx);
    const parsed = parseAnswerRequest(await readJson(ctx, 'answer request'));
    if (!parsed.ok) throw badRequest(parsed.error);
    const req = parsed.value;
    const nics = nicFacts(deps, profile, req.macs);
    let mac = pickMachineMac(nics, ANSWER_STATE_PREFERENCE);
    ctx.state.eventMac = mac;
    const answer = await locateAnswer(profile, PROXMOX_LAYOUT, { macs: req.macs, serial: req.serial, uuid: req.uuid, product: req.product }, 'answer');
    // The NIC whose hosts/<mac> file matched names the machine, whatever the node table says.
    if (answer.candidate.rule === 'mac') mac = answer.candidate.key;
    ctx.state.eventMac = mac;
    const hostname = mac ? (deps.store.getNode(mac)?.hostname ?? null) : null;
    const text = fillAnswer(
      profile,
      answer,
      { mac, ip, hostname, serial: req.serial, uuid: req.uuid, product: req.product, server: answerBase(profile) },
      'answer',
      deps.store,
    );

    let before: NodeRecord | undefined;
    if (mac) {
      const host = profile.hosts.get(mac);
      before = deps.store.getNode(mac);
      deps.store.sawNode(
        mac,
        { ip, ...(req.serial ? { serial: req.serial } : {}), ...(req.uuid ? { uuid: req.uuid } : {}), ...(host?.hostname ? { hostname: host.hostname } : {}) },
        profileArmsInstall(host),
      );
    }
    // Every NIC of the machine that was waiting for an install has it consumed now. The answer
    // leaves only once the consumptions are on disk (they share one group commit): else two
    // appliances could both install it.
    const consumed: string[] = [];
    const lost: string[] = [];
    const writes: Promise<void>[] = [];
    for (const m of new Set([...(mac ? [mac] : []), ...req.macs])) {
      const fetched = nextState({ kind: 'answer-fetched', hostProfile: profile.hosts.get(m)?.profile || null }, deps.store.getNode(m));
      if (!fetched.change) continue;
      writes.push(
        consumeInstall(deps.store, m, fetched.change).then((consumption) => {
          if (consumption.written) consumed.push(fetched.reason);
          else if (consumption.lost) lost.push(`${m}: ${consumption.reason}`);
          else throw new HttpError(503, `answer not served: ${m}: ${consumption.reason}`);
        }),
      );
    }
    await Promise.all(writes);
    const state = mac ? deps.store.getNode(mac)?.state : undefined;
    const note =
      consumed.length + lost.length > 0
        ? [...consumed, ...lost].join('; ')
        : `${mac ?? 'this machine'} ${nextState({ kind: 'answer-fetched', hostProfile: null }, before).reason}`;
    const ignored = req.ignoredMacs.length ? `; ignored non-Ethernet MACs ${req.ignoredMacs.join(', ')}` : '';
    const reason = `served ${answer.rel} (matched ${answer.candidate.why}); ${note}${ignored}`;
    deps.store.record({
      protocol: 'answer',
      kind: 'POST /answer',
      mac,
      decision: 'served',
      reason,
      detail: { ip, file: answer.rel, rule: answer.candidate.rule, product: req.product, iso: req.isoVersion, schema: req.schemaVersion, state },
    });
    deps.logger.info({ mac, ip, file: answer.rel, consumed: consumed.length > 0 }, reason);
    ctx.status = 200;
    ctx.type = TOML_TYPE;
    ctx.set('X-PXE-Pilot-Source', answer.rel);
    ctx.body = text;
  });

  router.post('/webhook/proxmox', requireAnswerClient(deps, { token: true, protocol: 'webhook' }), recordErrors(deps, 'webhook'), async (ctx) => {
    const profile = deps.profile();
    const ip = clientAddress(ctx);
    const body = await readJson(ctx, 'post-installation webhook', WEBHOOK_BODY_LIMIT);
    const parsed = parseInstallReport(body);
    if (!parsed.ok) throw badRequest(parsed.error);
    const report = parsed.value;
    const nics = nicFacts(deps, profile, report.macs, report.managementMac);
    let mac = pickMachineMac(
      nics.filter((n) => n.state !== null && WEBHOOK_STATE_PREFERENCE.includes(n.state)),
      WEBHOOK_STATE_PREFERENCE,
    );
    // The installed system may not report the NIC it PXE-booted from: find the node by its hardware.
    mac ??= deps.store.findNodeByHardware(report.serial, report.uuid)?.mac ?? pickMachineMac(nics, WEBHOOK_STATE_PREFERENCE);
    if (!mac) throw notFound(`no node with DMI serial ${report.serial ?? '-'} / UUID ${report.uuid ?? '-'} and no MAC in the webhook`);
    const before = deps.store.getNode(mac);
    const reported = nextState({ kind: 'install-reported', fqdn: report.fqdn, bootMode: report.bootMode, report: body }, before);
    if (reported.change) await deps.store.applyChange(mac, reported.change);
    const what = [report.product, report.productVersion].filter(Boolean).join(' ') || 'system';
    const boot = report.bootMode ? `, ${report.bootMode}${report.secureBoot ? ' with secure boot' : ''}` : '';
    const was = before ? `was ${before.state}${before.consumedAt ? ` since the answer fetch at ${clock(before.consumedAt)}` : ''}` : 'was not known';
    const reason = `installer reported success: ${what} installed as ${report.fqdn ?? '(no fqdn)'}${boot}; node ${was}; ${reported.reason}`;
    deps.store.record({
      protocol: 'webhook',
      kind: 'POST /webhook/proxmox',
      mac,
      decision: 'installed',
      reason,
      detail: { ip, fqdn: report.fqdn, bootMode: report.bootMode },
    });
    deps.logger.info({ mac, ip, fqdn: report.fqdn }, reason);
    ctx.body = { mac, state: reported.to, fqdn: report.fqdn };
  });
}
