// Release wipe (issue 26): what the agent reports of its wipe (POST /agent/<mac>/wipe-result),
// checked field by field, and what it means for the machine: every disk cleared, or the disks that
// were not and why. Pure.

/** How a disk was cleared (agent/wipe): signatures erased, and discarded where the device can. */
export const WIPE_METHODS = ['wipefs+discard', 'wipefs', 'zeroed', 'none'] as const;
export type WipeMethod = (typeof WIPE_METHODS)[number];

export interface WipedDisk {
  name: string;
  sizeBytes: number;
  cleared: WipeMethod;
  ok: boolean;
  /** Why it failed, or a note; '' when there is nothing to say. */
  reason: string;
}

export interface WipeReport {
  disks: WipedDisk[];
}

/** The most disks one report may list (a wipe report is a few hundred bytes per disk). */
export const MAX_WIPED_DISKS = 256;
const DISK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type WipeParse = { ok: true; report: WipeReport } | { ok: false; field: string; problem: string };

/** The agent's wipe report, or the first wrong field (`disks[1].ok`) and what it must be. */
export function parseWipeReport(value: unknown): WipeParse {
  const no = (field: string, problem: string): WipeParse => ({ ok: false, field, problem: `${field} ${problem}` });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return no('(body)', 'must be a JSON object {"disks": [...]}');
  const disks = (value as Record<string, unknown>).disks;
  if (!Array.isArray(disks)) return no('disks', 'must be a list of {"name", "sizeBytes", "cleared", "ok", "reason"}');
  if (disks.length > MAX_WIPED_DISKS) return no('disks', `lists ${disks.length} disks, more than ${MAX_WIPED_DISKS}`);
  const out: WipedDisk[] = [];
  for (const [i, raw] of disks.entries()) {
    const at = `disks[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return no(at, 'must be an object');
    const d = raw as Record<string, unknown>;
    if (typeof d.name !== 'string' || !DISK_NAME.test(d.name)) return no(`${at}.name`, 'must be a block device name such as sda or nvme0n1');
    if (typeof d.sizeBytes !== 'number' || !Number.isSafeInteger(d.sizeBytes) || d.sizeBytes < 0)
      return no(`${at}.sizeBytes`, 'must be a whole number of 0 or more');
    if (typeof d.cleared !== 'string' || !(WIPE_METHODS as readonly string[]).includes(d.cleared))
      return no(`${at}.cleared`, `must be one of ${WIPE_METHODS.join(', ')}`);
    if (typeof d.ok !== 'boolean') return no(`${at}.ok`, 'must be true or false');
    if (d.reason !== undefined && d.reason !== null && typeof d.reason !== 'string') return no(`${at}.reason`, 'must be a string');
    const reason = typeof d.reason === 'string' ? d.reason.slice(0, 300) : '';
    if (!d.ok && !reason) return no(`${at}.reason`, 'must say why the disk was not cleared');
    out.push({ name: d.name, sizeBytes: d.sizeBytes, cleared: d.cleared as WipeMethod, ok: d.ok, reason });
  }
  return { ok: true, report: { disks: out } };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/**
 * What the report says of the machine: ok when every disk was cleared; the reason names each disk
 * and how, or, when some failed, only those and why (what a person reads in explain and nodes show).
 */
export function wipeOutcome(report: WipeReport): { ok: boolean; reason: string } {
  if (report.disks.length === 0) return { ok: true, reason: 'no non-removable disk to wipe' };
  const failed = report.disks.filter((d) => !d.ok);
  if (failed.length) return { ok: false, reason: failed.map((d) => `${d.name} (${gib(d.sizeBytes)}) not cleared: ${d.reason}`).join('; ') };
  return { ok: true, reason: report.disks.map((d) => `${d.name} (${gib(d.sizeBytes)}) ${d.cleared}`).join(', ') };
}
