// GET /agent/<mac>/seed/meta-data|user-data|network-config: the cloud-init NoCloud seed the agent
// writes into a deployed image (src/deploy/seed.ts renders it). Authenticated by this boot's agent
// session. user-data is the operator's cloud-config template: <answers dir>/cloud-init/<mac>.yaml,
// else <answers dir>/cloud-init/default.yaml, filled like an answer file; network-config comes
// from the net_* keys of the machine's settings ([host], enrolment or [rule], src/boot/settings.ts;
// DHCP on the boot NIC when none is set).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Router from '@koa/router';
import { renderTemplate, describeTemplateErrors, templateValues } from '../answers/template.ts';
import { readNetworkKeys } from '../deploy/network-keys.ts';
import { cloudConfigUserData, renderMetaData, renderNetworkConfig } from '../deploy/seed.ts';
import { censusOf, settingsFor } from '../boot/settings.ts';
import { httpBase } from '../boot/urls.ts';
import { agentSession } from './agent-deploy.ts';
import type { HttpDeps } from './context.ts';
import { HttpError } from './errors.ts';
import { clientAddress, routeMac } from './request.ts';

/** The first of the machine's own template and the default one; null when neither exists. */
async function cloudConfigTemplate(dir: string, mac: string): Promise<{ rel: string; text: string } | null> {
  for (const rel of [`cloud-init/${mac}.yaml`, `cloud-init/${mac.replace(/:/g, '-')}.yaml`, 'cloud-init/default.yaml']) {
    try {
      return { rel, text: await readFile(join(dir, rel), 'utf8') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new HttpError(409, `cannot read ${join(dir, rel)}: ${(err as Error).message}`);
    }
  }
  return null;
}

export function agentSeedRoutes(router: Router, deps: HttpDeps): void {
  router.get('/agent/:mac/seed/:part', async (ctx) => {
    const mac = routeMac(ctx);
    const part = String(ctx.params.part);
    if (!['meta-data', 'user-data', 'network-config'].includes(part)) throw new HttpError(404, `no seed part ${part}: meta-data, user-data or network-config`);
    const session = agentSession(ctx, deps);
    const profile = deps.profile();
    const node = deps.store.getNode(mac);
    const settings = settingsFor(
      mac,
      node,
      profile,
      censusOf(() => deps.store.listNodes(Number.MAX_SAFE_INTEGER)),
    );
    const host = profile.hosts.get(mac);
    // The name the operator gave (host, enrolment or rule); else one made of the MAC, never blank.
    const hostname = host?.hostname || settings.hostname || node?.hostname || `node-${mac.replace(/:/g, '')}`;
    let text: string;
    const refuse = (reason: string): never => {
      deps.store.record({
        mac,
        protocol: 'agent',
        kind: `seed ${part}`,
        decision: 'refused',
        reason,
        detail: { ip: clientAddress(ctx), session, status: 409 },
      });
      throw new HttpError(409, reason);
    };
    switch (part) {
      case 'meta-data':
        // A new instance id per deploy, so cloud-init runs its first-boot modules on the new image.
        text = renderMetaData(`${mac.replace(/:/g, '')}-${node?.consumedAt ?? node?.armedAt ?? 0}`, hostname);
        break;
      case 'user-data': {
        const template = await cloudConfigTemplate(profile.answers.dir, mac);
        if (!template) {
          text = `#cloud-config\nhostname: ${JSON.stringify(hostname)}\n`;
          break;
        }
        const facts = {
          mac,
          ip: host?.ip || node?.lastIp || null,
          hostname,
          serial: node?.serial ?? null,
          uuid: node?.uuid ?? null,
          product: null,
          server: httpBase(profile),
        };
        const { values, missing } = templateValues(facts, host);
        const rendered = renderTemplate(template.text, values, missing);
        if (!rendered.ok) refuse(`user-data template error: ${describeTemplateErrors(template.rel, rendered.errors)}`);
        const userData = cloudConfigUserData(rendered.ok ? rendered.text : '');
        if (!userData.ok) refuse(`${template.rel}: ${userData.reason}`);
        text = userData.ok ? userData.text : '';
        break;
      }
      default: {
        // Where the keys were written, for the refusals: "[host …]", "enrolment", "[rule NAME]".
        const where = settings.source === 'host' ? `[${settings.from}]` : (settings.from ?? 'no settings');
        const read = readNetworkKeys(settings.network);
        // Checked when written; one that no longer reads (an older version's enrolment) says where it is.
        if (!read.ok) refuse(`${where} ${read.key}: ${read.reason}`);
        const nics = (node?.inventory?.document.nics ?? []).map((n) => ({ name: n.name, mac: n.mac }));
        const network = renderNetworkConfig(read.ok ? read.settings : {}, nics, mac);
        if (!network.ok) refuse(`network-config for ${mac} (${where}): ${network.reason}`);
        text = network.ok ? network.text : '';
      }
    }
    deps.store.record({
      mac,
      protocol: 'agent',
      kind: `seed ${part}`,
      decision: 'served',
      reason: `cloud-init ${part} for ${hostname}`,
      detail: { ip: clientAddress(ctx), session },
    });
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = text;
  });
}
