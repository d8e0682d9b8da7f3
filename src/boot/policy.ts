// The one boot policy. Pure: (client, profile, node state) → decision with a reason.
// Every protocol asks here; none decides on its own what a machine boots.
import { httpBase, type ServerAddress } from './urls.ts';
import { archInfo, archLabel, isRaspberryPi, type ArchInfo, type ClientDescription } from './client.ts';
import type { NodeState } from './lifecycle.ts';
import { consumedWords } from './products.ts';
import { signedBootFile, signedChainFor, type LoaderName } from './loaders.ts';
import { settingsFor, type HostSettings, type IdentityCensus, type NodeSettings, type SettingsNode, type SettingsProfile } from './settings.ts';

export type BootAction = 'install' | 'local' | 'menu' | 'inspect' | 'ignore';

export const AFTER_INSPECT = ['poweroff', 'local', 'wait'] as const;
export type AfterInspect = (typeof AFTER_INSPECT)[number];

/**
 * What the policy reads of the profile. src/config's Profile satisfies it; the policy names only
 * what it uses, so src/boot depends on nothing above it.
 */
export interface PolicySettings extends ServerAddress, SettingsProfile {
  /** The profile file, named in reasons. */
  file: string;
  hosts: ReadonlyMap<string, HostSettings & { profile: string; loader?: LoaderName | '' }>;
  /** Remote images ([image] sections) by name: when their install is consumed, for the words. */
  images?: ReadonlyMap<string, { consumedAt: 'script' | 'answer' }>;
  boot: Record<NonNullable<ArchInfo['bootKey']>, string> & {
    unknown: 'menu' | 'local' | 'ignore' | 'inspect';
    /** What an inspected machine does once it reported (absent: poweroff). */
    afterInspect?: AfterInspect;
    defaultAction: 'menu' | 'local';
    menuDefault: string;
    menuTimeout: number;
    /** What UEFI PXE machines load (absent: ipxe). */
    loader?: LoaderName;
    /** The image a reinstall that names no profile installs; empty or absent: such a reinstall gets the menu. */
    defaultInstall?: string;
  };
}

