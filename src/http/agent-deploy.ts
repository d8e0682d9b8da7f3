// The agent's side of a disk image deploy (docs/deploy.md), authenticated by its per-boot session
// like /agent/<mac>/next: GET /agent/<mac>/deploy (the plan; fetching it consumes the install),
// POST /agent/<mac>/progress (events for the live view, at a bounded rate) and
// POST /agent/<mac>/deploy-result. What the node becomes is src/boot/lifecycle.ts's to say.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { DiskImage } from '../boot/catalogue.ts';
import { deployPlan } from '../boot/deploy-plan.ts';
import type { AgentDetail } from '../boot/events.ts';
import { nextState } from '../boot/lifecycle.ts';
import { decide } from '../boot/policy.ts';
import type { NodeRecord } from '../boot/ports.ts';
import { consumeInstall, diskImageProblem } from '../boot/resolve.ts';
import { censusOf, settingsFor } from '../boot/settings.ts';
import { httpBase } from '../boot/urls.ts';
import { bearerToken } from './auth.ts';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { clientAddress, routeMac } from './request.ts';

/** An agent's report is a few hundred bytes; anything much larger is not one. */
const MAX_REPORT_BYTES = 16 * 1024;
/** Progress events per machine at most this often, unless the phase changes. */
export const PROGRESS_EVENT_MS = 2000;
const PHASES = ['download', 'verify', 'seed', 'reboot'] as const;
const HEX64 = /^[0-9a-f]{64}$/;

