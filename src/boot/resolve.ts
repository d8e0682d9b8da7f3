// One boot resolution for every transport: GET /boot and GET /install (iPXE, src/http/boot.ts)
// and GRUB's per-machine configuration over TFTP (src/tftp/grub-config.ts) ask here what a
// machine boots, then only render the outcome. In order: the sighting (the store arms a [host]
// with action = install on sight), the policy's decision, a fleet store's re-read before an
// install is handed out, the image's integrity, the consumption of the one-shot install (written
// before the script that depends on it leaves) and the event. No HTTP, sockets or SQL here: the
// store is reached through the ports (src/boot/ports.ts).
import type { InstallImage } from './catalogue.ts';
import { isOffered, notOfferedReason, PROFILE_NAME } from './catalogue.ts';
import type { ClientDescription } from './client.ts';
import type { HttpDetail, ReasonCode, TftpDetail } from './events.ts';
import { installCmdline, type InstallVars } from './ipxe.ts';
import { imageFiles } from './image-files.ts';
import { fetchesAnswer, nextState, profileArmsInstall, type StateChange } from './lifecycle.ts';
import { decide, type Decision, type PolicySettings } from './policy.ts';
import type { BootPorts, ImageCatalogue, NodeRecord, NodeWrites } from './ports.ts';
import { answerBase, httpBase, type TlsAddress } from './urls.ts';

type PolicyHost = PolicySettings['hosts'] extends ReadonlyMap<string, infer H> ? H : never;

/** What the resolution reads of the profile (src/config's Profile satisfies it). */
export interface BootSettings extends Omit<PolicySettings, 'hosts'>, TlsAddress {
  hosts: ReadonlyMap<string, PolicyHost & { hostname: string; cmdline: string; ip?: string }>;
  assets: { dir: string };
}

/** The event a request is recorded as; the resolution adds the decision, the reason and the image. */
export type RequestEvent = { protocol: 'http'; kind: string; detail: HttpDetail } | { protocol: 'tftp'; kind: string; code?: ReasonCode; detail: TftpDetail };

export interface BootRequest {
  /** The machine as the transport describes it: its MAC, address, firmware and DMI ids are what the sighting records. */
  client: ClientDescription;
  /** An image picked from the menu at the console (GET /install): served as asked, nothing decided or consumed. */
  pick?: string;
  event: RequestEvent;
}

/** What a machine boots, each with the reason a person reads on its console and in the event. */
export type BootOutcome =
  /** Load `image` with `cmdline` (the [host] extra arguments); `consumed`: the lifecycle's note when this script consumed the install. */
  | { tag: 'install'; image: InstallImage; vars: InstallVars; cmdline: string; reason: string; consumed: string | null }
  /** Boot from the local disk, through `script` (iPXE; `exit` unless an admin set one). */
  | { tag: 'local'; script: string; reason: string }
  /** The boot menu of `images`; GRUB's menu loads them itself, with `vars` and `cmdline`. */
  | { tag: 'menu'; images: InstallImage[]; vars: InstallVars; cmdline: string; reason: string }
  /** Nothing to boot: the profile ignores this machine, or the install cannot be consumed now. */
  | { tag: 'refused'; reason: string }
  /** The install image is missing or its files changed since it was added. */
  | { tag: 'error'; reason: string };

/** The values an install's kernel line is filled with. */
export function installVars(profile: BootSettings, mac: string, ip: string): InstallVars {
  const answers = answerBase(profile);
  // ${ip}: the [host] reservation when there is one (as docs/answer-files.md says), else the request's address.
  const host = profile.hosts.get(mac);
  return { mac, ip: host?.ip || ip, hostname: host?.hostname ?? '', server: httpBase(profile), answerUrl: `${answers}/answer`, answerServer: answers };
}

export type Consumption = { written: true } | { written: false; lost: boolean; reason: string };

/**
 * Writes an install's consumption before anything that depends on it is sent (else two requests or
 * appliances could both install). Not written: `lost` when another request or appliance consumed it
 * first; else the store cannot write now, and the caller must not act as if it applied.
 */
export async function consumeInstall(writes: Pick<NodeWrites, 'applyChange'>, mac: string, change: StateChange): Promise<Consumption> {
  try {
    if (await writes.applyChange(mac, change)) return { written: true };
    return {
      written: false,
      lost: true,
      reason: 'the install was consumed meanwhile (another request or appliance served it): booting from local disk next',
    };
  } catch (err) {
    return {
      written: false,
      lost: false,
      reason: `the store cannot record the install consumption now (${(err as Error).message}): not served, so it cannot run twice; retry when the store is back`,
    };
  }
}

/** An outcome and how it is recorded. */
interface Resolved {
  outcome: BootOutcome;
  decision: string;
  recorded: string;
  profile?: string;
}

/** Why an image cannot be served, or null when it can. */
function imageProblem(image: InstallImage | undefined, profile: BootSettings, name: string): string | null {
  if (!image) return `${profile.assets.dir}/${name} has no vmlinuz and initrd, and no [image ${name}] section names it`;
  return isOffered(image) ? null : notOfferedReason(image);
}

function failed(tag: 'refused' | 'error', reason: string, decision: string = tag, profile?: string): Resolved {
  return { outcome: { tag, reason }, decision, recorded: reason, ...(profile ? { profile } : {}) };
}

