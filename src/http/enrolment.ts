// Enrolment through the admin API: PUT/DELETE /nodes/<mac>/enrolment (docs/inventory.md). An
// enrolment lives in the store, never in the INI, so every appliance of a fleet sees it at once.
// The request is parsed here (pure, every refusal says why); the image it names must be in the
// catalogue, and `install: true` arms the install through the lifecycle as a reinstall does.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { PROFILE_NAME } from '../boot/catalogue.ts';
import { nextState } from '../boot/lifecycle.ts';
import { HOST_ACTIONS } from '../boot/settings.ts';
import { formatInstallDisk, parseInstallDisk } from '../boot/rules.ts';
import { describeNetworkKeys, NETWORK_KEYS, readNetworkJson, type NetworkKeys } from '../deploy/network-keys.ts';
import type { Enrolment, NodeRecord } from '../boot/ports.ts';
import type { HostEntry } from '../config/profile.ts';
import { HOSTNAME } from '../config/values.ts';
import { formatBmc, parseBmc } from '../power/bmc-url.ts';
import type { HttpDeps } from './context.ts';
import { isPlainObject, readJson } from './body.ts';
import { badRequest, notFound } from './errors.ts';
import { routeMac } from './request.ts';

/** The actions an operator can enrol a machine with. */
export const ENROL_ACTIONS = HOST_ACTIONS;
/** The actions that arm something with the profile: an install, or a disk image's deploy. */
const ARMING_ACTIONS: readonly EnrolAction[] = ['install', 'deploy'];
export type EnrolAction = (typeof ENROL_ACTIONS)[number];

export interface EnrolmentRequest {
  hostname: string;
  profile: string | null;
  action: EnrolAction;
  bmc: string | null;
  /** Also arm the install now. */
  install: boolean;
  /** Have the inspection agent create a BMC user (needs [power] create_bmc_user and an in-band BMC). */
  createBmcUser: boolean;
  /** The deployed system's net_* keys (netAddress…), set ones only. */
  network: NetworkKeys;
  /** install_disk in its written form, or null. */
  installDisk: string | null;
}

const KEYS = ['hostname', 'profile', 'action', 'bmc', 'install', 'createBmcUser', ...Object.keys(NETWORK_KEYS), 'installDisk'];

/** The body of PUT /nodes/<mac>/enrolment, or why not. Pure and total. */
export function parseEnrolmentRequest(body: unknown): { ok: true; value: EnrolmentRequest } | { ok: false; error: string } {
  const no = (error: string) => ({ ok: false as const, error: `enrolment: ${error}` });
  if (!isPlainObject(body)) return no('expected a JSON object {"hostname": "h", "profile": "<product>/<version>", "action": "install"}');
  const unknown = Object.keys(body).filter((k) => !KEYS.includes(k));
  if (unknown.length) return no(`unknown key ${unknown.map((k) => JSON.stringify(k).slice(0, 40)).join(', ')}; expected ${KEYS.join(', ')}`);
  const { hostname, profile, action, bmc, install, createBmcUser } = body;
  if (typeof hostname !== 'string' || !HOSTNAME.test(hostname)) return no('hostname must be a host name such as pve1 or pve1.lab.example');
  if (profile !== undefined && profile !== null && (typeof profile !== 'string' || !PROFILE_NAME.test(profile)))
    return no('profile must be "<product>/<version>", e.g. "proxmox-ve/9.1-1"');
  const chosen = action ?? 'install';
  if (typeof chosen !== 'string' || !(ENROL_ACTIONS as readonly string[]).includes(chosen)) return no(`action must be one of ${ENROL_ACTIONS.join(', ')}`);
  const enrolAction = chosen as EnrolAction;
  const image = typeof profile === 'string' ? profile : null;
  if (enrolAction === 'install' && image === null) return no('action install needs a profile (the image to install)');
  if (enrolAction === 'deploy' && image === null) return no('action deploy needs a profile (the disk image to deploy)');
  if (install !== undefined && typeof install !== 'boolean') return no('install must be true or false');
  if (install === true && !ARMING_ACTIONS.includes(enrolAction)) return no(`install: true arms an install or a deploy, but the action is ${enrolAction}`);
  let bmcUrl: string | null = null;
  if (bmc !== undefined && bmc !== null) {
    if (typeof bmc !== 'string') return no('bmc must be a BMC URL such as ipmi://10.0.0.5 or redfish://bmc1.lab.example');
    const parsed = parseBmc(bmc);
    if (!parsed.ok) return no(`bmc: ${parsed.error}`);
    bmcUrl = formatBmc(parsed.value);
  }
  if (createBmcUser !== undefined && typeof createBmcUser !== 'boolean') return no('createBmcUser must be true or false');
  if (createBmcUser === true && bmcUrl !== null) return no('give bmc or createBmcUser, not both: the created user sets the bmc');
  const network = readNetworkJson(body);
  if (!network.ok) return no(`${network.field} (${NETWORK_KEYS[network.field]}): ${network.reason}`);
  let disk: string | null = null;
  if (body.installDisk !== undefined && body.installDisk !== null) {
    const parsed = typeof body.installDisk === 'string' ? parseInstallDisk(body.installDisk) : null;
    if (!parsed?.ok) return no(`installDisk (install_disk): ${parsed?.problem ?? 'expected smallest-ssd, largest, serial:<disk serial> or model:<glob>'}`);
    disk = formatInstallDisk(parsed.choice);
  }
  return {
    ok: true,
    value: {
      hostname,
      profile: image,
      action: enrolAction,
      bmc: bmcUrl,
      install: install === true,
      createBmcUser: createBmcUser === true,
      network: network.keys,
      installDisk: disk,
    },
  };
}

