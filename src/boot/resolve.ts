// One boot resolution for every transport: GET /boot and GET /install (iPXE, src/http/boot.ts)
// and GRUB's per-machine configuration over TFTP (src/tftp/grub-config.ts) ask here what a
// machine boots, then only render the outcome. In order: the sighting (the store arms a [host]
// with action = install on sight), the policy's decision, a fleet store's re-read before an
// install is handed out, the image's integrity, the consumption of the one-shot install (written
// before the script that depends on it leaves) and the event. No HTTP, sockets or SQL here: the
// store is reached through the ports (src/boot/ports.ts).
import type { DiskImage, InstallImage } from './catalogue.ts';
import { compareVersionsDesc, isOffered, notOfferedReason, PROFILE_NAME } from './catalogue.ts';
import type { ClientDescription } from './client.ts';
import type { HttpDetail, ReasonCode, TftpDetail } from './events.ts';
import { installCmdline, type InstallVars } from './ipxe.ts';
import { imageFiles } from './image-files.ts';
import { fetchesAnswer, nextState, profileArmsInstall, type StateChange } from './lifecycle.ts';
import { decide, type Decision, type PolicySettings } from './policy.ts';
import type { BootPorts, ImageCatalogue, NodeRecord, NodeWrites } from './ports.ts';
import { censusOf, settingsFor, type IdentityCensus, type NodeSettings, type SettingsNode } from './settings.ts';
import type { MenuSpec } from './rules.ts';
import { globMatches } from './match.ts';
import { answerBase, httpBase, type TlsAddress } from './urls.ts';

type PolicyHost = PolicySettings['hosts'] extends ReadonlyMap<string, infer H> ? H : never;

/** What the resolution reads of the profile (src/config's Profile satisfies it). */
export interface BootSettings extends Omit<PolicySettings, 'hosts'>, TlsAddress {
  hosts: ReadonlyMap<string, PolicyHost & { hostname: string; cmdline: string; ip?: string }>;
  menus?: ReadonlyMap<string, MenuSpec>;
  assets: { dir: string };
}

/** The event a request is recorded as; the resolution adds the decision, the reason and the image. */
export type RequestEvent = { protocol: 'http'; kind: string; detail: HttpDetail } | { protocol: 'tftp'; kind: string; code?: ReasonCode; detail: TftpDetail };

export interface BootRequest {
  /** The machine as the transport describes it: its MAC, address, firmware and DMI ids are what the sighting records. */
  client: ClientDescription;
  /**
   * An image picked from the menu at the console (GET /install): an install image is served as
   * asked, nothing decided or consumed; a disk image is armed and deployed (resolveMenuDeploy).
   */
  pick?: string;
  /** The person confirmed, in the menu's second question, that the disk image pick erases the disk. */
  erase?: boolean;
  event: RequestEvent;
}

/** What a machine boots, each with the reason a person reads on its console and in the event. */
export type BootOutcome =
  /** Load `image` with `cmdline` (the [host] extra arguments); `consumed`: the lifecycle's note when this script consumed the install. */
  | { tag: 'install'; image: InstallImage; vars: InstallVars; cmdline: string; reason: string; consumed: string | null }
  /** Boot from the local disk, through `script` (iPXE; `exit` unless an admin set one). */
  | { tag: 'local'; script: string; reason: string }
  /**
   * The boot menu of `images`, and of the disk images `disks` it offers to deploy (iPXE only: GRUB's
   * menu loads images itself, with `vars` and `cmdline`, and lists no disk image). `menu`: the
   * [menu NAME] chosen by the machine's settings.
   */
  | { tag: 'menu'; images: InstallImage[]; disks: DiskImage[]; vars: InstallVars; cmdline: string; reason: string; menu?: MenuSpec }
  /** Boot the inspection agent `image` with `cmdline` (its URL and this boot's session token). */
  | { tag: 'inspect'; image: InstallImage; cmdline: string; reason: string }
  /** Nothing to boot: the profile ignores this machine, or the install cannot be consumed now. */
  | { tag: 'refused'; reason: string }
  /** The install image is missing or its files changed since it was added. */
  | { tag: 'error'; reason: string };

