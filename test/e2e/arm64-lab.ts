// The ARM64 lab, shared by test/e2e/arm64.test.ts and arm64-secureboot.full.test.ts: pxe-pilot
// as the DHCP server on the lab bridge with the arm64 stand-in as an install image (console on
// ttyAMA0), and an AAVMF machine with Secure Boot on. Everything stays inside the lab's namespaces.
import { copyFile, link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { aavmfCode, firmwareFiles, Machine, qemuArgs, qemuArm64Binary, type MachineSpec } from '../helpers/qemu.ts';
import { standinConsole, standinTools, type Standin } from '../helpers/standin.ts';
import { PxePilot, type HostSection } from '../helpers/daemon.ts';
import { adminToken, answerFor, BootLab, defaultAnswer, lan, lanNs, pilotBase, pilotHttpPort, type InstallHost } from './lab.ts';

/** Debian's netboot installer for arm64 (debian-installer-12-netboot-arm64): its signed shim and GRUB. */
const debianInstallerArm64 = '/usr/lib/debian-installer/images/12/arm64/text/debian-installer/arm64';
/** What an ARM64 lab needs on this host. */
export const arm64LabNeeds = [
  'root',
  qemuArm64Binary,
  'curl',
  ...standinTools,
  ...firmwareFiles.arm64,
  `${debianInstallerArm64}/bootnetaa64.efi`,
  `${debianInstallerArm64}/grubaa64.efi`,
];

/** false, or why the ARM64 lab cannot run here (in CI: an error). */
export function arm64LabSkip(): false | string {
  return skipUnless(arm64LabNeeds);
}

/** The arm64 stand-in, published like the x86-64 one, as a Proxmox VE version. */
export const arm64Profile = 'proxmox-ve/9.1-standin-arm64';

/** A [host] section with the loader key (loader = grub comes from [boot]). */
export type ArmHost = HostSection & { loader?: 'ipxe' | 'grub' };

/** Hard link when possible, else a copy: pxe-pilot serves no symlinks. */
async function place(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

export interface ArmPilotSetup {
  standin: Standin;
  /** Machines armed for install, each with its own answer file. */
  installHosts: InstallHost[];
  /** Machines pxe-pilot knows, booting the menu. */
  otherHosts: ArmHost[];
  boot?: Record<string, string | number>;
  /** The image's kernel arguments (default: the ARM64 console, quiet). */
  cmdline?: string;
}

/** pxe-pilot as the DHCP server on the lab bridge, with the arm64 stand-in as an install image. */
export async function startArmPilot(lab: BootLab, setup: ArmPilotSetup): Promise<PxePilot> {
  const answers = lab.path('answers');
  const imageDir = join(lab.path('assets'), ...arm64Profile.split('/'));
  await mkdir(join(answers, 'hosts'), { recursive: true });
  await mkdir(imageDir, { recursive: true });
  await mkdir(lab.path('state'), { recursive: true });
  await place(setup.standin.kernel, join(imageDir, 'vmlinuz'));
  await place(setup.standin.initrd, join(imageDir, 'initrd'));
  await writeFile(join(imageDir, 'cmdline'), `${setup.cmdline ?? `console=${standinConsole.arm64} quiet`}\n`);
  for (const host of setup.installHosts) await writeFile(join(answers, 'hosts', `${host.mac.replace(/:/g, '-')}.toml`), answerFor(host));
  await writeFile(join(answers, 'default.toml'), defaultAnswer);
  const spec = {
    sections: {
      server: { address: lan.server, interface: lan.bridge, state_dir: lab.path('state'), log_level: 'debug' },
      http: { port: pilotHttpPort, bind: '0.0.0.0', admin_token: adminToken },
      https: { enabled: false },
      tftp: { enabled: true, port: 69, root: '/usr/lib/ipxe' },
      dhcp: { mode: 'server', range_start: lan.rangeStart, range_end: lan.rangeEnd, netmask: lan.netmask, lease_time: 600 },
      boot: { default_action: 'menu', unknown: 'menu', menu_default: 'local', menu_timeout: 3, ...setup.boot },
      answers: { dir: answers },
      assets: { dir: lab.path('assets') },
    },
    hosts: [...setup.installHosts.map((h): ArmHost => ({ mac: h.mac, hostname: h.hostname, action: 'install', profile: arm64Profile })), ...setup.otherHosts],
  };
  return PxePilot.start(lab.net, lanNs, { configFile: lab.path('pxe-pilot.ini'), baseUrl: pilotBase, adminToken, spec });
}

/** Debian's AAVMF with Microsoft's keys enrolled and Secure Boot on (qemu-efi-aarch64). */
export const aavmfSecureBootCode = '/usr/share/AAVMF/AAVMF_CODE.ms.fd';
export const aavmfSecureBootVars = '/usr/share/AAVMF/AAVMF_VARS.ms.fd';

/**
 * An arm64 machine on its own tap whose firmware enforces Secure Boot: the lab's arm64 machine
 * (test/helpers/qemu.ts) with the .ms firmware and a fresh copy of its variable store. ArmVirtQemu
 * keeps its variables in plain flash (no SMM), so nothing else changes.
 */
export async function startSecureBootArm64(lab: BootLab, name: string, mac: string, tap: string): Promise<Machine> {
  await lab.net.addTap(lanNs, tap, lan.bridge);
  const spec: MachineSpec = { name, firmware: 'arm64', mac, tap, ns: lanNs, workDir: lab.workDir };
  const serialLog = lab.path(`${name}.serial.log`);
  const varsFile = lab.path(`${name}.AAVMF_VARS.ms.fd`);
  await copyFile(aavmfSecureBootVars, varsFile);
  const codeDrive = `if=pflash,format=raw,readonly=on,file=${aavmfCode}`;
  const args = qemuArgs(spec, serialLog, varsFile);
  if (!args.includes(codeDrive)) throw new Error(`the arm64 machine no longer loads ${aavmfCode} as its code flash`);
  const child = lab.net.spawn(
    lanNs,
    [qemuArm64Binary, ...args.map((a) => (a === codeDrive ? `if=pflash,format=raw,readonly=on,file=${aavmfSecureBootCode}` : a))],
    {
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  return new Machine(spec, serialLog, child, lab.net, Date.now());
}