/** An enrolment's net_* keys and install_disk as INI lines would say them ("net_vlan = 42, install_disk = largest"); empty: none. */
export function describeDeployKeys(e: Pick<Enrolment, 'network' | 'installDisk'>): string {
  const words = describeNetworkKeys(e.network ?? {});
  if (e.installDisk) words.push(`install_disk = ${e.installDisk}`);
  return words.join(', ');
}

/** Why an enrolment may not ask the agent for a BMC user, or null when it may. */
export function bmcUserRefusal(allowed: boolean, node: NodeRecord): string | null {
  if (!allowed) return '[power] create_bmc_user = false: set it to true to let the inspection agent create BMC users';
  if (!node.inventory) return 'the machine has not been inspected: its inventory must show an in-band BMC first';
  if (!node.inventory.document.bmc) return 'its inventory shows no in-band BMC (bmc: null): the agent found no IPMI interface to create the user through';
  return null;
}

/** Inspected, and no [host] section nor enrolment gives it settings (the rules add theirs). */
export function isDiscovered(node: NodeRecord, host: HostEntry | undefined): boolean {
  return Boolean(node.inventory) && host === undefined && !node.enrolment;
}

/** The enrolment as the API shows it: as stored, `enrolledAt` in ms like the inventory's `reportedAt` (the contract's shape). */
export function enrolmentJson(e: Enrolment | null | undefined): Enrolment | null {
  return e ?? null;
}

export interface EnrolmentRouteHelpers {
  admin: Middleware;
  nodeDetail: (mac: string) => unknown;
  recordAdmin: (ctx: Context, mac: string, decision: string, reason: string) => void;
}

export function enrolmentRoutes(router: Router, deps: HttpDeps, { admin, nodeDetail, recordAdmin }: EnrolmentRouteHelpers): void {
  router.put('/nodes/:mac/enrolment', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const parsed = parseEnrolmentRequest(await readJson(ctx, 'enrolment'));
    if (!parsed.ok) throw badRequest(parsed.error);
    const request = parsed.value;
    const node = deps.store.getNode(mac);
    if (!node) throw notFound(`no node ${mac}: it has not booted from us`);
    const { assets } = deps.profile();
    // A typo here would only show at the machine's console; refuse it now.
    if (request.action === 'deploy' && request.profile !== null && !deps.catalogue.findDiskImage?.(assets.dir, request.profile)) {
      const have = (deps.catalogue.diskImages?.(assets.dir) ?? []).map((i) => i.profile);
      throw badRequest(
        `enrolment: action deploy needs a disk image; ${request.profile} is none under ${assets.dir} (disk images: ${have.join(', ') || 'none'})`,
      );
    }
    if (request.action !== 'deploy' && request.profile !== null && !deps.catalogue.find(assets.dir, request.profile)) {
      const have = deps.catalogue.images(assets.dir).map((i) => i.profile);
      throw badRequest(`enrolment: no install image ${request.profile} under ${assets.dir} (available: ${have.join(', ') || 'none'})`);
    }
    if (request.createBmcUser) {
      const refused = bmcUserRefusal(deps.profile().power.createBmcUser, node);
      if (refused) throw badRequest(`enrolment: createBmcUser: ${refused}`);
    }
    const enrolment: Enrolment = {
      hostname: request.hostname,
      profile: request.profile,
      action: request.action,
      bmc: request.bmc,
      enrolledAt: Date.now(),
      enrolledBy: 'admin',
      ...(request.createBmcUser ? { createBmcUser: true } : {}),
      ...(Object.keys(request.network).length > 0 ? { network: request.network } : {}),
      ...(request.installDisk ? { installDisk: request.installDisk } : {}),
    };
    await deps.store.setEnrolment(mac, enrolment);
    const what = `${request.action}${request.profile ? ` ${request.profile}` : ''} as ${request.hostname}`;
    const bmcWords = request.bmc ? `, BMC ${request.bmc}` : request.createBmcUser ? ', the inspection agent to create a BMC user' : '';
    const deployWords = describeDeployKeys(enrolment);
    recordAdmin(ctx, mac, 'enrolled', `enrolled by admin: ${what}${bmcWords}${deployWords ? `, ${deployWords}` : ''}`);
    if (request.install) {
      const armed = nextState({ kind: 'reinstall-armed', profile: request.profile }, deps.store.getNode(mac));
      if (armed.change) await deps.store.applyChange(mac, armed.change);
      recordAdmin(ctx, mac, 'armed', `${request.action} armed by admin with the enrolment, profile ${request.profile}: ${armed.reason}`);
    }
    ctx.body = nodeDetail(mac);
  });

  router.delete('/nodes/:mac/enrolment', admin, async (ctx) => {
    const mac = routeMac(ctx);
    const node = deps.store.getNode(mac);
    if (!node) throw notFound(`no node ${mac}`);
    if (node.enrolment) {
      await deps.store.setEnrolment(mac, null);
      recordAdmin(ctx, mac, 'unenrolled', `enrolment removed by admin (was ${node.enrolment.action} as ${node.enrolment.hostname ?? 'no host name'})`);
    } else {
      recordAdmin(ctx, mac, 'unchanged', 'unenrol asked by admin, but the node has no enrolment');
    }
    ctx.body = nodeDetail(mac);
  });
}
