// What a person does with a machine in the lab, as functions the tests and the demo share:
// power it on and let it install, or power it on and watch the firmware move past the network.
import { answerFromSerial, standinSays } from '../helpers/standin.ts';
import { firmwareMovedOn, tail, type Machine } from '../helpers/qemu.ts';
import type { BootLab, MachineRequest } from './lab.ts';

export interface InstallRun {
  machine: Machine;
  serial: string;
  /** The answer TOML the stand-in printed, or null. */
  answer: string | null;
  /** Power on to power off. */
  seconds: number;
}

/** Powers the machine on and waits until the stand-in has installed and powered off. */
export async function bootAndInstall(lab: BootLab, req: MachineRequest, timeoutMs: number): Promise<InstallRun> {
  const machine = await lab.bootMachine(req);
  await machine.waitForSerial('reach the installer stand-in', standinSays.init, timeoutMs, {
    what: 'the firmware gave up on the network boot and went on to its next boot device',
    pattern: firmwareMovedOn[req.firmware],
  });
  await machine.waitForPowerOff(Math.max(30_000, timeoutMs - (Date.now() - machine.startedAt)));
  const serial = await machine.serial();
  return { machine, serial, answer: answerFromSerial(serial), seconds: (Date.now() - machine.startedAt) / 1000 };
}

export interface LocalBootRun {
  machine: Machine;
  serial: string;
  seconds: number;
}

/**
 * Powers the machine on and waits until its firmware gives up on the network and tries the
 * next boot device (what `exit` from iPXE means); then ends QEMU, since the lab has no disk.
 */
export async function bootToLocalDisk(lab: BootLab, req: MachineRequest, timeoutMs: number): Promise<LocalBootRun> {
  const machine = await lab.bootMachine(req);
  try {
    const serial = await machine.waitForSerial('return to the firmware and try the next boot device', firmwareMovedOn[req.firmware], timeoutMs);
    return { machine, serial, seconds: (Date.now() - machine.startedAt) / 1000 };
  } finally {
    await machine.stop();
  }
}

/**
 * Waits until an installer powers the machine off by itself (QEMU exits); fails, with the
 * serial's tail, when the firmware moves past the network instead or time runs out.
 */
export async function waitForInstallerPowerOff(machine: Machine, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (machine.running) {
    const serial = await machine.serial();
    const late = Date.now() > deadline;
    if (late || firmwareMovedOn[machine.spec.firmware].test(serial)) {
      await machine.stop();
      throw new Error(
        `${machine.spec.name}: ${late ? 'did not power off in time' : 'the firmware went past the network'}; serial ends with:\n${tail(plainSerial(serial), 30)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Serial text without the terminal control sequences iPXE and the firmware draw with. */
export function plainSerial(serial: string): string {
  return serial.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '').replace(/[\b]/g, '');
}
