// The Proxmox automated installer's side: POST /answer (the one-shot install is consumed here),
// the post-installation webhook, and the admin's view of which answers exist.
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import ipaddr from 'ipaddr.js';
import { answerBase, httpsBase, type Profile } from '../config/profile.ts';
import { normaliseMac } from '../boot/client.ts';
import { profileArmsInstall, type NodeLifecycle } from '../boot/policy.ts';
import type { NodeRecord } from '../store/store.ts';
import { answerCandidates, type MachineIdentity } from '../answers/selection.ts';
import { findAnswer, listAnswers, nocloudLayout, PRESEED_LAYOUT, PROXMOX_LAYOUT, type AnswerLayout, type FoundAnswer } from '../answers/folder.ts';
import { describeTemplateErrors, renderTemplate, templateValues, type RequestFacts } from '../answers/template.ts';
import { parseAnswerRequest, parseInstallReport } from '../answers/proxmox.ts';
import { pickMachineMac, type NicFacts } from '../answers/machine.ts';
import { normaliseProduct, normaliseSerial, normaliseUuid, proxmoxProductOfProfile } from '../answers/names.ts';
import type { HttpDeps } from './context.ts';
import { bearerToken, requireAdmin, tokensEqual } from './auth.ts';
import { readJson } from './body.ts';
import { badRequest, HttpError, notFound } from './errors.ts';

const TOML_TYPE = 'application/toml; charset=utf-8';
const WEBHOOK_BODY_LIMIT = 256 * 1024;

/** The peer's address, IPv4-mapped IPv6 unwrapped. */
export function clientAddress(ctx: Context): string {
  const raw = ctx.req.socket.remoteAddress ?? '';
  try {
    return ipaddr.process(raw).toString();
  } catch {
    return raw;
  }
}

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
    const refuse = (err: HttpError): never => {
      deps.store.record({ mac: null, protocol: options.protocol, kind: `${ctx.method} ${ctx.path}`, decision: 'refused', reason: err.message, detail: { ip: from } });
      deps.logger.warn({ ip: from, path: ctx.path, status: err.status }, err.message);
      throw err;
    };
    // Before anything else: a refused plain request must not even learn whether an answer exists.
    if (answers.requireTls && !ctx.secure) refuse(new HttpError(403, `answers are served over HTTPS only ([answers] require_tls): use ${httpsBase(deps.profile())}${ctx.path}`));
    if (!addressAllowed(from, answers.allow)) refuse(new HttpError(403, `${from} is not in [answers] allow (${answers.allow.join(', ')})`));
    if (options.token && answers.token) {
      const given = bearerToken(ctx) ?? queryToken(ctx);
      if (given === null) refuse(new HttpError(401, 'answers need a token: send Authorization: Bearer <[answers] token> (prepare-iso --answer-auth-token)', { 'WWW-Authenticate': 'Bearer' }));
      if (!tokensEqual(given!, answers.token)) refuse(new HttpError(401, 'wrong answer token', { 'WWW-Authenticate': 'Bearer' }));
    }
    await next();
  };
}

