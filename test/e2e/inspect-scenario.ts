// An unknown machine inspected in the firmware lab: QEMU with a known SMBIOS identity, a virtio-blk
// and an NVMe disk with serials and two NICs boots the real agent, which reports and powers off;
// then the inventory pxe-pilot stored (GET /nodes/<mac>) is compared with what QEMU was given.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { PxePilot } from '../helpers/daemon.ts';
import { firmwareMovedOn, type Firmware, type Machine } from '../helpers/qemu.ts';
import type { Inventory } from '../../src/agent/inventory.ts';
import type { BootLab } from './lab.ts';
import { plainSerial } from './scenarios.ts';

export interface InspectedMachine {
  name: string;
  firmware: Firmware;
  /** The NIC it boots from, and its second NIC. */
  mac: string;
  secondMac: string;
  smbios: { manufacturer: string; product: string; serial: string; uuid: string };
  disks: { bus: 'virtio' | 'nvme'; serial: string; sizeBytes: number }[];
}

/** What the agent printed of its own timings, in ms (see agent/init). */
export interface AgentTimings {
  kernelToInit: number;
  collected: number;
  posted: number;
}

export interface InspectRun {
  machine: Machine;
  serial: string;
  inventory: Inventory;
  /** Power-on (QEMU started) to the inventory stored (its reportedAt). */
  storedAfterSeconds: number;
  timings: AgentTimings | null;
  node: Record<string, unknown>;
}

interface NodeView {
  inventory?: { document: Inventory; reportedAt: number; session: string } | null;
  [key: string]: unknown;
}

export async function inspectUnknownMachine(lab: BootLab, pilot: PxePilot, m: InspectedMachine, timeoutMs: number): Promise<InspectRun> {
  const disks = m.disks.map((d, i) => {
    const file = lab.path(`${m.name}-disk${i}.img`);
    execFileSync('truncate', ['-s', String(d.sizeBytes), file]);
    return { file, serial: d.serial, bus: d.bus };
  });
  const machine = await lab.bootMachine({ name: m.name, firmware: m.firmware, mac: m.mac, moreNicMacs: [m.secondMac], smbios: m.smbios, disks });
  try {
    await machine.waitForSerial('boot the inspection agent', /pxe-pilot-agent: \/init started/, timeoutMs, {
      what: 'the firmware gave up on the network boot and went on to its next boot device',
      pattern: firmwareMovedOn[m.firmware],
    });
    await machine.waitForPowerOff(Math.max(60_000, timeoutMs - (Date.now() - machine.startedAt)));
  } finally {
    await machine.stop();
  }
  const serial = plainSerial(await machine.serial());
  const r = await pilot.admin<NodeView>(`/nodes/${m.mac}`);
  assert.equal(r.status, 200, `GET /nodes/${m.mac}: ${r.text.slice(0, 500)}`);
  const stored = r.body?.inventory;
  assert.ok(stored, `no inventory stored for ${m.mac}; the agent said:\n${agentLines(serial)}\nGET /nodes: ${r.text.slice(0, 1500)}`);
  const t = /timings \(ms after \/init started, itself (\d+) ms after the kernel\): .*collected=(\d+) posted=(\d+)/.exec(serial);
  return {
    machine,
    serial,
    inventory: stored.document,
    storedAfterSeconds: (stored.reportedAt - machine.startedAt) / 1000,
    timings: t ? { kernelToInit: Number(t[1]), collected: Number(t[2]), posted: Number(t[3]) } : null,
    node: r.body as Record<string, unknown>,
  };
}

export function agentLines(serial: string): string {
  return serial
    .split('\n')
    .filter((l) => l.includes('pxe-pilot-agent:'))
    .join('\n');
}

/** The stored inventory holds what QEMU was given. */
export function assertInventoryIsMachine(inv: Inventory, m: InspectedMachine, boot: Inventory['boot']): void {
  assert.equal(inv.system.vendor, m.smbios.manufacturer);
  assert.equal(inv.system.product, m.smbios.product);
  assert.equal(inv.system.serial, m.smbios.serial);
  // QEMU stores the UUID's first three fields little-endian (SMBIOS 2.6+); the normal form reads back as given.
  assert.equal(inv.system.uuid, m.smbios.uuid);
  assert.deepEqual(inv.boot, boot);
  const disks = inv.disks
    .filter((d) => d.transport === 'virtio' || d.transport === 'nvme')
    .map((d) => ({ bus: d.transport, serial: d.serial, sizeBytes: d.sizeBytes }))
    .sort((a, b) => a.sizeBytes - b.sizeBytes);
  assert.deepEqual(
    disks,
    [...m.disks].sort((a, b) => a.sizeBytes - b.sizeBytes),
  );
  assert.equal(inv.disks.find((d) => d.transport === 'nvme')?.model, 'QEMU NVMe Ctrl');
  assert.deepEqual(inv.nics.map((n) => n.mac).sort(), [m.mac, m.secondMac].sort());
  assert.deepEqual(inv.missing.drivers, [], 'every QEMU NIC and disk controller has its driver');
}

/** One line for the closing note's figures. */
export function reportFigures(label: string, run: InspectRun): void {
  const t = run.timings;
  process.stderr.write(
    `inspection, ${label} (TCG): power-on to inventory stored ${run.storedAfterSeconds.toFixed(1)} s; ` +
      (t
        ? `kernel to /init ${(t.kernelToInit / 1000).toFixed(1)} s; the agent's own running time ${(t.posted / 1000).toFixed(1)} s to the post (facts collected at ${(t.collected / 1000).toFixed(1)} s)\n`
        : 'the agent printed no timings\n') +
      agentLines(run.serial) +
      '\n',
  );
}
