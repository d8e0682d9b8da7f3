// Debian's real network installer in the firmware lab, set up as a user would: the folder of the
// debian-installer-12-netboot-amd64 package added with `pxe-pilot assets add`, a [host] whose
// profile is that image, and a preseed in answers/preseed/hosts/<mac>.cfg whose early_command
// reports through the webhook and powers the machine off (the lab has no mirror to install from).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { addAssetWithCli } from './standin-iso.ts';
import { PxePilot, renderIni, type HostSection } from './daemon.ts';
import { startMachine, type Firmware, type Machine } from './qemu.ts';
import { lan } from './lab-addresses.ts';
import { adminToken, lanNs, pilotBase, pilotHttpPort, type BootLab } from '../e2e/lab.ts';

/** Where the package puts the netboot tree (text flavour: it speaks on a serial console). */
export const debianNetbootTree = '/usr/lib/debian-installer/images/12/amd64/text';
export const debianInstallerFiles = ['linux', 'initrd.gz'].map((f) => join(debianNetbootTree, 'debian-installer', 'amd64', f));
/** The profile `assets add` names the package's image: product debian, version from version.info. */
export const debianProfile = 'debian/12';

export interface DebianHost {
  mac: string;
  hostname: string;
  /** The host's [host] loader: grub for Debian's signed shim → GRUB chain (Secure Boot); empty: [boot] loader (iPXE). */
  loader?: 'grub';
  /** The boot mode its webhook report names; default: efi with the grub loader, else bios. */
  bootMode?: 'bios' | 'efi';
}

/**
 * The preseed a user writes for one machine. early_command runs as soon as d-i has read it,
 * with the installer's own GNU wget: it reports through the post-installation webhook (the
 * minimal body the webhook takes from any installer), then powers off.
 */
export function preseedFor(host: DebianHost): string {
  const bootMode = host.bootMode ?? (host.loader === 'grub' ? 'efi' : 'bios');
  const report = JSON.stringify({
    fqdn: `${host.hostname}.lab.example`,
    'network-interfaces': [{ mac: '{{mac}}' }],
    'boot-info': { mode: bootMode },
    product: { short: 'debian', version: '12' },
  });
  return [
    '# written by the pxe-pilot e2e lab',
    'd-i debian-installer/locale string en_US.UTF-8',
    'd-i keyboard-configuration/xkb-keymap select us',
    'd-i netcfg/choose_interface select auto',
    'd-i netcfg/get_hostname string {{hostname}}',
    'd-i netcfg/get_domain string lab.example',
    `d-i preseed/early_command string wget -q -O /dev/null --header 'Content-Type: application/json' --post-data '${report}' '{{server}}/webhook/proxmox' && echo 'pxe-pilot-lab: early_command reported'; poweroff -f || echo o > /proc/sysrq-trigger`,
    '',
  ].join('\n');
}

/**
 * [dhcp] for a lab LAN that d-i boots on: server mode with a name server and a router, since d-i
 * stops to ask for either when DHCP gives none (even at priority critical); nothing need answer.
 */
export function debianDhcpSection(dns: string, router: string): Record<string, string | number> {
  return { mode: 'server', range_start: lan.rangeStart, range_end: lan.rangeEnd, netmask: lan.netmask, lease_time: 600, dns, router };
}

export interface DebianPilotSetup {
  hosts: DebianHost[];
  /** [dhcp] dns; an address inside the lab (nothing need answer there: d-i only has to be given one). */
  dns: string;
  /** [dhcp] router; without one d-i asks "Continue without a default route?". */
  router: string;
}

/**
 * pxe-pilot in server mode on the lab bridge with the package's image added by `assets add`,
 * each host armed (action = install, profile debian/12) with its preseed.
 */
export async function startDebianPilot(lab: BootLab, setup: DebianPilotSetup): Promise<PxePilot> {
  const answers = lab.path('answers');
  const assets = lab.path('assets');
  await mkdir(join(answers, 'preseed', 'hosts'), { recursive: true });
  await mkdir(assets, { recursive: true });
  await mkdir(lab.path('state'), { recursive: true });
  for (const host of setup.hosts) await writeFile(join(answers, 'preseed', 'hosts', `${host.mac.replace(/:/g, '-')}.cfg`), preseedFor(host));
  const hosts: HostSection[] = setup.hosts.map((h) => {
    const section: HostSection & { loader?: string } = {
      mac: h.mac,
      hostname: h.hostname,
      action: 'install',
      profile: debianProfile,
      // Added to the image's own line: d-i's screens on the serial log, for a failure message.
      cmdline: 'console=ttyS0',
      ...(h.loader ? { loader: h.loader } : {}),
    };
    return section;
  });
  const spec = {
    sections: {
      server: { address: lan.server, interface: lan.bridge, state_dir: lab.path('state'), log_level: 'debug' },
      http: { port: pilotHttpPort, bind: '0.0.0.0', admin_token: adminToken },
      // d-i's preseed fetch cannot check pxe-pilot's self-signed certificate: plain HTTP on a lab VLAN.
      https: { enabled: false },
      tftp: { enabled: true, port: 69, root: '/usr/lib/ipxe' },
      dhcp: debianDhcpSection(setup.dns, setup.router),
      boot: { bios: 'undionly.kpxe', uefi_x64: 'snponly.efi', default_action: 'menu', unknown: 'menu', menu_default: 'local', menu_timeout: 3 },
      answers: { dir: answers },
      assets: { dir: assets },
    },
    hosts,
  };
  const configFile = lab.path('pxe-pilot.ini');
  await writeFile(configFile, renderIni(spec));
  // What a Debian user does: the package's folder, as it is.
  await addAssetWithCli(debianNetbootTree, configFile);
  return PxePilot.start(lab.net, lanNs, { configFile, baseUrl: pilotBase, adminToken, spec });
}

let taps = 0;

/** A QEMU machine on its own tap on the lab bridge, with room for d-i (the lab's default is 512 MiB). */
export async function bootDebianMachine(lab: BootLab, req: { name: string; firmware: Firmware; mac: string; memoryMiB: number }): Promise<Machine> {
  taps += 1;
  const tap = `tapdi${taps}`;
  await lab.net.addTap(lanNs, tap, lan.bridge);
  const machine = await startMachine(lab.net, { ...req, tap, ns: lanNs, workDir: lab.workDir });
  lab.machines.push(machine);
  return machine;
}
