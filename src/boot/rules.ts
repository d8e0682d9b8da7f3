// [rule NAME] sections as data, and whether one matches a machine's inventory, with the reason.
// Pure. The conditions come from the inventory only (docs/inventory.md): a machine never
// inspected matches no rule, and the reason says so.
import type { Disk, Inventory } from '../agent/inventory.ts';
import type { NetworkKeys } from '../deploy/network-keys.ts';
import { compare, formatComparison, globMatches, parseGlob, type Comparison, type Glob } from './match.ts';

export const RULE_ACTIONS = ['install', 'deploy', 'local', 'menu', 'inspect', 'wipe'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];

export interface RuleConditions {
  vendor?: Glob;
  product?: Glob;
  serial?: Glob;
  cpuThreads?: Comparison;
  memoryGb?: Comparison;
  diskCount?: Comparison;
  diskModel?: Glob;
  nicSpeedGbps?: Comparison;
  lldpSwitch?: Glob;
  lldpPort?: Glob;
}

export type InstallDiskChoice = { kind: 'smallest-ssd' } | { kind: 'largest' } | { kind: 'serial'; serial: string } | { kind: 'model'; glob: Glob };

/** What a rule gives the machines it matches; absent: the rule says nothing about it. */
export interface RuleSettings {
  action?: RuleAction;
  profile?: string;
  /** A template over the inventory, e.g. {{system.product_short}}-{{system.serial}}. */
  hostname?: string;
  installDisk?: InstallDiskChoice;
  menu?: string;
  /** The deployed system's net_dns, net_bond, net_vlan, net_mtu as written (never an address: one per machine). */
  network?: NetworkKeys;
}

export interface RuleSpec extends RuleSettings {
  name: string;
  /** The file the section is in (the main profile, or an included file). */
  file: string;
  when: RuleConditions;
}

/** A [menu NAME] section: the images (profile names or globs over them) its machines see. */
export interface MenuSpec {
  name: string;
  entries: Glob[];
  /** The entry taken after the timeout: local, shell or a profile name; empty: [boot] menu_default. */
  default: string;
  /** The file (or --set flag) that wrote `default`, for check-config's messages; absent: the profile's file. */
  defaultFrom?: string;
}

const GIB = 1024 ** 3;

/** Disks an operating system could be installed on: not removable (USB sticks, card readers). */
export function fixedDisks(inventory: Inventory): Disk[] {
  return inventory.disks.filter((d) => d.removable !== true);
}

/** Installed memory in GiB: the DIMMs' sum where DMI lists them, else what the kernel sees, to 0.1. */
export function memoryGb(inventory: Inventory): number | null {
  const dimms = inventory.memory.dimms.reduce((sum, d) => sum + d.sizeBytes, 0);
  const bytes = dimms > 0 ? dimms : inventory.memory.totalBytes;
  return bytes === null ? null : Math.round((bytes / GIB) * 10) / 10;
}

type Check = { ok: true; said: string } | { ok: false; said: string };

function globCheck(key: string, glob: Glob, values: (string | null)[], what: string): Check {
  const hit = values.find((v) => globMatches(glob, v));
  if (hit !== undefined) return { ok: true, said: `${key} ${JSON.stringify(hit)} matches ${glob.source}` };
  const shown = values.filter((v) => v !== null);
  if (shown.length === 0) return { ok: false, said: `${key}: the inventory has no ${what}` };
  return { ok: false, said: `${key}: ${shown.map((v) => JSON.stringify(v)).join(', ')} ${shown.length === 1 ? 'does' : 'do'} not match ${glob.source}` };
}

function numberCheck(key: string, c: Comparison, values: (number | null)[], what: string): Check {
  const hit = values.find((v) => compare(c, v));
  if (hit !== undefined && hit !== null) return { ok: true, said: `${key} ${hit} ${formatComparison(c)}` };
  const shown = values.filter((v) => v !== null);
  if (shown.length === 0) return { ok: false, said: `${key}: the inventory has no ${what}` };
  return { ok: false, said: `${key} ${shown.join(', ')} is not ${formatComparison(c)}` };
}

/** Every condition of the rule, in the order the INI documents them. */
function checks(when: RuleConditions, inv: Inventory): Check[] {
  const disks = fixedDisks(inv);
  const lldp = inv.nics.map((n) => n.lldp).filter((l) => l !== null);
  const out: Check[] = [];
  if (when.vendor) out.push(globCheck('vendor', when.vendor, [inv.system.vendor], 'system vendor'));
  if (when.product) out.push(globCheck('product', when.product, [inv.system.product], 'system product'));
  if (when.serial) out.push(globCheck('serial', when.serial, [inv.system.serial], 'system serial'));
  if (when.cpuThreads) out.push(numberCheck('cpu_threads', when.cpuThreads, [inv.cpus.threads], 'CPU thread count'));
  if (when.memoryGb) out.push(numberCheck('memory_gb', when.memoryGb, [memoryGb(inv)], 'memory size'));
  if (when.diskCount) out.push(numberCheck('disk_count', when.diskCount, [disks.length], 'disks'));
  if (when.diskModel) out.push(globCheck('disk_model', when.diskModel, disks.length ? disks.map((d) => d.model) : [], 'disk model'));
  if (when.nicSpeedGbps)
    out.push(
      numberCheck(
        'nic_speed_gbps',
        when.nicSpeedGbps,
        inv.nics.map((n) => (n.speedMbps === null ? null : n.speedMbps / 1000)),
        'NIC speed',
      ),
    );
  if (when.lldpSwitch)
    out.push(
      globCheck(
        'lldp_switch',
        when.lldpSwitch,
        lldp.map((l) => l.systemName ?? l.chassisId),
        'LLDP neighbour',
      ),
    );
  if (when.lldpPort)
    out.push(
      globCheck(
        'lldp_port',
        when.lldpPort,
        lldp.flatMap((l) => [l.portId, l.portDescription]),
        'LLDP neighbour port',
      ),
    );
  return out;
}