export interface Decision {
  action: BootAction;
  /** For install: the profile, e.g. "proxmox-ve/9.1-1". */
  profile?: string;
  /** For local: the iPXE script (default `exit`). */
  localScript?: string;
  /** For menu: the [menu NAME] the machine's settings name (absent: the default menu). */
  menu?: string;
  reason: string;
  /** The settings the decision read, and where they come from. */
  settings?: NodeSettings;
  /**
   * For inspect: the agent boots in wipe mode, and serving it consumes the wipe (`by` who asked;
   * `since`: an enrolment's time, after which an earlier arm does not count).
   */
  wipe?: { by: 'profile' | 'admin'; since: number | null };
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Whether an install-armed machine with inspect_first is inspected before it installs: its
 * inventory is missing or older than the arm. Once a fresh inventory arrives it installs.
 */
export function inspectsFirst(node: SettingsNode, settings: NodeSettings): boolean {
  if (node.state !== 'install-pending' || !settings.inspectFirst) return false;
  const reported = node.inventory?.reportedAt ?? null;
  return reported === null || reported < (node.armedAt ?? 0);
}

/**
 * When the machine's current inspection request was made: an enrolment asking for one counts from
 * its time; a [host], rule or [boot] unknown = inspect asks once (null: any inventory answers it).
 */
function inspectionRequestedAt(settings: NodeSettings, node: SettingsNode | undefined): number | null {
  return settings.source === 'enrolment' ? (node?.enrolment?.enrolledAt ?? null) : null;
}

/**
 * What an inspection request gives: the agent, unless an inventory arrived since the request; then
 * [boot] after_inspect, so that the machine is never inspected in a loop.
 */
function inspectOrAfter(
  node: SettingsNode | undefined,
  settings: NodeSettings,
  profile: PolicySettings,
  why: string,
  local: (r: string) => Decision,
): Decision {
  const inventory = node?.inventory ?? null;
  const requestedAt = inspectionRequestedAt(settings, node);
  if (!inventory || (requestedAt !== null && inventory.reportedAt < requestedAt)) {
    const since = inventory ? `its inventory of ${stamp(inventory.reportedAt)} is older than the request` : 'it has not been inspected';
    return { action: 'inspect', reason: `${why}: ${since}; booting the inspection agent`, settings };
  }
  const after = profile.boot.afterInspect ?? 'poweroff';
  const then =
    after === 'local'
      ? ''
      : after === 'poweroff'
        ? ' (it powered off after reporting; enrol it or add a [rule] to give it settings)'
        : ' (nothing gave it settings while the agent waited; enrol it or add a [rule])';
  return local(`${why}; inspected at ${stamp(inventory.reportedAt)}; [boot] after_inspect = ${after}${then}`);
}

/** "deploy of P failed at T: reason", from what the store kept of the failure (its install report). */
export function deployFailureWords(node: SettingsNode & { installReport?: unknown }): string {
  const report = node.installReport as { reason?: unknown } | null | undefined;
  const why = typeof report?.reason === 'string' ? `: ${report.reason}` : '';
  return `deploy${node.profile ? ` of ${node.profile}` : ''} failed (consumed at ${clock(node.consumedAt ?? 0)})${why}`;
}

/** What a machine boots: install, inspect, local disk, menu, or no answer at all. */
export function decide(client: ClientDescription, profile: PolicySettings, node: SettingsNode | undefined, census?: IdentityCensus): Decision {
  const settings = settingsFor(client.mac, node, profile, census);
  const macHost = profile.hosts.get(client.mac);
  const where = settings.source === 'enrolment' ? 'its enrolment' : settings.from ? `[${settings.from.replace(/^\[|\]$/g, '')}]` : '';
  const local = (reason: string): Decision => ({ action: 'local', localScript: node?.localBoot ?? 'exit', reason, settings });
  const act = settings.action === 'deploy' ? 'deploy' : 'install';
  const menu = (reason: string): Decision => ({ action: 'menu', reason, settings, ...(settings.menu ? { menu: settings.menu } : {}) });

  // The only state the lifecycle consumes: nothing else installs (src/boot/lifecycle.ts nextState).
  if (node?.state === 'install-pending') {
    const named = node.profile || settings.profile || '';
    const by =
      node.armedBy === 'admin'
        ? `reinstall flag set by admin at ${clock(node.armedAt ?? 0)}`
        : macHost
          ? `host ${client.mac} has action=${act} in ${profile.file}`
          : `${settings.reason} has action=${act}`;
    const fallback = profile.boot.defaultInstall ?? '';
    const chosen = named || fallback;
    if (!chosen) return menu(`${by}, but no profile is named: set profile in [host ${client.mac}], in the reinstall request, or [boot] default_install`);
    const what = named ? `profile ${chosen}` : `no profile named: [boot] default_install = ${chosen}`;
    if (inspectsFirst(node, settings)) {
      const inv = node.inventory;
      const why = inv ? `its inventory of ${stamp(inv.reportedAt)} is older than the arm` : 'it has not been inspected';
      return { action: 'inspect', reason: `${by}, ${what}, inspect_first = true: ${why}; inspecting, then installing`, settings };
    }
    return { action: 'install', profile: chosen, reason: `${by}, ${what}`, settings };
  }
  if (node?.state === 'installing') {
    const consumed = node.profile ?? settings.profile;
    return local(
      `${consumedWords(consumed, undefined, profile.images?.get(consumed ?? '')?.consumedAt)} at ${clock(node.consumedAt ?? 0)}; reinstall through the admin API to install again`,
    );
  }
  if (node?.state === 'deploy-failed') {
    // Never a loop: the failed deploy waits for a person, who reads the reason and re-arms it.
    return local(`${deployFailureWords(node)}; reinstall through the admin API to deploy again`);
  }
  if (node?.state === 'wipe-pending') {
    return {
      action: 'inspect',
      wipe: { by: 'admin', since: null },
      reason: `wipe armed by admin at ${clock(node.armedAt ?? 0)} (nodes release --wipe): booting the inspection agent in wipe mode`,
      settings,
    };
  }
  if (node?.state === 'wiping') {
    // Never a loop: a wipe whose agent never reported is not handed out again.
    return local(
      `wipe consumed at ${clock(node.consumedAt ?? 0)} and no result reported yet; pxe-pilot nodes release ${client.mac} to release it, --wipe to wipe again`,
    );
  }
  if (node?.state === 'installed') {
    return local(`installed at ${clock(node.installedAt ?? node.consumedAt ?? 0)}; reinstall through the admin API to install again`);
  }

  if (settings.source !== 'none' && settings.action) {
    const named = macHost ? `host ${client.mac}` : where;
    switch (settings.action) {
      case 'install':
      case 'deploy':
        // Not pending: what the settings give without the install, and why there is none.
        if (!settings.profile) return menu(`${named} has action=${act} but no profile (${settings.reason})`);
        if (node && node.armedAt !== null) {
          return menu(`${named} has action=${act}, but its install was cancelled through the admin API; re-arm it there to install`);
        }
        if (node && node.installedAt !== null) {
          return menu(`${named} has action=${act}, but it was installed at ${clock(node.installedAt)}; re-arm it through the admin API to install again`);
        }
        // An enrolment arms only when asked to (enrol --install, or the reinstall route).
        if (settings.source === 'enrolment')
          return menu(
            `${named} has action=${act}, profile ${settings.profile}, but no install is armed: enrol it with --install, or reinstall it through the admin API`,
          );
        // Only a machine not heard from yet, or a store that did not ask lifecycle.sighted when it was.
        return menu(`${named} has action=${act}, profile ${settings.profile}, but no install is armed yet: it is armed when the machine is next seen`);
      case 'local':
        return local(macHost ? `host ${client.mac} has action=local` : `${settings.reason}: action=local`);
      case 'menu':
        return menu(macHost ? `host ${client.mac} has action=menu` : `${settings.reason}: action=menu`);
      case 'inspect':
        return inspectOrAfter(node, settings, profile, macHost ? `host ${client.mac} has action=inspect` : `${settings.reason}: action=inspect`, local);
      case 'wipe': {
        // Once: a machine never armed (an enrolment: not armed since it was enrolled); never one installed.
        const since = settings.source === 'enrolment' ? (node?.enrolment?.enrolledAt ?? null) : null;
        const why = macHost ? `host ${client.mac} has action=wipe` : `${settings.reason}: action=wipe`;
        const armedAt = node?.armedAt ?? null;
        if (armedAt !== null && (since === null || armedAt >= since))
          return local(
            `${why}, but it was armed or wiped at ${clock(armedAt)}: a wipe is done once; pxe-pilot nodes release ${client.mac} --wipe to wipe it again`,
          );
        if (node?.installedAt != null)
          return local(`${why}, but it was installed at ${clock(node.installedAt)}: pxe-pilot nodes release ${client.mac} --wipe to wipe it`);
        return { action: 'inspect', wipe: { by: 'profile', since }, reason: `${why}: booting the inspection agent in wipe mode, once`, settings };
      }
    }
  }
  if (settings.source !== 'none') {
    // A rule (or enrolment) that names no action: [boot] default_action, as a [host] without one.
    return profile.boot.defaultAction === 'local' ? local(`${settings.reason}; [boot] default_action = local`) : menu(`${settings.reason}: menu`);
  }

  const passed = settings.passedOver.length ? ` (${settings.passedOver.join('; ')})` : '';
  switch (profile.boot.unknown) {
    case 'ignore':
      return { action: 'ignore', reason: `${client.mac} has no [host] section and [boot] unknown = ignore${passed}`, settings };
    case 'local':
      return local(`${client.mac} has no [host] section; [boot] unknown = local${passed}`);
    case 'inspect':
      return inspectOrAfter(node, settings, profile, `${client.mac} has ${settings.reason}; [boot] unknown = inspect${passed}`, local);
    case 'menu':
      return profile.boot.defaultAction === 'local'
        ? local(`${client.mac} has no [host] section; [boot] default_action = local${passed}`)
        : menu(`${client.mac} has no [host] section: menu, default ${profile.boot.menuDefault} after ${profile.boot.menuTimeout} s${passed}`);
  }
}

export interface BootFileDecision {
  /** 'boot': send bootFile; 'ignore': stay silent (proxy) or lease without boot fields (server). */
  action: 'boot' | 'ignore';
  /** File name for TFTP, or an http:// URL (UEFI HTTP boot and clients already running iPXE). */
  bootFile?: string;
  /** Option 60 to answer with: HTTPClient for UEFI HTTP boot, else PXEClient. */
  vendorClass?: 'PXEClient' | 'HTTPClient';
  /** Arch info used (after quirks), for events and option 43 choices. */
  arch?: ArchInfo;
  reason: string;
}

/**
 * What a DHCP or ProxyDHCP reply should point the firmware at. The per-machine
 * install/local/menu choice happens later, over HTTP, once iPXE runs; here only
 * "ignore" matters from decide().
 */
export function decideBootFile(client: ClientDescription, profile: PolicySettings, node: NodeState | undefined): BootFileDecision {
  const overall = decide(client, profile, node);
  if (overall.action === 'ignore') return { action: 'ignore', reason: overall.reason };

  const base = httpBase(profile);
  if (client.isIpxe) {
    return {
      action: 'boot',
      bootFile: `${base}/boot.ipxe`,
      vendorClass: client.vendorClass?.startsWith('HTTPClient') ? 'HTTPClient' : 'PXEClient',
      arch: archInfo(client.arch),
      reason: `already iPXE: chain to ${base}/boot.ipxe (then: ${overall.reason})`,
    };
  }

  let arch = archInfo(client.arch);
  let quirk = '';
  if (client.arch === 0 && isRaspberryPi(client.mac)) {
    arch = archInfo(11);
    quirk = 'Raspberry Pi MAC prefix sends arch 0 although it is ARM: treated as arch 11 (UEFI ARM64); ';
  }
  if (client.arch === undefined) return { action: 'ignore', reason: 'no option 93 (client architecture): not a PXE client' };
  if (!arch || !arch.bootKey) return { action: 'ignore', reason: `${quirk}${archLabel(client.arch)}: no boot file for this architecture` };
  const file = profile.boot[arch.bootKey];
  if (!file) return { action: 'ignore', reason: `${quirk}${archLabel(arch.code)}: [boot] ${arch.bootKey} is empty` };

  if (arch.http) {
    return {
      action: 'boot',
      bootFile: `${base}/ipxe/${file}`,
      vendorClass: 'HTTPClient',
      arch,
      reason: `${quirk}${archLabel(arch.code)}: UEFI HTTP boot of ${base}/ipxe/${file}`,
    };
  }
  const loader = loaderFor(client.mac, profile);
  if (loader.name !== 'ipxe') {
    const chain = signedChainFor(arch.code);
    if (chain) {
      const signed = signedBootFile(chain, loader.name);
      const then = loader.name === 'grub' ? `shim loads ${chain.grub}, which reads ${chain.prefix}/grub.cfg` : 'shim loads ipxe.efi beside it';
      return {
        action: 'boot',
        bootFile: signed,
        vendorClass: 'PXEClient',
        arch,
        reason: `${quirk}${archLabel(arch.code)}, loader = ${loader.name} (${loader.from}) → ${signed}; ${then}`,
      };
    }
    quirk += `loader = ${loader.name} (${loader.from}) has no signed chain for ${archLabel(arch.code)}: iPXE; `;
  }
  return { action: 'boot', bootFile: file, vendorClass: 'PXEClient', arch, reason: `${quirk}${archLabel(arch.code)} → ${file}` };
}

/** The loader a machine gets over PXE, and which section chose it. */
export function loaderFor(mac: string, profile: PolicySettings): { name: LoaderName; from: string } {
  const host = profile.hosts.get(mac)?.loader;
  const general = profile.boot.loader ?? 'ipxe';
  if (host) return { name: host, from: `[host ${mac}]` };
  return { name: general, from: '[boot]' };
}
