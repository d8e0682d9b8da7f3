// QEMU machines for the firmware lab: a BIOS machine (SeaBIOS + the iPXE option ROM QEMU ships)
// and a UEFI machine (OVMF with the NIC's option ROM removed, so OVMF's own PXE client boots).
// Each runs inside a lab namespace on a tap device, writes its serial console to a file, and is
// ended by its pid.
import type { ChildProcess } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NetLab } from './netns.ts';

/**
 * The firmware a lab machine runs. `uefi` is OVMF's own IPv4 PXE client; `uefi-secureboot` the
 * same with Secure Boot on and Microsoft's keys enrolled; `uefi-http` OVMF's HTTP boot client
 * first (PXE off); `arm64` AAVMF on an emulated ARM64 `virt` machine.
 */
export type Firmware = 'bios' | 'uefi' | 'uefi-secureboot' | 'uefi-http' | 'arm64';

export const qemuBinary = 'qemu-system-x86_64';
export const qemuArm64Binary = 'qemu-system-aarch64';
export const ovmfCode = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const ovmfVars = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const ovmfSecureBootCode = '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd';
/** Variables with Microsoft's keys enrolled and Secure Boot on. */
export const ovmfSecureBootVars = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';
export const aavmfCode = '/usr/share/AAVMF/AAVMF_CODE.fd';
export const aavmfVars = '/usr/share/AAVMF/AAVMF_VARS.fd';

/** The QEMU binary each firmware runs under. */
export const firmwareBinary: Record<Firmware, string> = {
  bios: qemuBinary,
  uefi: qemuBinary,
  'uefi-secureboot': qemuBinary,
  'uefi-http': qemuBinary,
  arm64: qemuArm64Binary,
};

/** What each firmware needs on this host (for skipUnless). */
export const firmwareFiles: Record<Firmware, string[]> = {
  bios: ['/usr/share/seabios/bios-256k.bin', '/usr/lib/ipxe/qemu/efi-virtio.rom'],
  uefi: [ovmfCode, ovmfVars],
  'uefi-secureboot': [ovmfSecureBootCode, ovmfSecureBootVars],
  'uefi-http': [ovmfCode, ovmfVars],
  arm64: [aavmfCode, aavmfVars],
};

/** The variable store each UEFI firmware starts from (copied fresh for every machine). */
const varsTemplate: Partial<Record<Firmware, string>> = {
  uefi: ovmfVars,
  'uefi-secureboot': ovmfSecureBootVars,
  'uefi-http': ovmfVars,
  arm64: aavmfVars,
};

/** Whether the firmware is UEFI (OVMF or AAVMF). */
export function isUefi(firmware: Firmware): boolean {
  return firmware !== 'bios';
}

// OVMF and AAVMF print the same boot manager lines.
const uefiPxeMovedOn = /BdsDxe: (?:loading|starting) Boot[0-9A-F]{4} "(?!UEFI PXE)|BdsDxe: failed to load Boot[0-9A-F]{4} "UEFI PXE/;
const uefiHttpMovedOn = /BdsDxe: (?:loading|starting) Boot[0-9A-F]{4} "(?!UEFI HTTP)|BdsDxe: failed to load Boot[0-9A-F]{4} "UEFI HTTP/;

/**
 * Serial output showing the firmware gave up on the network and went on to its next boot
 * device: SeaBIOS walks floppy, CD and disk; OVMF gives up on its PXE (or HTTP) entry or starts
 * one that is not PXE (or HTTP).
 */
export const firmwareMovedOn: Record<Firmware, RegExp> = {
  bios: /Booting from (?:Floppy|DVD\/CD|Hard Disk)|No bootable device/,
  uefi: uefiPxeMovedOn,
  'uefi-secureboot': uefiPxeMovedOn,
  'uefi-http': uefiHttpMovedOn,
  arm64: uefiPxeMovedOn,
};