export type RuleMatch = { matched: true; reason: string } | { matched: false; reason: string };

/** Whether every condition of `rule` holds for the inventory; the reason names each condition checked, or the first that failed. */
export function matchRule(rule: RuleSpec, inventory: Inventory | null): RuleMatch {
  if (!inventory) return { matched: false, reason: `[rule ${rule.name}]: the machine has not been inspected (rules match on its inventory)` };
  const results = checks(rule.when, inventory);
  const failed = results.find((r) => !r.ok);
  if (failed) return { matched: false, reason: `[rule ${rule.name}]: ${failed.said}` };
  return { matched: true, reason: `[rule ${rule.name}] matches: ${results.map((r) => r.said).join(', ')}` };
}

export type DiskChoice = { ok: true; disk: Disk; path: string; reason: string } | { ok: false; reason: string };

function sizeText(bytes: number): string {
  return bytes >= GIB ? `${Math.round((bytes / GIB) * 10) / 10} GiB` : `${bytes} bytes`;
}

function chosen(disk: Disk, why: string): DiskChoice {
  return {
    ok: true,
    disk,
    path: `/dev/${disk.name}`,
    reason: `install_disk: /dev/${disk.name} (${sizeText(disk.sizeBytes)}, ${disk.model ?? 'no model'}): ${why}`,
  };
}

/** The disk an install goes on, among the non-removable disks; the reason when none fits. */
export function chooseInstallDisk(choice: InstallDiskChoice, inventory: Inventory | null): DiskChoice {
  if (!inventory) return { ok: false, reason: 'install_disk needs an inventory, and the machine has not been inspected' };
  const disks = fixedDisks(inventory);
  if (disks.length === 0) return { ok: false, reason: 'install_disk: the inventory lists no non-removable disk' };
  // Ties go to the first listed, so the choice is the same for the same inventory.
  const by = (better: (a: Disk, b: Disk) => boolean, list: Disk[]): Disk => list.reduce((best, d) => (better(d, best) ? d : best));
  switch (choice.kind) {
    case 'smallest-ssd': {
      const ssds = disks.filter((d) => d.rotational === false);
      if (ssds.length === 0)
        return { ok: false, reason: `install_disk = smallest-ssd: none of ${disks.map((d) => d.name).join(', ')} is known to be non-rotational` };
      return chosen(
        by((a, b) => a.sizeBytes < b.sizeBytes, ssds),
        'the smallest non-rotational disk',
      );
    }
    case 'largest':
      return chosen(
        by((a, b) => a.sizeBytes > b.sizeBytes, disks),
        'the largest disk',
      );
    case 'serial': {
      const disk = disks.find((d) => d.serial !== null && d.serial.trim().toLowerCase() === choice.serial.toLowerCase());
      if (!disk)
        return {
          ok: false,
          reason: `install_disk = serial:${choice.serial}: no disk has that serial (${disks.map((d) => `${d.name} ${d.serial ?? 'no serial'}`).join(', ')})`,
        };
      return chosen(disk, `serial ${choice.serial}`);
    }
    case 'model': {
      const disk = disks.find((d) => globMatches(choice.glob, d.model));
      if (!disk)
        return {
          ok: false,
          reason: `install_disk = model:${choice.glob.source}: no disk model matches (${disks.map((d) => `${d.name} ${d.model ?? 'no model'}`).join(', ')})`,
        };
      return chosen(disk, `the first disk whose model matches ${choice.glob.source}`);
    }
  }
}

/** install_disk as written in a [rule], a [host] or an enrolment: smallest-ssd | largest | serial:X | model:GLOB. */
export function parseInstallDisk(written: string): { ok: true; choice: InstallDiskChoice } | { ok: false; problem: string } {
  const v = written.trim();
  if (v === 'smallest-ssd' || v === 'largest') return { ok: true, choice: { kind: v } };
  const m = /^(serial|model):(.+)$/.exec(v);
  if (m?.[1] === 'serial') return { ok: true, choice: { kind: 'serial', serial: m[2]!.trim() } };
  if (m?.[1] === 'model') {
    const glob = parseGlob(m[2]!);
    return glob.ok ? { ok: true, choice: { kind: 'model', glob: glob.glob } } : { ok: false, problem: glob.problem };
  }
  return { ok: false, problem: 'expected smallest-ssd, largest, serial:<disk serial> or model:<glob>' };
}

export function formatInstallDisk(choice: InstallDiskChoice): string {
  switch (choice.kind) {
    case 'smallest-ssd':
    case 'largest':
      return choice.kind;
    case 'serial':
      return `serial:${choice.serial}`;
    case 'model':
      return `model:${choice.glob.source}`;
  }
}

/**
 * The product as a host name part: lower-case words of the product name, the vendor's name
 * dropped, joined with "-", only a-z 0-9 and "-", at most 24 characters. "PowerEdge R650" → "poweredge-r650".
 */
export function productShort(vendor: string | null, product: string | null): string | null {
  if (!product) return null;
  const vendorWords = new Set(
    (vendor ?? '')
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean),
  );
  const words = product
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '' && !vendorWords.has(w));
  const short = words.join('-').slice(0, 24).replace(/-+$/, '');
  return short === '' ? null : short;
}
