// POST /agent/<mac>/bmc-user: the inspection agent reports the BMC user it created in-band (or
// why it could not), authenticated by its per-boot session. The daemon writes the credentials
// file itself ([power] credentials_dir, mode 600, atomically) and sets the enrolment's bmc. The
// password goes to that file only: the answer, the event and the log say where, never what.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { bmcUserWanted } from '../boot/agent-next.ts';
import { createdBmcUrl, createdCredentialsName, credentialsText, parseCreatedBmcUser, writeCredentialsFile } from '../power/created-user.ts';
import { bearerToken } from './auth.ts';
import { readJson } from './body.ts';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { clientAddress, routeMac } from './request.ts';

const BODY_LIMIT = 4096;

export function bmcUserRoutes(router: Router, deps: HttpDeps): void {
  function record(ctx: Context, decision: string, reason: string): void {
    deps.store.record({ mac: routeMac(ctx), protocol: 'agent', kind: 'POST /agent/bmc-user', decision, reason, detail: { ip: clientAddress(ctx) } });
  }

  router.post('/agent/:mac/bmc-user', async (ctx) => {
    const mac = routeMac(ctx);
    const token = bearerToken(ctx);
    if (token === null) throw new HttpError(403, 'the agent session token is missing: send Authorization: Bearer <pxe_pilot.token>');
    const session = deps.agentSessions?.check(mac, token) ?? { ok: false as const, reason: 'this store keeps no agent sessions' };
    if (!session.ok) throw new HttpError(403, session.reason);
    const parsed = parseCreatedBmcUser(await readJson(ctx, 'bmc-user', BODY_LIMIT));
    if (!parsed.ok) {
      record(ctx, 'refused', parsed.error);
      throw new HttpError(400, parsed.error);
    }
    const node = deps.store.getNode(mac);
    const enrolment = node?.enrolment;
    const profile = deps.profile();
    // Only what an operator asked for at enrolment, once: an agent cannot write credentials unasked.
    if (!node || !enrolment || !bmcUserWanted(node, profile)) {
      const why = !enrolment?.createBmcUser
        ? 'its enrolment does not ask for a BMC user'
        : enrolment.bmcUser
          ? 'the BMC user of this enrolment was reported already'
          : !profile.power.createBmcUser
            ? '[power] create_bmc_user = false'
            : 'its inventory shows no in-band BMC';
      const reason = `bmc-user refused: ${why}`;
      record(ctx, 'refused', reason);
      throw new HttpError(409, reason);
    }
    const report = parsed.value;
    const at = Date.now();
    if (!report.ok) {
      await deps.store.setEnrolment(mac, { ...enrolment, bmcUser: { at, error: report.error } });
      const reason = `the inspection agent could not create a BMC user: ${report.error}`;
      record(ctx, 'bmc-user-failed', reason);
      deps.logger.warn({ mac }, reason);
      ctx.body = { stored: false, reason };
      return;
    }
    const bmc = createdBmcUrl(report.ip, report.port);
    const name = createdCredentialsName(bmc);
    const dir = profile.power.credentialsDir;
    const slot = report.userId !== null ? ` (user id ${report.userId}${report.channel !== null ? ` on LAN channel ${report.channel}` : ''})` : '';
    let file: string;
    try {
      file = writeCredentialsFile(dir, name, credentialsText(report.username, report.password, `created by the inspection agent of ${mac}${slot}`));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const reason = `the inspection agent created BMC user ${report.username}${slot} at ${bmc}, but its credentials could not be written to ${dir}/${name} (${code}): the folder must be writable by the daemon's account`;
      await deps.store.setEnrolment(mac, { ...enrolment, bmcUser: { at, error: reason } });
      record(ctx, 'bmc-user-failed', reason);
      deps.logger.error({ mac }, reason);
      throw new HttpError(503, reason);
    }
    await deps.store.setEnrolment(mac, { ...enrolment, bmc, bmcUser: { at, error: null } });
    const reason = `BMC user ${report.username}${slot} created by the inspection agent; credentials written to ${file} (mode 600); bmc = ${bmc}`;
    record(ctx, 'bmc-user-created', reason);
    deps.logger.info({ mac, bmc }, reason);
    ctx.status = 201;
    ctx.body = { stored: true, bmc, credentialsFile: name, reason };
  });
}