export interface MachineSpec {
  name: string;
  firmware: Firmware;
  /** Lower-case colon form. */
  mac: string;
  /** Tap device (already on the lab bridge) in namespace `ns`. */
  tap: string;
  ns: string;
  /** Directory for the serial log and the UEFI variable store. */
  workDir: string;
  memoryMiB?: number;
  /** SMBIOS type 1 serial number the stand-in reports in its DMI fields. */
  serial?: string;
  /** SMBIOS type 1 UUID (also what iPXE sees as ${uuid}). */
  uuid?: string;
  /** SMBIOS type 1 in full (replaces `serial`'s product): what an inspection must read back. */
  smbios?: { manufacturer: string; product: string; serial: string; uuid: string };
  /** Disks (raw files), each with the serial its controller reports. */
  disks?: { file: string; serial: string; bus: 'virtio' | 'nvme' }[];
  /** More NICs, each on its own tap (already on a bridge) in `ns`; they do not boot. */
  moreNics?: { mac: string; tap: string }[];
}

/** Command line for one machine. Pure, so the tests can read what a machine is. */
export function qemuArgs(spec: MachineSpec, serialLog: string, varsFile: string): string[] {
  const nic = ['virtio-net-pci', 'netdev=n0', `mac=${spec.mac}`, 'bootindex=1'];
  // romfile= (empty) removes iPXE from the NIC so the firmware's own PXE/HTTP client does the first step.
  if (isUefi(spec.firmware)) nic.push('romfile=');
  const args = [
    '-name',
    spec.name,
    '-m',
    String(spec.memoryMiB ?? 512),
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${serialLog}`,
    '-no-reboot',
    // TCG: KVM here runs the guests but they stay silent (nested virtualisation), and CI may have none.
    '-accel',
    'tcg',
    '-netdev',
    `tap,id=n0,ifname=${spec.tap},script=no,downscript=no`,
    '-device',
    nic.join(','),
  ];
  (spec.moreNics ?? []).forEach((n, i) => {
    args.push('-netdev', `tap,id=n${i + 1},ifname=${n.tap},script=no,downscript=no`, '-device', `e1000,netdev=n${i + 1},mac=${n.mac}`);
  });
  (spec.disks ?? []).forEach((d, i) => {
    args.push(
      '-drive',
      `file=${d.file},if=none,id=disk${i},format=raw`,
      '-device',
      // After the NIC in the boot order, as a rack machine is set up: OVMF drops from its boot
      // order any device the fw_cfg order leaves out, so a disk without an index never boots.
      `${d.bus === 'nvme' ? 'nvme' : 'virtio-blk-pci'},drive=disk${i},serial=${d.serial},bootindex=${i + 2}`,
    );
  });
  if (spec.uuid) args.push('-uuid', spec.uuid);
  if (spec.smbios) {
    const { manufacturer, product, serial, uuid } = spec.smbios;
    // QEMU's option syntax: a comma inside a value is written twice.
    const v = (x: string): string => x.replace(/,/g, ',,');
    args.push('-smbios', `type=1,manufacturer=${v(manufacturer)},product=${v(product)},serial=${v(serial)},uuid=${uuid}`);
  } else if (spec.serial) args.push('-smbios', `type=1,serial=${spec.serial},product=pxe-pilot-lab`);
  args.push(...firmwareArgs(spec.firmware, varsFile));
  return args;
}

/** The machine, firmware and boot-order arguments of one firmware. */
function firmwareArgs(firmware: Firmware, varsFile: string): string[] {
  const pflash = (code: string): string[] => ['-drive', `if=pflash,format=raw,readonly=on,file=${code}`, '-drive', `if=pflash,format=raw,file=${varsFile}`];
  switch (firmware) {
    case 'bios':
      // graphics=off makes SeaBIOS (and the iPXE ROM, through it) print on the serial port.
      return ['-machine', 'pc,graphics=off', '-boot', 'n'];
    case 'uefi':
      return [
        '-machine',
        'q35',
        ...pflash(ovmfCode),
        // Only IPv4 PXE: OVMF would otherwise try PXEv6 and HTTP boot first or after, each with long timeouts.
        '-fw_cfg',
        'name=opt/org.tianocore/IPv6PXESupport,string=n',
        '-fw_cfg',
        'name=opt/org.tianocore/IPv4PXESupport,string=y',
      ];
    case 'uefi-secureboot':
      // SMM and a secure flash are what keep the Secure Boot variables out of the OS's reach; OVMF's secboot build needs them.
      return [
        '-machine',
        'q35,smm=on',
        '-global',
        'driver=cfi.pflash01,property=secure,value=on',
        '-global',
        'ICH9-LPC.disable_s3=1',
        ...pflash(ovmfSecureBootCode),
        '-fw_cfg',
        'name=opt/org.tianocore/IPv6PXESupport,string=n',
        '-fw_cfg',
        'name=opt/org.tianocore/IPv4PXESupport,string=y',
      ];
    case 'uefi-http':
      // PXE off, IPv6 off: HTTPv4 becomes OVMF's first network boot entry.
      return [
        '-machine',
        'q35',
        ...pflash(ovmfCode),
        '-fw_cfg',
        'name=opt/org.tianocore/IPv4PXESupport,string=n',
        '-fw_cfg',
        'name=opt/org.tianocore/IPv6Support,string=n',
      ];
    case 'arm64':
      return ['-machine', 'virt', '-cpu', 'max', '-smp', '2', ...pflash(aavmfCode)];
  }
}

export class Machine {
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly spec: MachineSpec,
    readonly serialLog: string,
    readonly child: ChildProcess,
    private readonly lab: NetLab,
    readonly startedAt: number,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  async serial(): Promise<string> {
    if (!existsSync(this.serialLog)) return '';
    return (await readFile(this.serialLog, 'utf8')).replace(/\r/g, '');
  }

  /**
   * Waits until the serial log matches; fails early when QEMU exits first or `failOn` shows up,
   * with the log's tail in the message so a failed boot says where it stopped.
   */
  async waitForSerial(what: string, pattern: RegExp | string, timeoutMs: number, failOn?: { what: string; pattern: RegExp }): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    const matches = (text: string): boolean => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
    for (;;) {
      const text = await this.serial();
      if (matches(text)) return text;
      const failed = failOn?.pattern.test(text) ?? false;
      if (failed || !this.running || Date.now() > deadline) {
        const why = failed ? failOn?.what : this.running ? `not within ${Math.round(timeoutMs / 1000)} s` : `QEMU exited (${this.exitCode}) first`;
        throw new Error(`${this.spec.name}: ${what}: ${why}. Serial log ${this.serialLog} ends with:\n${tail(text, 25)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Waits for QEMU to exit by itself (the stand-in powers off); kills it by pid on timeout. */
  async waitForPowerOff(timeoutMs: number): Promise<void> {
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exited, timer]);
    if (result === 'timeout') {
      const text = await this.serial();
      await this.stop();
      throw new Error(`${this.spec.name}: did not power off within ${Math.round(timeoutMs / 1000)} s. Serial log ends with:\n${tail(text, 25)}`);
    }
  }

  async stop(): Promise<void> {
    await this.lab.stop(this.child, 2000);
  }
}

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Starts a machine; the lab tracks its pid, so lab.destroy() ends it even after a failed assertion. */
export async function startMachine(lab: NetLab, spec: MachineSpec): Promise<Machine> {
  const serialLog = join(spec.workDir, `${spec.name}.serial.log`);
  const varsFile = join(spec.workDir, `${spec.name}.OVMF_VARS.fd`);
  // A fresh copy of the variable store each time: no boot entries left from an earlier run.
  const template = varsTemplate[spec.firmware];
  if (template) await copyFile(template, varsFile);
  const child = lab.spawn(spec.ns, [firmwareBinary[spec.firmware], ...qemuArgs(spec, serialLog, varsFile)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const machine = new Machine(spec, serialLog, child, lab, Date.now());
  void machine.exited.then((code) => {
    if (code !== 0 && stderr) process.stderr.write(`${spec.name}: qemu exited ${code}: ${stderr}\n`);
  });
  return machine;
}
