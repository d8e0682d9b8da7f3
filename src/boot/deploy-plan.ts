// What the agent writes, where: the plan of a disk image deploy, from the image's facts, the
// machine's inventory and its install_disk. Pure; the reason says why this disk, or why none.
import type { Inventory } from '../agent/inventory.ts';
import type { DiskImage } from './catalogue.ts';
import { chooseInstallDisk, fixedDisks, formatInstallDisk, type InstallDiskChoice } from './rules.ts';

export interface DeployPlan {
  /** The image file, plain http under /assets/ (the agent's busybox speaks no TLS). */
  url: string;
  sha256: string;
  compressedBytes: number;
  sizeBytes: number;
  compression: DiskImage['compression'];
  /** The block device the agent writes, e.g. /dev/vdb. */
  device: string;
  reason: string;
}

export type PlanResult = { ok: true; plan: DeployPlan } | { ok: false; reason: string };

/** Bytes as a person reads them at a glance: "2.0 GiB". */
export function sizeShort(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Bytes as a person reads them, exact in bytes too: "2.0 GiB (2147483648 bytes)". */
export function sizeWords(bytes: number): string {
  const short = sizeShort(bytes);
  return short.endsWith(' bytes') ? short : `${short} (${bytes} bytes)`;
}

/**
 * The disk `image` goes on: install_disk when set (it must still hold the image), else the smallest
 * non-removable disk at least as large as the image. `plainBase`: http://server:port, no TLS.
 */
export function deployPlan(image: DiskImage, inventory: Inventory | null, choice: InstallDiskChoice | null, plainBase: string): PlanResult {
  if (!inventory) return { ok: false, reason: `deploying ${image.profile} needs the machine's inventory, and none is stored` };
  const need = sizeWords(image.sizeBytes);
  let disk;
  let why: string;
  if (choice) {
    const chosen = chooseInstallDisk(choice, inventory);
    if (!chosen.ok) return { ok: false, reason: chosen.reason };
    disk = chosen.disk;
    if (disk.sizeBytes < image.sizeBytes)
      return {
        ok: false,
        reason: `install_disk = ${formatInstallDisk(choice)} chose ${disk.name} of ${sizeWords(disk.sizeBytes)}, smaller than ${image.profile} (${need}): nothing written`,
      };
    why = chosen.reason;
  } else {
    const disks = fixedDisks(inventory);
    const fitting = disks.filter((d) => d.sizeBytes >= image.sizeBytes).sort((a, b) => a.sizeBytes - b.sizeBytes);
    disk = fitting[0];
    if (!disk) {
      const listed = disks.length ? disks.map((d) => `${d.name} ${sizeWords(d.sizeBytes)}`).join(', ') : 'none listed';
      return { ok: false, reason: `no non-removable disk holds ${image.profile} (${need}): ${listed}; nothing written` };
    }
    why = `${disk.name} (${sizeWords(disk.sizeBytes)}) is the smallest non-removable disk that holds ${image.profile} (${need})`;
  }
  const url = `${plainBase}/assets/${image.path.split('/').map(encodeURIComponent).join('/')}`;
  return {
    ok: true,
    plan: {
      url,
      sha256: image.sha256,
      compressedBytes: image.compressedBytes,
      sizeBytes: image.sizeBytes,
      compression: image.compression,
      device: `/dev/${disk.name}`,
      reason: why,
    },
  };
}