/** An agent's JSON report (a JSON object of at most MAX_REPORT_BYTES), or 400/413 saying what is wrong. */
export async function readReport(ctx: Context): Promise<Record<string, unknown>> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (Number.isFinite(declared) && declared > MAX_REPORT_BYTES)
    throw new HttpError(413, `report of ${declared} bytes is over the limit of ${MAX_REPORT_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REPORT_BYTES) {
      ctx.req.resume();
      throw new HttpError(413, `report is over the limit of ${MAX_REPORT_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the report is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the report must be a JSON object');
  return value as Record<string, unknown>;
}

function count(body: Record<string, unknown>, field: string): number {
  const v = body[field];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new HttpError(400, `${field} must be a number of 0 or more`);
  return v;
}

/** The disk image a deploy on `node` writes, and its name; null when the node has none armed or under way. */
function deployedImage(deps: HttpDeps, mac: string, node: NodeRecord | undefined): { image: DiskImage | undefined; name: string } | null {
  const profile = deps.profile();
  const census = censusOf(() => deps.store.listNodes(Number.MAX_SAFE_INTEGER));
  let name: string | undefined;
  if (node?.state === 'install-pending') {
    const decision = decide({ mac, firmware: 'unknown', isIpxe: true }, profile, node, census);
    name = decision.action === 'install' ? decision.profile : undefined;
  } else if (node?.state === 'installing') {
    name = node.profile ?? settingsFor(mac, node, profile, census).profile ?? undefined;
  }
  if (!name) return null;
  return { image: deps.catalogue.findDiskImage?.(profile.assets.dir, name), name };
}

/** The session of this boot's agent on `mac`, or 403 with the reason (nothing recorded, nothing changed). */
export function agentSession(ctx: Context, deps: Pick<HttpDeps, 'agentSessions'>): string {
  const token = bearerToken(ctx);
  if (!deps.agentSessions) throw new HttpError(403, 'this store keeps no agent sessions');
  if (token === null) throw new HttpError(403, 'the agent session token is missing: send Authorization: Bearer <pxe_pilot.token>');
  const checked = deps.agentSessions.check(routeMac(ctx), token);
  if (!checked.ok) throw new HttpError(403, checked.reason);
  return checked.session;
}

export function agentDeployRoutes(router: Router, deps: HttpDeps): void {
  const lastProgress = new Map<string, { at: number; phase: string }>();

  function record(ctx: Context, kind: string, decision: string, reason: string, detail: AgentDetail = {}): void {
    deps.store.record({ mac: routeMac(ctx), protocol: 'agent', kind, decision, reason, detail: { ip: clientAddress(ctx), ...detail } });
  }

  const session = (ctx: Context): string => agentSession(ctx, deps);

  /** Writes a failed deploy (deploy-failed, with the reason), then says so. */
  async function fail(mac: string, reason: string, report: Record<string, unknown>): Promise<string> {
    const move = nextState({ kind: 'deploy-reported', ok: false, reason, report: { ok: false, reason, ...report } }, deps.store.getNode(mac));
    if (move.change) await deps.store.applyChange(mac, move.change);
    return move.reason;
  }

  router.get('/agent/:mac/deploy', async (ctx) => {
    const mac = routeMac(ctx);
    const sessionId = session(ctx);
    const node = deps.store.getNode(mac);
    const chosen = deployedImage(deps, mac, node);
    if (!chosen?.image) {
      const what = chosen ? `, and ${chosen.name} is not a disk image` : '';
      const reason = `${mac} is ${node?.state ?? 'not known'}${what}: no deploy is armed`;
      record(ctx, 'GET /agent/deploy', 'refused', reason, { session: sessionId, status: 409 });
      throw new HttpError(409, reason);
    }
    const { image, name } = chosen;
    const problem = diskImageProblem(image);
    const profile = deps.profile();
    const census = censusOf(() => deps.store.listNodes(Number.MAX_SAFE_INTEGER));
    const settings = settingsFor(mac, node, profile, census);
    const plan = !problem ? deployPlan(image, node?.inventory?.document ?? null, settings.installDisk, httpBase(profile)) : null;
    if (!plan || !plan.ok) {
      const reason = problem ?? (plan && !plan.ok ? plan.reason : 'no plan');
      const said = await fail(mac, reason, { profile: name });
      record(ctx, 'GET /agent/deploy', 'deploy-failed', said, { session: sessionId, status: 409, profile: name });
      ctx.status = 409;
      ctx.body = { error: reason, refused: true };
      return;
    }
    // The install is spent before the plan leaves, so two agents (or appliances) cannot both write it.
    const consumed = nextState({ kind: 'deploy-plan-fetched', profile: name }, node);
    if (consumed.change) {
      const written = await consumeInstall(deps.store, mac, consumed.change);
      if (!written.written) {
        record(ctx, 'GET /agent/deploy', 'refused', written.reason, { session: sessionId, status: 409, profile: name });
        throw new HttpError(409, written.reason);
      }
    }
    const said = consumed.change ? consumed.reason : `deploy of ${name} under way: the plan again`;
    record(ctx, 'GET /agent/deploy', 'deploy', `${said}; ${plan.plan.reason}`, { session: sessionId, profile: name, device: plan.plan.device });
    ctx.body = plan.plan;
  });

  router.post('/agent/:mac/progress', async (ctx) => {
    const mac = routeMac(ctx);
    const sessionId = session(ctx);
    const body = await readReport(ctx);
    const phase = body.phase;
    if (typeof phase !== 'string' || !(PHASES as readonly string[]).includes(phase)) throw new HttpError(400, `phase must be one of ${PHASES.join(', ')}`);
    const bytes = count(body, 'bytes');
    const total = count(body, 'total');
    const mbps = count(body, 'mbps');
    const now = Date.now();
    const last = lastProgress.get(mac);
    if (last && last.phase === phase && now - last.at < PROGRESS_EVENT_MS) {
      ctx.status = 202;
      ctx.body = { recorded: false };
      return;
    }
    if (lastProgress.size >= 10_000) lastProgress.clear();
    lastProgress.set(mac, { at: now, phase });
    const pct = total > 0 ? ` (${Math.floor((bytes / total) * 100)} %)` : '';
    record(ctx, 'deploy-progress', phase, `${phase}: ${bytes} of ${total} bytes${pct} at ${mbps.toFixed(1)} MB/s`, {
      session: sessionId,
      phase,
      bytes,
      total,
      mbps,
    });
    ctx.status = 202;
    ctx.body = { recorded: true };
  });

  router.post('/agent/:mac/deploy-result', async (ctx) => {
    const mac = routeMac(ctx);
    const sessionId = session(ctx);
    const body = await readReport(ctx);
    if (typeof body.ok !== 'boolean') throw new HttpError(400, 'ok must be true or false');
    const received = body.sha256 === undefined || body.sha256 === null ? null : body.sha256;
    if (received !== null && (typeof received !== 'string' || !HEX64.test(received))) throw new HttpError(400, 'sha256 must be 64 lower-case hex digits');
    const said = typeof body.reason === 'string' ? body.reason.slice(0, 500) : '';
    const node = deps.store.getNode(mac);
    const chosen = deployedImage(deps, mac, node);
    if (!chosen?.image) {
      const reason = `${mac} is ${node?.state ?? 'not known'}: no deploy is under way, the result changes nothing`;
      record(ctx, 'deploy-result', 'refused', reason, { session: sessionId, status: 409 });
      throw new HttpError(409, reason);
    }
    const expected = chosen?.image?.sha256 ?? null;
    lastProgress.delete(mac);
    // The server checks the digest as well: an agent saying ok with another digest did not write this image.
    const mismatch = expected !== null && received !== null && received !== expected;
    const ok = body.ok && !mismatch;
    const digests = mismatch || (!body.ok && received !== null && expected !== null && received !== expected);
    const reason = digests
      ? `digest mismatch: expected sha256 ${expected}, received ${received}${said ? ` (${said})` : ''}`
      : said || (ok ? `wrote ${chosen?.name ?? 'the image'}${received ? `, sha256 ${received}` : ''}` : 'the agent reported a failure without a reason');
    const report = { ok, reason, profile: chosen?.name ?? null, expected, received };
    const move = nextState({ kind: 'deploy-reported', ok, reason, report }, node);
    if (move.change) await deps.store.applyChange(mac, move.change);
    const detail: AgentDetail = {
      session: sessionId,
      ...(chosen ? { profile: chosen.name } : {}),
      ...(expected ? { expected } : {}),
      ...(received ? { received } : {}),
    };
    record(ctx, 'deploy-result', move.change ? move.to : 'unchanged', move.change ? move.reason : `${mac} ${move.reason}`, detail);
    ctx.body = { state: move.to, reason: move.reason };
  });
}
