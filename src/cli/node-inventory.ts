// How `pxe-pilot nodes show` prints what the agent reported and the enrolment, from the API's
// JSON (GET /nodes/<mac>). Sizes are bytes, as stored; disks and NICs are tables.
import type { Inventory } from '../agent/inventory.ts';
import type { Enrolment } from '../boot/ports.ts';
import { describeNetworkKeys } from '../deploy/network-keys.ts';
import { relativeTime, table, type Style } from './format.ts';

const s = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

/** The enrolment lines ("-" when none). */
export function describeEnrolment(e: Enrolment | null | undefined): string[] {
  if (!e) return ['  enrolment   -'];
  const what = `${e.action}${e.profile ? ` ${e.profile}` : ''} as ${s(e.hostname)}`;
  const lines = [`  enrolment   ${what}${e.bmc ? `, BMC ${e.bmc}` : ''} (by ${e.enrolledBy}, ${relativeTime(new Date(e.enrolledAt).toISOString())})`];
  if (e.createBmcUser) {
    const when = e.bmcUser ? relativeTime(new Date(e.bmcUser.at).toISOString()) : '';
    const state = !e.bmcUser
      ? 'asked: the inspection agent creates it at its next poll'
      : e.bmcUser.error
        ? `failed ${when}: ${e.bmcUser.error}`
        : `created ${when}`;
    lines.push(`  bmc user    ${state}`);
  }
  // What a deploy seeds (docs/deploy.md), one key a line as a [host] would have it.
  for (const line of [...describeNetworkKeys(e.network ?? {}), ...(e.installDisk ? [`install_disk = ${e.installDisk}`] : [])])
    lines.push(`              ${line}`);
  return lines;
}

/** The inventory: identity, CPUs and memory as lines, then disks and NICs as tables. */
export function describeInventory(inventory: { document: Inventory; reportedAt: number; session: string } | null | undefined, style: Style): string[] {
  if (!inventory) return ['  inventory   - (never inspected)'];
  const inv = inventory.document;
  const sys = inv.system;
  const lines = [
    `  inventory   reported ${relativeTime(new Date(inventory.reportedAt).toISOString())} (agent session ${inventory.session})`,
    `  system      ${s(sys.vendor)} ${s(sys.product)}, serial ${s(sys.serial)}, UUID ${s(sys.uuid)}`,
    `  boot        ${inv.boot.mode}, Secure Boot ${inv.boot.secureBoot === null ? 'unknown' : inv.boot.secureBoot ? 'on' : 'off'}`,
    `  CPUs        ${s(inv.cpus.model)}: ${s(inv.cpus.sockets)} sockets, ${s(inv.cpus.cores)} cores, ${s(inv.cpus.threads)} threads`,
    `  memory      ${s(inv.memory.totalBytes)} bytes${inv.memory.dimms.length ? ` in ${inv.memory.dimms.length} DIMMs` : ''}`,
  ];
  if (inv.bmc) lines.push(`  BMC         ${s(inv.bmc.ip)} (${s(inv.bmc.mac)})`);
  if (inv.disks.length) {
    lines.push(
      '',
      table(
        ['DISK', 'BYTES', 'MODEL', 'SERIAL', 'TRANSPORT', 'ROTATIONAL'],
        inv.disks.map((d) => [d.name, String(d.sizeBytes), s(d.model), s(d.serial), d.transport, s(d.rotational)]),
        style,
      ).trimEnd(),
    );
  }
  if (inv.nics.length) {
    lines.push(
      '',
      table(
        ['NIC', 'MAC', 'DRIVER', 'LINK', 'MBIT/S', 'SWITCH', 'PORT'],
        inv.nics.map((n) => [n.name, n.mac, s(n.driver), n.link, s(n.speedMbps), s(n.lldp?.systemName ?? n.lldp?.chassisId), s(n.lldp?.portId)]),
        style,
      ).trimEnd(),
    );
  }
  const missing = [...inv.missing.drivers.map((d) => `no driver for ${d.kind} device ${d.pciAddress}`), ...inv.missing.firmware.map((f) => `no firmware ${f}`)];
  if (missing.length) lines.push('', ...missing.map((m) => `  missing     ${m}`));
  return lines;
}