/** A template that cannot be filled completely: 400 to the installer, an error in the log. */
export class AnswerTemplateError extends HttpError {
  constructor(message: string) {
    super(400, message);
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
export function fillAnswer(profile: Profile, answer: FoundAnswer, facts: RequestFacts, what: string): string {
  const host = facts.mac ? profile.hosts.get(facts.mac) : undefined;
  const { values, missing } = templateValues(facts, host);
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
  router.post('/answer', requireAnswerClient(deps, { token: true, protocol: 'answer' }), async (ctx) => {
    const profile = deps.profile();
    const ip = clientAddress(ctx);
    const event = { protocol: 'answer' as const, kind: 'POST /answer' };
    let mac: string | null = null;
    try {
      const parsed = parseAnswerRequest(await readJson(ctx, 'answer request'));
      if (!parsed.ok) throw badRequest(parsed.error);
      const req = parsed.value;
      const nics = nicFacts(deps, profile, req.macs);
      mac = pickMachineMac(nics, ANSWER_STATE_PREFERENCE);
      const answer = await locateAnswer(profile, PROXMOX_LAYOUT, { macs: req.macs, serial: req.serial, uuid: req.uuid, product: req.product }, 'answer');
      // The NIC whose hosts/<mac> file matched names the machine, whatever the node table says.
      if (answer.candidate.rule === 'mac') mac = answer.candidate.key;
      const hostname = mac ? (deps.store.getNode(mac)?.hostname ?? null) : null;
      const text = fillAnswer(profile, answer, { mac, ip, hostname, serial: req.serial, uuid: req.uuid, product: req.product, server: answerBase(profile) }, 'answer');

      const consumed: string[] = [];
      let before: NodeRecord | undefined;
      if (mac) {
        const host = profile.hosts.get(mac);
        before = deps.store.getNode(mac);
        deps.store.sawNode(mac, { ip, ...(req.serial ? { serial: req.serial } : {}), ...(req.uuid ? { uuid: req.uuid } : {}), ...(host?.hostname ? { hostname: host.hostname } : {}) }, profileArmsInstall(host));
      }
      for (const m of new Set([...(mac ? [mac] : []), ...req.macs])) {
        const node = deps.store.getNode(m);
        if (node?.state !== 'install-pending') continue;
        const after = deps.store.consumeInstall(m, profile.hosts.get(m)?.profile || null);
        consumed.push(`install consumed for ${m} (armed by ${node.armedBy ?? 'profile'}${after?.profile ? `, profile ${after.profile}` : ''}): its next network boot goes to local disk`);
      }
      const state = mac ? deps.store.getNode(mac)?.state : undefined;
      const note =
        consumed.length > 0
          ? consumed.join('; ')
          : `${mac ?? 'this machine'} is ${before ? before.state : 'not known'}, not install-pending: the installer was started by hand (ISO or menu), nothing to consume`;
      const ignored = req.ignoredMacs.length ? `; ignored non-Ethernet MACs ${req.ignoredMacs.join(', ')}` : '';
      const reason = `served ${answer.rel} (matched ${answer.candidate.why}); ${note}${ignored}`;
      deps.store.record({ ...event, mac, decision: 'served', reason, detail: { ip, file: answer.rel, rule: answer.candidate.rule, product: req.product, iso: req.isoVersion, schema: req.schemaVersion, state } });
      deps.logger.info({ mac, ip, file: answer.rel, consumed: consumed.length > 0 }, reason);
      ctx.status = 200;
      ctx.type = TOML_TYPE;
      ctx.set('X-PXE-Pilot-Source', answer.rel);
      ctx.body = text;
    } catch (err) {
      if (err instanceof HttpError) {
        const decision = err.status === 404 ? 'not-found' : 'error';
        deps.store.record({ ...event, mac, decision, reason: err.message, detail: { ip, status: err.status } });
        if (err instanceof AnswerTemplateError) deps.logger.error({ mac, ip }, err.message);
        else deps.logger.warn({ mac, ip, status: err.status }, err.message);
      }
      throw err;
    }
  });

  router.post('/webhook/proxmox', requireAnswerClient(deps, { token: true, protocol: 'webhook' }), async (ctx) => {
    const profile = deps.profile();
    const ip = clientAddress(ctx);
    const event = { protocol: 'webhook' as const, kind: 'POST /webhook/proxmox' };
    try {
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
      deps.store.markInstalled(mac, { fqdn: report.fqdn, bootMode: report.bootMode, data: body });
      const what = [report.product, report.productVersion].filter(Boolean).join(' ') || 'system';
      const boot = report.bootMode ? `, ${report.bootMode}${report.secureBoot ? ' with secure boot' : ''}` : '';
      const was = before ? `was ${before.state}${before.consumedAt ? ` since the answer fetch at ${clock(before.consumedAt)}` : ''}` : 'was not known';
      const reason = `installer reported success: ${what} installed as ${report.fqdn ?? '(no fqdn)'}${boot}; node ${was}; next network boot goes to local disk`;
      deps.store.record({ ...event, mac, decision: 'installed', reason, detail: { ip, fqdn: report.fqdn, bootMode: report.bootMode } });
      deps.logger.info({ mac, ip, fqdn: report.fqdn }, reason);
      ctx.body = { mac, state: 'installed', fqdn: report.fqdn };
    } catch (err) {
      if (err instanceof HttpError) {
        deps.store.record({ ...event, mac: null, decision: 'error', reason: err.message, detail: { ip, status: err.status } });
        deps.logger.warn({ ip, status: err.status }, err.message);
      }
      throw err;
    }
  });

  const admin = requireAdmin(deps.profile);

  router.get('/hosts', admin, async (ctx) => {
    const { dir } = deps.profile().answers;
    const [proxmox, preseed, nocloud] = await Promise.all([listAnswers(dir, PROXMOX_LAYOUT), listAnswers(dir, PRESEED_LAYOUT), listAnswers(dir, nocloudLayout('user-data'))]);
    ctx.body = { dir, ...proxmox, preseed, nocloud };
  });

  // What a MAC would receive; serial, uuid and product come from the node table unless given.
  router.get('/hosts/:mac', admin, async (ctx) => {
    const profile = deps.profile();
    const mac = normaliseMac(String(ctx.params.mac ?? ''));
    if (!mac) throw badRequest(`${JSON.stringify(String(ctx.params.mac ?? '')).slice(0, 40)} is not a MAC address`);
    const node = deps.store.getNode(mac);
    const q = (key: string): string | undefined => (typeof ctx.query[key] === 'string' ? (ctx.query[key] as string) : undefined);
    const serial = normaliseSerial(q('serial') ?? node?.serial);
    const uuid = normaliseUuid(q('uuid') ?? node?.uuid);
    const product = normaliseProduct(q('product') ?? proxmoxProductOfProfile(node?.profile ?? profile.hosts.get(mac)?.profile));
    const answer = await locateAnswer(profile, PROXMOX_LAYOUT, { macs: [mac], serial, uuid, product }, 'answer');
    const text = fillAnswer(profile, answer, { mac, ip: node?.lastIp ?? null, hostname: node?.hostname ?? null, serial, uuid, product, server: answerBase(profile) }, 'answer');
    ctx.type = TOML_TYPE;
    ctx.set('X-PXE-Pilot-Source', answer.rel);
    ctx.body = text;
  });
}
