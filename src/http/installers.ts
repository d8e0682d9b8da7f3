// Answers for installers other than Proxmox, chosen and filled by the same rules:
// Ubuntu autoinstall / cloud-init NoCloud (GET /nocloud/<mac>/user-data…) and Debian preseed
// (GET /preseed/<mac>.cfg). These clients cannot send a token, so only [answers] allow guards them.
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Profile } from '../config/profile.ts';
import { answerBase } from '../boot/urls.ts';
import { macFileName } from '../net/mac.ts';
import { normaliseProduct, normaliseSerial, normaliseUuid } from '../answers/names.ts';
import { NOCLOUD_FILES, nocloudLayout, PRESEED_LAYOUT, type AnswerLayout, type NocloudFile } from '../answers/folder.ts';
import type { MachineIdentity } from '../answers/selection.ts';
import type { RequestFacts } from '../answers/template.ts';
import type { HttpDeps } from './context.ts';
import { fillAnswer, locateAnswer, requireAnswerClient } from './answers.ts';
import { HttpError, notFound } from './errors.ts';
import { recordErrors } from './error-events.ts';
import { clientAddress, parseMac, routeMac } from './request.ts';

const TEXT_TYPE = 'text/plain; charset=utf-8';

/** What the node table knows of the machine stands in for the DMI data these installers do not send. */
function machine(deps: HttpDeps, profile: Profile, mac: string, ip: string): { identity: MachineIdentity; facts: RequestFacts } {
  const node = deps.store.getNode(mac);
  const serial = normaliseSerial(node?.serial);
  const uuid = normaliseUuid(node?.uuid);
  const product = normaliseProduct((node?.profile ?? profile.hosts.get(mac)?.profile ?? '').split('/')[0]);
  return {
    identity: { macs: [mac], serial, uuid, product },
    facts: { mac, ip, hostname: node?.hostname ?? null, serial, uuid, product, server: answerBase(profile) },
  };
}

/** Without a meta-data file cloud-init still needs an instance id; the hostname comes along when known. */
function generatedMetaData(mac: string, hostname: string | null): string {
  return `instance-id: pxe-pilot-${macFileName(mac)}\n${hostname ? `local-hostname: ${hostname}\n` : ''}`;
}

export function installerRoutes(router: Router, deps: HttpDeps): void {
  const guard = requireAnswerClient(deps, { token: false, protocol: 'answer' });

  /**
   * Serves one answer file. `fallback` answers when no file matches (generated meta-data, empty
   * vendor-data); without one a missing file is a 404 naming what was tried.
   */
  async function serve(ctx: Context, kind: string, mac: string, layout: AnswerLayout, what: string, fallback?: (facts: RequestFacts) => string): Promise<void> {
    const profile = deps.profile();
    const ip = clientAddress(ctx);
    const { identity, facts } = machine(deps, profile, mac, ip);
    let text: string;
    let reason: string;
    let source: string;
    try {
      const answer = await locateAnswer(profile, layout, identity, what);
      text = fillAnswer(profile, answer, facts, what, deps.store);
      source = answer.rel;
      reason = `served ${answer.rel} (matched ${answer.candidate.why})`;
    } catch (err) {
      if (!(fallback && err instanceof HttpError && err.status === 404)) throw err;
      text = fallback(facts);
      source = '(generated)';
      reason = `no ${what} file: served a generated one`;
    }
    const state = deps.store.getNode(mac)?.state ?? 'unknown';
    deps.store.record({ mac, protocol: 'answer', kind, decision: 'served', reason: `${reason}; node is ${state}`, detail: { ip, file: source } });
    deps.logger.info({ mac, ip, file: source }, reason);
    ctx.type = TEXT_TYPE;
    ctx.set('X-PXE-Pilot-Source', source);
    ctx.body = text;
  }

  const nocloudKind = (ctx: Context): string => `GET /nocloud/<mac>/${String((ctx.params as Record<string, string | undefined>).file ?? '')}`;
  router.get('/nocloud/:mac/:file', guard, recordErrors(deps, 'answer', nocloudKind), async (ctx) => {
    const file = String(ctx.params.file ?? '');
    if (!(NOCLOUD_FILES as readonly string[]).includes(file))
      throw notFound(`no such NoCloud file ${JSON.stringify(file).slice(0, 40)}: serving ${NOCLOUD_FILES.join(', ')}`);
    const mac = routeMac(ctx);
    const fallbacks: Partial<Record<NocloudFile, (facts: RequestFacts) => string>> = {
      'meta-data': (facts) => generatedMetaData(mac, facts.hostname ?? deps.profile().hosts.get(mac)?.hostname ?? null),
      'vendor-data': () => '',
    };
    await serve(ctx, nocloudKind(ctx), mac, nocloudLayout(file as NocloudFile), `NoCloud ${file}`, fallbacks[file as NocloudFile]);
  });

  router.get(
    '/preseed/:file',
    guard,
    recordErrors(deps, 'answer', () => 'GET /preseed/<mac>.cfg'),
    async (ctx) => {
      const file = String(ctx.params.file ?? '');
      if (!file.endsWith('.cfg')) throw notFound('preseed files are named /preseed/<mac>.cfg');
      const mac = parseMac(file.slice(0, -4));
      ctx.state.eventMac = mac;
      await serve(ctx, 'GET /preseed/<mac>.cfg', mac, PRESEED_LAYOUT, 'preseed');
    },
  );
}
