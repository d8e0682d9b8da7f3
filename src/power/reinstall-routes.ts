// The admin API of `reinstall --now`: POST /nodes/<mac>/reinstall {"now": true} (through
// src/http/admin.ts), POST /nodes/reinstall {"macs": […] | "rule": "NAME", "now": true} for
// many, and GET /reinstalls?id=<id> for the steps as they happen. 202: the machines are armed,
// their power steps run in the background.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { HttpDeps } from '../http/context.ts';
import { isPlainObject, readBody } from '../http/body.ts';
import { badRequest, notFound } from '../http/errors.ts';
import { clientAddress } from '../http/request.ts';
import { chosenProfile } from '../http/profile-choice.ts';
import type { ReinstallJob, ReinstallRequest } from './reinstall.ts';
import { parseMacList, selectMachines } from './selection.ts';

const MANY = 'expected {"macs": ["52:54:00:…", …] | "rule": "NAME", "now": true, "profile": "<product>/<version>"?}';
/** One request's machines at most: a typo such as a rule matching everything should not power a data centre. */
export const MAX_MACHINES = 1000;

export interface ReinstallAnswer extends ReinstallJob {
  /** Where to read the steps as they happen. */
  progress: string;
  /** Machines a rule matched that cannot be powered from here (no bmc). */
  skipped: { mac: string; reason: string }[];
}

function answer(job: ReinstallJob, skipped: ReinstallAnswer['skipped'] = []): ReinstallAnswer {
  return { ...job, progress: `/reinstalls?id=${job.id}`, skipped };
}

/** Arms the machines and starts their power steps; refuses all (400, nothing armed) when one cannot be powered. */
export async function reinstallNow(deps: HttpDeps, requests: ReinstallRequest[], ip: string): Promise<ReinstallAnswer> {
  const reinstalls = deps.reinstalls;
  if (!reinstalls) throw notFound('power control is not running in this daemon');
  const refused = requests.map((r) => reinstalls.refusal(r.mac)).filter((r): r is string => r !== null);
  if (refused.length) throw badRequest(`nothing was armed: ${refused.join('; ')}`);
  return answer(await reinstalls.start(requests, { ip }));
}

export function reinstallRoutes(router: Router, deps: HttpDeps, admin: Middleware): void {
  router.post('/nodes/reinstall', admin, async (ctx) => {
    let body: unknown;
    try {
      body = JSON.parse((await readBody(ctx)).toString('utf8'));
    } catch (err) {
      throw badRequest(`reinstall request: body is not valid JSON (${(err as Error).message}); ${MANY}`);
    }
    if (!isPlainObject(body)) throw badRequest(`reinstall request: ${MANY}`);
    const unknown = Object.keys(body).filter((k) => !['macs', 'rule', 'now', 'profile'].includes(k));
    if (unknown.length) throw badRequest(`reinstall request: unknown key ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ${MANY}`);
    if (body.now !== true)
      throw badRequest(`reinstall request: only "now": true is offered for many machines (arm one with POST /nodes/<mac>/reinstall); ${MANY}`);
    if ((body.macs === undefined) === (body.rule === undefined)) throw badRequest(`reinstall request: give "macs" or "rule", one of them; ${MANY}`);
    const profile = chosenProfile(deps, body.profile);
    let macs: string[];
    const skipped: ReinstallAnswer['skipped'] = [];
    if (body.macs !== undefined) {
      if (!Array.isArray(body.macs) || body.macs.length === 0 || !body.macs.every((m) => typeof m === 'string'))
        throw badRequest('reinstall request: "macs" must be a list of MAC addresses');
      const parsed = parseMacList(body.macs);
      if (!parsed.ok) throw badRequest(`reinstall request: ${JSON.stringify(parsed.bad)} is not a MAC address`);
      macs = parsed.macs;
    } else {
      if (typeof body.rule !== 'string' || body.rule === '') throw badRequest('reinstall request: "rule" must be the NAME of a [rule NAME] section');
      const rules = deps.reinstalls?.rules(body.rule);
      if (!rules) throw badRequest(`reinstall request: no [rule ${body.rule}] in ${deps.profile().file}`);
      const matched = selectMachines(deps.store.listNodes(100_000, 0), rules);
      macs = [];
      for (const mac of matched) {
        const why = deps.reinstalls?.refusal(mac) ?? null;
        if (why) skipped.push({ mac, reason: why });
        else macs.push(mac);
      }
      if (macs.length === 0)
        throw badRequest(`reinstall request: [rule ${body.rule}] matches no machine with a bmc${skipped.length ? ` (${skipped.length} without one)` : ''}`);
    }
    if (macs.length > MAX_MACHINES) throw badRequest(`reinstall request: ${macs.length} machines; at most ${MAX_MACHINES} in one request`);
    const started = await reinstallNow(
      deps,
      macs.map((mac) => ({ mac, profile })),
      clientAddress(ctx),
    );
    ctx.status = 202;
    ctx.body = { ...started, skipped };
  });

  // The jobs this daemon still keeps, newest first; ?id= narrows to one (an empty list when it is
  // gone: finished long ago, or the daemon restarted since).
  router.get('/reinstalls', admin, (ctx) => {
    const id = typeof ctx.query.id === 'string' ? ctx.query.id : undefined;
    const jobs = deps.reinstalls?.jobs() ?? [];
    ctx.body = { reinstalls: jobs.filter((job) => id === undefined || job.id === id).map((job) => answer(job)) };
  });
}