/** The values an install's kernel line is filled with. */
export function installVars(profile: BootSettings, mac: string, ip: string, settings?: NodeSettings): InstallVars {
  const answers = answerBase(profile);
  const host = profile.hosts.get(mac);
  const hostname = host?.hostname || settings?.hostname || '';
  const missing = !hostname && settings?.hostnameProblem ? { hostnameMissing: settings.hostnameProblem } : {};
  // ${ip}: the [host] reservation when there is one (as docs/answer-files.md says), else the request's address.
  return { mac, ip: host?.ip || ip, hostname, ...missing, server: httpBase(profile), answerUrl: `${answers}/answer`, answerServer: answers };
}

/** The folder `pxe-pilot agent build` writes the inspection agent into, under [assets] dir. */
export const AGENT_PRODUCT = 'pxe-pilot-agent';

/** The agent image for this client: the newest build of its architecture; or why none can boot. */
export function agentImage(catalogue: ImageCatalogue, dir: string, arm64: boolean): { ok: true; image: InstallImage } | { ok: false; problem: string } {
  const builds = catalogue.all(dir).filter((i) => i.product === AGENT_PRODUCT);
  const arch = arm64 ? 'arm64' : 'amd64';
  const mine = builds.filter((i) => i.version.endsWith(`-${arch}`)).sort((a, b) => compareVersionsDesc(a.version, b.version));
  const image = mine[0];
  if (!image) {
    const others = builds.length ? ` (there is ${builds.map((b) => b.profile).join(', ')}, not for ${arch})` : '';
    return {
      ok: false,
      problem: `there is no inspection agent for ${arch} under ${dir}/${AGENT_PRODUCT}${others}: run pxe-pilot agent build${arm64 ? ' --arch arm64' : ''}`,
    };
  }
  if (!isOffered(image))
    return {
      ok: false,
      problem: `the inspection agent ${notOfferedReason(image).replace(/run pxe-pilot assets verify .*$/, 'rebuild it with pxe-pilot agent build --force')}`,
    };
  if (image.integrity !== 'verified')
    return {
      ok: false,
      problem: `the inspection agent ${image.profile} has no manifest (SHA256SUMS, image.json), so its files cannot be checked: rebuild it with pxe-pilot agent build --force`,
    };
  return { ok: true, image };
}