async function resolveInstall(
  request: BootRequest,
  profile: BootSettings,
  ports: BootPorts,
  catalogue: ImageCatalogue,
  node: NodeRecord,
  decision: Decision,
): Promise<Resolved> {
  const { mac, ip = '' } = request.client;
  const wanted = decision.profile!;
  const image = catalogue.find(profile.assets.dir, wanted);
  const problem = imageProblem(image, profile, wanted);
  if (problem || !image) return failed('error', `${decision.reason}, but ${problem}`, 'error', wanted);
  const vars = installVars(profile, mac, ip);
  const cmdline = profile.hosts.get(mac)?.cmdline ?? '';
  // A kernel line that cannot be filled is refused before the install is consumed: fixing the
  // profile and booting again then installs, instead of finding the install already spent.
  const loader = request.event.protocol === 'tftp' ? 'grub' : 'ipxe';
  const line = installCmdline(image, cmdline, vars, loader);
  if (!line.ok) return failed('error', `${decision.reason}, but ${line.problem}`, 'error', wanted);
  // So is a remote file the loader cannot fetch (an unpinned URL under GRUB), or an unfillable URL.
  const files = imageFiles(image, loader, { assetBase: '', tftpServer: '' }, vars);
  if (!files.ok) return failed('error', `${decision.reason}, but ${files.problem}`, 'error', wanted);
  const answers = image.remote ? image.remote.consumedAt !== 'script' : fetchesAnswer(image.product);
  const served = nextState({ kind: 'script-served', profile: image.profile, fetchesAnswer: answers }, node);
  // An installer that fetches no answer consumes the install now: served only once the store wrote
  // the consumption (once across a fleet sharing the store).
  if (served.change) {
    const consumption = await consumeInstall(ports, mac, served.change);
    if (!consumption.written) return failed('refused', `${decision.reason}, but ${consumption.reason}`, 'refused', wanted);
  }
  const consumed = served.change ? served.reason : null;
  return {
    outcome: { tag: 'install', image, vars, cmdline, reason: decision.reason, consumed },
    decision: 'install',
    recorded: consumed ? `${decision.reason}; ${consumed}` : decision.reason,
    profile: wanted,
  };
}

/** The policy's answer for a machine that asks what to boot. */
async function resolveDecision(request: BootRequest, profile: BootSettings, ports: BootPorts, catalogue: ImageCatalogue): Promise<Resolved> {
  const { client } = request;
  const { mac } = client;
  const host = profile.hosts.get(mac);
  const facts = { ip: client.ip, firmware: client.firmware, uuid: client.uuid, serial: client.serial, hostname: host?.hostname || undefined };
  let node = ports.sawNode(mac, facts, profileArmsInstall(host));
  let decision = decide(client, profile, node);
  if (decision.action === 'install' && ports.reread) {
    // A fleet's store: another appliance may have consumed or cancelled it a moment ago.
    node = (await ports.reread(mac)) ?? node;
    decision = decide(client, profile, node);
  }
  const { reason } = decision;
  switch (decision.action) {
    case 'install':
      return resolveInstall(request, profile, ports, catalogue, node, decision);
    case 'local':
      return { outcome: { tag: 'local', script: decision.localScript ?? 'exit', reason }, decision: 'local', recorded: reason };
    case 'menu': {
      const images = catalogue.images(profile.assets.dir);
      const outcome: BootOutcome = { tag: 'menu', images, vars: installVars(profile, mac, client.ip ?? ''), cmdline: host?.cmdline ?? '', reason };
      return { outcome, decision: 'menu', recorded: reason };
    }
    case 'ignore':
      return failed('refused', reason, 'ignore');
  }
}

const PICKED = 'chosen from the menu at the console';

/** An image picked from the menu: served as asked; the machine's install, if any, stays as it is. */
function resolvePick(request: BootRequest, pick: string, profile: BootSettings, catalogue: ImageCatalogue): Resolved {
  const { mac, ip = '' } = request.client;
  if (!PROFILE_NAME.test(pick)) return failed('error', `${JSON.stringify(pick).slice(0, 80)} is not an install image name (<product>/<version>)`);
  const image = catalogue.find(profile.assets.dir, pick);
  const problem = imageProblem(image, profile, pick);
  if (problem || !image) return failed('error', `${pick} ${PICKED}, but ${problem}`);
  const outcome: BootOutcome = {
    tag: 'install',
    image,
    vars: installVars(profile, mac, ip),
    cmdline: profile.hosts.get(mac)?.cmdline ?? '',
    reason: PICKED,
    consumed: null,
  };
  return { outcome, decision: 'install', recorded: `${image.profile} ${PICKED}`, profile: image.profile };
}

/** What the machine in `request` boots; records the event. */
export async function resolveBoot(request: BootRequest, profile: BootSettings, ports: BootPorts, catalogue: ImageCatalogue): Promise<BootOutcome> {
  const resolved =
    request.pick === undefined ? await resolveDecision(request, profile, ports, catalogue) : resolvePick(request, request.pick, profile, catalogue);
  const { event } = request;
  const extra = resolved.profile ? { profile: resolved.profile } : {};
  const base = { mac: request.client.mac, kind: event.kind, decision: resolved.decision, reason: resolved.recorded };
  if (event.protocol === 'http') ports.record({ ...base, protocol: 'http', detail: { ...event.detail, ...extra } });
  else ports.record({ ...base, protocol: 'tftp', ...(event.code ? { code: event.code } : {}), detail: { ...event.detail, ...extra } });
  return resolved.outcome;
}
