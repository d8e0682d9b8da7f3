// What changed between two inventories of one machine, in words for the event log: disks added,
// removed or replaced (matched by serial, else by name), memory, CPUs, NICs (by MAC) and the
// system's identity. Pure; the same two documents always give the same list, in a fixed order.
import type { Disk, Inventory, Nic } from './inventory.ts';

function diskLabel(d: Disk): string {
  return d.serial ? `disk ${d.name} (serial ${d.serial})` : `disk ${d.name}`;
}

/** A disk's identity: its serial when it has one (a disk can move to another name), else its name. */
function diskKey(d: Disk): string {
  return d.serial ? `serial:${d.serial}` : `name:${d.name}`;
}

function shown(value: string | number | null): string {
  return value === null ? 'none' : String(value);
}

function diskChanges(before: Disk[], after: Disk[]): string[] {
  const out: string[] = [];
  const was = new Map(before.map((d) => [diskKey(d), d]));
  const now = new Map(after.map((d) => [diskKey(d), d]));
  const removed = before.filter((d) => !now.has(diskKey(d)));
  const added = after.filter((d) => !was.has(diskKey(d)));
  // A disk gone and another arrived under the same name: one replaced by the other.
  for (const gone of [...removed]) {
    const successor = added.find((d) => d.name === gone.name);
    if (!successor) continue;
    removed.splice(removed.indexOf(gone), 1);
    added.splice(added.indexOf(successor), 1);
    out.push(`${diskLabel(gone)} replaced by serial ${shown(successor.serial)} (${successor.sizeBytes} bytes)`);
  }
  for (const d of removed) out.push(`${diskLabel(d)} removed`);
  for (const d of added) out.push(`${diskLabel(d)} added (${d.sizeBytes} bytes)`);
  for (const d of after) {
    const old = was.get(diskKey(d));
    if (old && old.sizeBytes !== d.sizeBytes) out.push(`${diskLabel(d)} size ${old.sizeBytes} → ${d.sizeBytes} bytes`);
  }
  return out;
}

function nicChanges(before: Nic[], after: Nic[]): string[] {
  const out: string[] = [];
  const was = new Set(before.map((n) => n.mac));
  const now = new Set(after.map((n) => n.mac));
  for (const n of before) if (!now.has(n.mac)) out.push(`NIC ${n.name} (${n.mac}) removed`);
  for (const n of after) if (!was.has(n.mac)) out.push(`NIC ${n.name} (${n.mac}) added`);
  return out;
}

/** Every difference that matters to an operator, in a fixed order; empty when none. */
export function inventoryChanges(before: Inventory, after: Inventory): string[] {
  const out: string[] = [];
  const sys = (key: 'vendor' | 'product' | 'serial' | 'uuid', label: string): void => {
    const a = before.system[key];
    const b = after.system[key];
    if (a !== b) out.push(`system ${label} ${shown(a)} → ${shown(b)}`);
  };
  sys('vendor', 'vendor');
  sys('product', 'product');
  sys('serial', 'serial');
  sys('uuid', 'UUID');
  out.push(...diskChanges(before.disks, after.disks));
  if (before.memory.totalBytes !== after.memory.totalBytes) out.push(`memory ${shown(before.memory.totalBytes)} → ${shown(after.memory.totalBytes)} bytes`);
  const dimms = (inv: Inventory): number => inv.memory.dimms.length;
  if (dimms(before) !== dimms(after)) out.push(`DIMMs ${dimms(before)} → ${dimms(after)}`);
  const cpu = (inv: Inventory): string => `${shown(inv.cpus.sockets)} sockets, ${shown(inv.cpus.cores)} cores, ${shown(inv.cpus.threads)} threads`;
  if (cpu(before) !== cpu(after)) out.push(`CPUs ${cpu(before)} → ${cpu(after)}`);
  if (before.cpus.model !== after.cpus.model) out.push(`CPU model ${shown(before.cpus.model)} → ${shown(after.cpus.model)}`);
  out.push(...nicChanges(before.nics, after.nics));
  if (before.boot.mode !== after.boot.mode) out.push(`boot mode ${before.boot.mode} → ${after.boot.mode}`);
  return out;
}