/** The agent's kernel line: where to report, this boot's session token, the NIC that booted; `deploy`: it writes a disk image. */
export function agentCmdline(server: string, mac: string, token: string, mode: 'inspect' | 'deploy' | 'wipe' = 'inspect'): string {
  const tail = mode === 'inspect' ? '' : ` pxe_pilot.mode=${mode}`;
  return `pxe_pilot.url=${server} pxe_pilot.token=${token} BOOTIF=01-${mac.replace(/:/g, '-')}${tail}`;
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
  const vars = installVars(profile, mac, ip, decision.settings);
  const cmdline = decision.settings?.cmdline ?? profile.hosts.get(mac)?.cmdline ?? '';
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

/** The node as the policy reads it, with the identity this request reported (before the sighting records it). */
function withReported(node: NodeRecord | undefined, client: ClientDescription): SettingsNode | undefined {
  if (!node) {
    if (!client.uuid && !client.serial) return undefined;
    const blank = {
      mac: client.mac,
      state: 'seen' as const,
      profile: null,
      localBoot: null,
      armedAt: null,
      armedBy: null,
      consumedAt: null,
      installedAt: null,
    };
    return { ...blank, uuid: client.uuid ?? null, serial: client.serial ?? null };
  }
  return { ...node, uuid: client.uuid ?? node.uuid, serial: client.serial ?? node.serial };
}

function censusFrom(ports: BootPorts): IdentityCensus | undefined {
  const list = ports.listNodes;
  return list ? censusOf(() => list.call(ports, Number.MAX_SAFE_INTEGER)) : undefined;
}

/** What a menu lists: the offered install images, and the disk images that can be deployed now. */
export interface MenuImages {
  images: InstallImage[];
  disks: DiskImage[];
  menu?: MenuSpec;
  note: string;
}

/** The [menu NAME] of the decision, and the images it lists, disk images too (every offered image without one). */
export function menuImages(profile: BootSettings, catalogue: ImageCatalogue, name: string | undefined): MenuImages {
  const all = catalogue.images(profile.assets.dir).filter((i) => i.product !== AGENT_PRODUCT);
  const disks = (catalogue.diskImages?.(profile.assets.dir) ?? []).filter((d) => diskImageProblem(d) === null);
  if (!name) return { images: all, disks, note: '' };
  const menu = profile.menus?.get(name);
  if (!menu) return { images: all, disks, note: `; [menu ${name}] is not in the profile: the default menu` };
  const listed = (name: string): boolean => menu.entries.some((g) => globMatches(g, name));
  return { images: all.filter((i) => listed(i.profile)), disks: disks.filter((d) => listed(d.profile)), menu, note: `; [menu ${name}]` };
}

/** Whether the agent for this client is the arm64 build: its DHCP architecture, or iPXE's ${buildarch}. */
function isArm64(client: ClientDescription): boolean {
  return client.arch === 11 || client.arch === 13 || client.buildarch === 'arm64';
}

async function resolveInspect(
  request: BootRequest,
  profile: BootSettings,
  ports: BootPorts,
  catalogue: ImageCatalogue,
  decision: Decision,
  deploy?: DiskImage,
): Promise<Resolved> {
  const { mac } = request.client;
  const agent = agentImage(catalogue, profile.assets.dir, isArm64(request.client));
  if (!agent.ok) return failed('error', `${decision.reason}, but ${agent.problem}`);
  if (!ports.mint) return failed('error', `${decision.reason}, but this store keeps no agent sessions, so the agent could not report`);
  let token: string;
  try {
    token = ports.mint(mac).token;
  } catch (err) {
    return failed('error', `${decision.reason}, but no agent session could be started (${(err as Error).message})`);
  }
  const cmdline = agentCmdline(httpBase(profile), mac, token, deploy ? 'deploy' : decision.wipe ? 'wipe' : 'inspect');
  const outcome: BootOutcome = { tag: 'inspect', image: agent.image, cmdline, reason: decision.reason };
  if (decision.wipe) {
    // The wipe is spent before the agent leaves (written first), so it runs once: its next boot is local.
    const served = nextState({ kind: 'wipe-served', ...decision.wipe }, ports.getNode(mac));
    if (!served.change) return failed('refused', `${decision.reason}, but ${mac} ${served.reason}`);
    const consumption = await consumeInstall(ports, mac, served.change);
    if (!consumption.written) return failed('refused', `${decision.reason}, but ${consumption.reason.replace('install', 'wipe')}`);
    return { outcome, decision: 'wipe', recorded: `${decision.reason} (${agent.image.profile}); ${served.reason}`, profile: agent.image.profile };
  }
  if (deploy) {
    // The install stays armed until the agent fetches its plan (GET /agent/<mac>/deploy) and consumes it.
    return { outcome, decision: 'deploy', recorded: `${decision.reason}: the agent (${agent.image.profile}) writes the disk image`, profile: deploy.profile };
  }
  return { outcome, decision: 'inspect', recorded: `${decision.reason} (${agent.image.profile})`, profile: agent.image.profile };
}

/** Why a disk image cannot be deployed now, or null. */
export function diskImageProblem(image: DiskImage): string | null {
  if (image.integrity === 'changed' || image.integrity === 'unreadable')
    return `disk image ${image.profile} is not offered: ${image.integrityProblem ?? image.integrity}; run pxe-pilot assets verify ${image.profile}`;
  return null;
}

/** A decided install whose profile is a disk image boots the agent in deploy mode; or why it cannot. */
async function resolveDeploy(
  request: BootRequest,
  profile: BootSettings,
  ports: BootPorts,
  catalogue: ImageCatalogue,
  decision: Decision,
  image: DiskImage,
): Promise<Resolved> {
  const problem = diskImageProblem(image);
  if (problem) return failed('error', `${decision.reason}, but ${problem}`, 'error', image.profile);
  return resolveInspect(request, profile, ports, catalogue, { ...decision, reason: `${decision.reason}: deploying disk image ${image.profile}` }, image);
}

/** The policy's answer for a machine that asks what to boot. */
async function resolveDecision(request: BootRequest, profile: BootSettings, ports: BootPorts, catalogue: ImageCatalogue): Promise<Resolved> {
  const { client } = request;
  const { mac } = client;
  const census = censusFrom(ports);
  // Settings by MAC, serial/UUID, enrolment or rule: the [host] or rule with action = install arms on sight.
  const before: NodeSettings = settingsFor(mac, withReported(ports.getNode(mac), client), profile, census);
  const armsOnSight = profileArmsInstall({ action: before.action ?? '' }) && (before.source === 'host' || before.source === 'rule');
  const hostname = profile.hosts.get(mac)?.hostname || before.hostname || undefined;
  const facts = { ip: client.ip, firmware: client.firmware, uuid: client.uuid, serial: client.serial, hostname };
  let node = ports.sawNode(mac, facts, armsOnSight);
  let decision = decide(client, profile, node, census);
  if (decision.action === 'install' && ports.reread) {
    // A fleet's store: another appliance may have consumed or cancelled it a moment ago.
    node = (await ports.reread(mac)) ?? node;
    decision = decide(client, profile, node, census);
  }
  const { reason } = decision;
  const settings = decision.settings;
  switch (decision.action) {
    case 'install': {
      const disk = catalogue.findDiskImage?.(profile.assets.dir, decision.profile!);
      if (disk) return resolveDeploy(request, profile, ports, catalogue, decision, disk);
      if (settings?.action === 'deploy' && decision.profile === settings.profile)
        return failed(
          'error',
          `${reason}, but ${decision.profile} is not a disk image under ${profile.assets.dir}: add one with pxe-pilot assets add FILE --kind disk-image`,
          'error',
          decision.profile,
        );
      return resolveInstall(request, profile, ports, catalogue, node, decision);
    }
    case 'inspect':
      return resolveInspect(request, profile, ports, catalogue, decision);
    case 'local':
      return { outcome: { tag: 'local', script: decision.localScript ?? 'exit', reason }, decision: 'local', recorded: reason };
    case 'menu': {
      const chosen = menuImages(profile, catalogue, decision.menu);
      const outcome: BootOutcome = {
        tag: 'menu',
        images: chosen.images,
        disks: chosen.disks,
        vars: installVars(profile, mac, client.ip ?? '', settings),
        cmdline: settings?.cmdline ?? '',
        reason: `${reason}${chosen.note}`,
        ...(chosen.menu ? { menu: chosen.menu } : {}),
      };
      return { outcome, decision: 'menu', recorded: `${reason}${chosen.note}` };
    }
    case 'ignore':
      return failed('refused', reason, 'ignore');
  }
}

const PICKED = 'chosen from the menu at the console';

/**
 * An image picked from the menu: an install image is served as asked, the machine's install, if
 * any, staying as it is; a disk image is armed and deployed (resolveMenuDeploy).
 */
async function resolvePick(request: BootRequest, pick: string, profile: BootSettings, ports: BootPorts, catalogue: ImageCatalogue): Promise<Resolved> {
  const { mac, ip = '' } = request.client;
  if (!PROFILE_NAME.test(pick)) return failed('error', `${JSON.stringify(pick).slice(0, 80)} is not an install image name (<product>/<version>)`);
  const disk = catalogue.findDiskImage?.(profile.assets.dir, pick);
  if (disk) return resolveMenuDeploy(request, disk, profile, ports, catalogue);
  if (request.erase)
    return failed(
      'error',
      `${pick} ${PICKED} with erase=yes, but it is not a disk image under ${profile.assets.dir}: nothing to deploy, nothing armed`,
      'error',
      pick,
    );
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

/**
 * A disk image picked from the menu and confirmed: armed exactly as `pxe-pilot nodes reinstall MAC
 * --profile P` arms it (install-pending with that profile), then the agent is served in deploy
 * mode, as for any armed deploy; the plan's fetch consumes it. Arming erases a disk at the next
 * network boot, from an unauthenticated request, so only the machine itself may: the request comes
 * from the address it last booted from, its own decision now is the menu, and that menu lists the
 * image. Each refusal arms nothing.
 */
async function resolveMenuDeploy(
  request: BootRequest,
  image: DiskImage,
  profile: BootSettings,
  ports: BootPorts,
  catalogue: ImageCatalogue,
): Promise<Resolved> {
  const { client } = request;
  const { mac } = client;
  const chosen = `deploy of ${image.profile} ${PICKED}`;
  const refuse = (why: string, tag: 'refused' | 'error' = 'refused'): Resolved => failed(tag, `${chosen}, but ${why}; nothing armed`, tag, image.profile);
  if (!request.erase) return refuse(`deploying it erases the disk of ${mac}: the menu asks first, then sends erase=yes`, 'error');
  const problem = diskImageProblem(image);
  if (problem) return refuse(problem, 'error');
  const node = ports.getNode(mac);
  if (!node) return refuse(`${mac} has not booted from this server`);
  if (!client.ip || node.lastIp !== client.ip)
    return refuse(
      `the request came from ${client.ip || 'no address'}, not from ${mac}'s own address (${node.lastIp ?? 'none known'}): only the machine at the menu deploys from it`,
    );
  const decision = decide(client, profile, withReported(node, client), censusFrom(ports));
  if (decision.action !== 'menu') return refuse(`${mac} is not at the menu now (${decision.reason})`);
  const offered = menuImages(profile, catalogue, decision.menu);
  if (!offered.disks.some((d) => d.profile === image.profile)) return refuse(`${offered.menu ? `[menu ${offered.menu.name}]` : 'the menu'} does not list it`);
  // What the deploy needs is checked before it is armed: an armed deploy that cannot boot the agent would stop every later boot.
  const agent = agentImage(catalogue, profile.assets.dir, isArm64(client));
  if (!agent.ok) return refuse(agent.problem, 'error');
  if (!ports.mint) return refuse('this store keeps no agent sessions, so the agent could not report', 'error');
  const armed = nextState({ kind: 'reinstall-armed', profile: image.profile }, node);
  try {
    if (!armed.change || !(await ports.applyChange(mac, armed.change))) return refuse(`the store did not take the arm (${mac} ${armed.reason})`);
  } catch (err) {
    return refuse(`the store cannot record the arm now (${(err as Error).message})`);
  }
  const resolved = await resolveInspect(
    request,
    profile,
    ports,
    catalogue,
    { action: 'install', profile: image.profile, reason: chosen, ...(decision.settings ? { settings: decision.settings } : {}) },
    image,
  );
  return { ...resolved, recorded: `${resolved.recorded}; armed as pxe-pilot nodes reinstall ${mac} --profile ${image.profile} arms it` };
}

/** What the machine in `request` boots; records the event. */
export async function resolveBoot(request: BootRequest, profile: BootSettings, ports: BootPorts, catalogue: ImageCatalogue): Promise<BootOutcome> {
  const resolved =
    request.pick === undefined
      ? await resolveDecision(request, profile, ports, catalogue)
      : await resolvePick(request, request.pick, profile, ports, catalogue);
  const { event } = request;
  const extra = resolved.profile ? { profile: resolved.profile } : {};
  const base = { mac: request.client.mac, kind: event.kind, decision: resolved.decision, reason: resolved.recorded };
  if (event.protocol === 'http') ports.record({ ...base, protocol: 'http', detail: { ...event.detail, ...extra } });
  else ports.record({ ...base, protocol: 'tftp', ...(event.code ? { code: event.code } : {}), detail: { ...event.detail, ...extra } });
  return resolved.outcome;
}
