// The one boot policy. Pure: (client, profile, node state) → decision with a reason.
// Every protocol asks here; none decides on its own what a machine boots.
import { httpBase, type ServerAddress } from './urls.ts';
import { archInfo, archLabel, isRaspberryPi, type ArchInfo, type ClientDescription } from './client.ts';
import type { NodeState } from './lifecycle.ts';
import { consumedWords } from './products.ts';
import { signedBootFile, signedChainFor, type LoaderName } from './loaders.ts';

export type BootAction = 'install' | 'local' | 'menu' | 'ignore';

/**
 * What the policy reads of the profile. src/config's Profile satisfies it; the policy names only
 * what it uses, so src/boot depends on nothing above it.
 */
export interface PolicySettings extends ServerAddress {
  /** The profile file, named in reasons. */
  file: string;
  hosts: ReadonlyMap<string, { action: 'install' | 'local' | 'menu'; profile: string; loader?: LoaderName | '' }>;
  /** Remote images ([image] sections) by name: when their install is consumed, for the words. */
  images?: ReadonlyMap<string, { consumedAt: 'script' | 'answer' }>;
  boot: Record<NonNullable<ArchInfo['bootKey']>, string> & {
    unknown: 'menu' | 'local' | 'ignore';
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
  reason: string;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** What a machine boots: install, local disk, menu, or no answer at all. */
export function decide(client: ClientDescription, profile: PolicySettings, node: NodeState | undefined): Decision {
  const host = profile.hosts.get(client.mac);
  const local = (reason: string): Decision => ({ action: 'local', localScript: node?.localBoot ?? 'exit', reason });

  // The only state the lifecycle consumes: nothing else installs (src/boot/lifecycle.ts nextState).
  if (node?.state === 'install-pending') {
    const named = node.profile || host?.profile || '';
    const by =
      node.armedBy === 'admin' ? `reinstall flag set by admin at ${clock(node.armedAt ?? 0)}` : `host ${client.mac} has action=install in ${profile.file}`;
    const fallback = profile.boot.defaultInstall ?? '';
    if (!named && fallback) return { action: 'install', profile: fallback, reason: `${by}, no profile named: [boot] default_install = ${fallback}` };
    if (!named)
      return {
        action: 'menu',
        reason: `${by}, but no profile is named: set profile in [host ${client.mac}], in the reinstall request, or [boot] default_install`,
      };
    return { action: 'install', profile: named, reason: `${by}, profile ${named}` };
  }
  if (node?.state === 'installing') {
    const consumed = node.profile ?? host?.profile;
    return local(
      `${consumedWords(consumed, undefined, profile.images?.get(consumed ?? '')?.consumedAt)} at ${clock(node.consumedAt ?? 0)}; reinstall through the admin API to install again`,
    );
  }
  if (node?.state === 'installed') {
    return local(`installed at ${clock(node.installedAt ?? node.consumedAt ?? 0)}; reinstall through the admin API to install again`);
  }

  if (host) {
    switch (host.action) {
      case 'install':
        // Not pending: what the [host] gives without the install, and why there is none.
        if (!host.profile) return { action: 'menu', reason: `host ${client.mac} has action=install but no profile in ${profile.file}` };
        if (node && node.armedAt !== null) {
          return {
            action: 'menu',
            reason: `host ${client.mac} has action=install, but its install was cancelled through the admin API; re-arm it there to install`,
          };
        }
        if (node && node.installedAt !== null) {
          return {
            action: 'menu',
            reason: `host ${client.mac} has action=install, but it was installed at ${clock(node.installedAt)}; re-arm it through the admin API to install again`,
          };
        }
        // Only a machine not heard from yet, or a store that did not ask lifecycle.sighted when it was.
        return {
          action: 'menu',
          reason: `host ${client.mac} has action=install, profile ${host.profile}, but no install is armed yet: it is armed when the machine is next seen`,
        };
      case 'local':
        return local(`host ${client.mac} has action=local`);
      case 'menu':
        return { action: 'menu', reason: `host ${client.mac} has action=menu` };
    }
  }

  switch (profile.boot.unknown) {
    case 'ignore':
      return { action: 'ignore', reason: `${client.mac} has no [host] section and [boot] unknown = ignore` };
    case 'local':
      return local(`${client.mac} has no [host] section; [boot] unknown = local`);
    case 'menu':
      return profile.boot.defaultAction === 'local'
        ? local(`${client.mac} has no [host] section; [boot] default_action = local`)
        : { action: 'menu', reason: `${client.mac} has no [host] section: menu, default ${profile.boot.menuDefault} after ${profile.boot.menuTimeout} s` };
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
