// Which kernel modules the agent image carries: the drivers real servers need (and QEMU's), with
// everything they depend on according to the kernel's own modules.dep. Pure: the builder reads
// the files and runs depmod.

/** Storage controllers and disks. */
export const STORAGE_MODULES = [
  'ahci',
  'nvme',
  'virtio_blk',
  'virtio_scsi',
  'sd_mod',
  'megaraid_sas',
  'mpt3sas',
  'smartpqi',
  'hpsa',
  // Older boards' IDE mode (and QEMU's i440fx).
  'ata_piix',
  // USB disks (the "usb" transport) and the host controllers they hang off.
  'usb_storage',
  'uas',
  'xhci_pci',
  'ehci_pci',
] as const;

/** Network controllers; e1000 is QEMU's default NIC. */
export const NETWORK_MODULES = ['e1000e', 'igb', 'ixgbe', 'i40e', 'ice', 'tg3', 'bnx2x', 'qede', 'bnxt_en', 'mlx5_core', 'virtio_net', 'e1000'] as const;

/** The BMC, and the UEFI variables (Secure Boot state); virtio_pci is the bus QEMU's virtio devices sit on. */
export const PLATFORM_MODULES = ['ipmi_si', 'ipmi_devintf', 'efivarfs', 'virtio_pci'] as const;

/**
 * The root filesystems of deployed images, mounted to write the cloud-init seed (modules in
 * Debian's kernel), and the crc32c the metadata checksums of both need: the kernel asks for it by
 * its crypto alias, which modules.dep does not list.
 */
export const FILESYSTEM_MODULES = ['ext4', 'xfs', 'crc32c_generic'] as const;

export const WANTED_MODULES: readonly string[] = [...STORAGE_MODULES, ...NETWORK_MODULES, ...PLATFORM_MODULES, ...FILESYSTEM_MODULES];

/** The name modprobe knows a module by: file name without .ko[.xz|.zst|.gz], '-' as '_'. */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

/** modules.dep: `kernel/a/b.ko: kernel/c.ko kernel/d.ko` → path → its dependencies' paths. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const path = line.slice(0, colon).trim();
    if (!path) continue;
    deps.set(
      path,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  return deps;
}

export interface ModuleSelection {
  /** Module paths (relative to /lib/modules/<release>), the wanted ones and all they depend on, sorted. */
  paths: string[];
  /** Wanted names built into the kernel: nothing to carry. */
  builtin: string[];
  /** Wanted names the kernel has neither as a module nor built in. */
  unknown: string[];
}

/** The wanted modules and their dependency closure; `builtin` lists the paths of modules.builtin. */
export function selectModules(wanted: readonly string[], deps: Map<string, string[]>, builtin: readonly string[] = []): ModuleSelection {
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(moduleName(path), path);
  const builtinNames = new Set(builtin.map(moduleName));
  const chosen = new Set<string>();
  const result: ModuleSelection = { paths: [], builtin: [], unknown: [] };
  const visit = (path: string): void => {
    if (chosen.has(path)) return;
    chosen.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
  };
  for (const raw of wanted) {
    const name = raw.replace(/-/g, '_');
    const path = byName.get(name);
    if (path !== undefined) visit(path);
    else if (builtinNames.has(name)) result.builtin.push(name);
    else result.unknown.push(name);
  }
  result.paths = [...chosen].sort();
  return result;
}
