// The agent's side of a release wipe (docs/deploy.md, "Releasing and wiping"):
// POST /agent/<mac>/wipe-result, authenticated by its per-boot session like the deploy routes.
// The report is checked by src/boot/wipe.ts and what the node becomes is src/boot/lifecycle.ts's
// to say; a refused post (403, 400, 409) changes nothing.
import type Router from '@koa/router';
import { nextState } from '../boot/lifecycle.ts';
import { parseWipeReport, wipeOutcome } from '../boot/wipe.ts';
import { agentSession, readReport } from './agent-deploy.ts';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { clientAddress, routeMac } from './request.ts';

export function agentWipeRoutes(router: Router, deps: HttpDeps): void {
  router.post('/agent/:mac/wipe-result', async (ctx) => {
    const mac = routeMac(ctx);
    const session = agentSession(ctx, deps);
    const parsed = parseWipeReport(await readReport(ctx));
    if (!parsed.ok) throw new HttpError(400, parsed.problem);
    const outcome = wipeOutcome(parsed.report);
    const report = { wipe: true, ok: outcome.ok, reason: outcome.reason, disks: parsed.report.disks };
    const node = deps.store.getNode(mac);
    const move = nextState({ kind: 'wipe-reported', ok: outcome.ok, reason: outcome.reason, report }, node);
    const detail = { ip: clientAddress(ctx), session };
    if (!move.change) {
      const reason = `${mac} ${move.reason}`;
      deps.store.record({ mac, protocol: 'agent', kind: 'wipe-result', decision: 'refused', reason, detail: { ...detail, status: 409 } });
      throw new HttpError(409, reason);
    }
    // Guarded: a second result racing this one finds the node released already.
    const written = await deps.store.applyChange(mac, move.change);
    if (!written) {
      const reason = `${mac} is no longer wiping: the result changes nothing`;
      deps.store.record({ mac, protocol: 'agent', kind: 'wipe-result', decision: 'refused', reason, detail: { ...detail, status: 409 } });
      throw new HttpError(409, reason);
    }
    deps.store.record({ mac, protocol: 'agent', kind: 'wipe-result', decision: outcome.ok ? 'wiped' : 'wipe-failed', reason: move.reason, detail });
    ctx.body = { state: move.to, ok: outcome.ok, reason: move.reason };
  });
}
