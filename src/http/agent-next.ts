// GET /agent/<mac>/next: the inspection agent asks what to do after reporting. Authenticated by its
// per-boot session token (never the fleet-wide answer token); the answer is src/boot/agent-next.ts's.
import type Router from '@koa/router';
import { agentNext } from '../boot/agent-next.ts';
import type { AgentSessions, BootPorts } from '../boot/ports.ts';
import { censusOf } from '../boot/settings.ts';
import { composeBootPorts } from '../boot/boot-ports.ts';
import { bearerToken } from './auth.ts';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { clientAddress, routeMac } from './request.ts';

/** The agent sessions the daemon wires (the store's); absent: no inspection, the agent routes answer 403. */
export function agentSessionsOf(deps: Pick<HttpDeps, 'agentSessions'>): AgentSessions | undefined {
  return deps.agentSessions;
}

/** The ports the boot resolution takes, with the agent sessions and the node list for the identity census. */
export function bootPortsOf(deps: Pick<HttpDeps, 'store' | 'agentSessions'>): BootPorts {
  return composeBootPorts(deps.store, deps.agentSessions);
}

export function agentNextRoutes(router: Router, deps: HttpDeps): void {
  router.get('/agent/:mac/next', (ctx) => {
    const mac = routeMac(ctx);
    const agents = agentSessionsOf(deps);
    const token = bearerToken(ctx);
    if (!agents) throw new HttpError(403, 'this store keeps no agent sessions');
    if (token === null) throw new HttpError(403, 'the agent session token is missing: send Authorization: Bearer <pxe_pilot.token>');
    const session = agents.check(mac, token);
    if (!session.ok) throw new HttpError(403, session.reason);
    const profile = deps.profile();
    const census = censusOf(() => deps.store.listNodes(Number.MAX_SAFE_INTEGER));
    const next = agentNext(mac, deps.store.getNode(mac), profile, census);
    deps.store.record({ mac, protocol: 'http', kind: 'GET /agent/next', decision: next.next, reason: next.reason, detail: { ip: clientAddress(ctx) } });
    ctx.body = next;
  });
}
