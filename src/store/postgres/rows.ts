// Rows of the PostgreSQL tables and the records of src/boot/ports.ts they become.
import type { NodeLifecycle } from '../../boot/lifecycle.ts';
import type { InstallRecord, NodeRecord, SightingFacts } from '../../boot/ports.ts';

export interface NodeRow {
  mac: string;
  hostname: string | null;
  state: NodeLifecycle;
  profile: string | null;
  local_boot: string | null;
  armed_at: number | null;
  armed_by: 'profile' | 'admin' | null;
  consumed_at: number | null;
  installed_at: number | null;
  first_seen: number;
  last_seen: number;
  last_ip: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  fqdn: string | null;
  boot_mode: string | null;
  install_report: unknown;
}

export interface InstallRow {
  id: number;
  mac: string;
  profile: string | null;
  armed_at: number | null;
  armed_by: string | null;
  consumed_at: number | null;
  installed_at: number | null;
  fqdn: string | null;
}

export function toNode(row: NodeRow): NodeRecord {
  return {
    mac: row.mac,
    hostname: row.hostname,
    state: row.state,
    profile: row.profile,
    localBoot: row.local_boot,
    armedAt: row.armed_at,
    armedBy: row.armed_by,
    consumedAt: row.consumed_at,
    installedAt: row.installed_at,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    lastIp: row.last_ip,
    arch: row.arch,
    firmware: row.firmware,
    uuid: row.uuid,
    serial: row.serial,
    fqdn: row.fqdn,
    bootMode: row.boot_mode,
    installReport: row.install_report ?? null,
  };
}

export function toInstall(r: InstallRow): InstallRecord {
  return {
    id: r.id,
    mac: r.mac,
    profile: r.profile,
    armedAt: r.armed_at,
    armedBy: r.armed_by,
    consumedAt: r.consumed_at,
    installedAt: r.installed_at,
    fqdn: r.fqdn,
  };
}

/** A sighting as written: every fact present, null where not learnt (JSON for jsonb_to_recordset). */
export interface Touch {
  mac: string;
  now: number;
  ip: string | null;
  arch: number | null;
  firmware: string | null;
  uuid: string | null;
  serial: string | null;
  hostname: string | null;
}

export function toTouch(mac: string, now: number, facts: SightingFacts): Touch {
  return {
    mac,
    now,
    ip: facts.ip ?? null,
    arch: facts.arch ?? null,
    firmware: facts.firmware ?? null,
    uuid: facts.uuid ?? null,
    serial: facts.serial ?? null,
    hostname: facts.hostname ?? null,
  };
}

export function mergeTouch(a: Touch, b: Touch): Touch {
  return {
    mac: a.mac,
    now: b.now,
    ip: b.ip ?? a.ip,
    arch: b.arch ?? a.arch,
    firmware: b.firmware ?? a.firmware,
    uuid: b.uuid ?? a.uuid,
    serial: b.serial ?? a.serial,
    hostname: b.hostname ?? a.hostname,
  };
}

/** The node as the mirror shows it once the sighting is applied. */
export function overlayTouch(node: NodeRecord, t: Touch): NodeRecord {
  return {
    ...node,
    lastSeen: t.now,
    lastIp: t.ip ?? node.lastIp,
    arch: t.arch ?? node.arch,
    firmware: t.firmware ?? node.firmware,
    uuid: t.uuid ?? node.uuid,
    serial: t.serial ?? node.serial,
    hostname: t.hostname ?? node.hostname,
  };
}

export function newNode(t: Touch): NodeRecord {
  return overlayTouch(
    {
      mac: t.mac,
      hostname: null,
      state: 'seen',
      profile: null,
      localBoot: null,
      armedAt: null,
      armedBy: null,
      consumedAt: null,
      installedAt: null,
      firstSeen: t.now,
      lastSeen: t.now,
      lastIp: null,
      arch: null,
      firmware: null,
      uuid: null,
      serial: null,
      fqdn: null,
      bootMode: null,
      installReport: null,
    },
    t,
  );
}

// Batched writes: one statement for many rows, from a JSON array.
export const TOUCH_SQL = `UPDATE nodes n SET last_seen = GREATEST(n.last_seen, t.now), last_ip = COALESCE(t.ip, n.last_ip), arch = COALESCE(t.arch, n.arch),
    firmware = COALESCE(t.firmware, n.firmware), uuid = COALESCE(t.uuid, n.uuid), serial = COALESCE(t.serial, n.serial), hostname = COALESCE(t.hostname, n.hostname)
  FROM jsonb_to_recordset($1::jsonb) AS t(mac text, now bigint, ip text, arch integer, firmware text, uuid text, serial text, hostname text)
  WHERE n.mac = t.mac`;

export const INSERT_NODE_SQL = `INSERT INTO nodes (mac, hostname, state, first_seen, last_seen, last_ip, arch, firmware, uuid, serial)
  VALUES ($1, $2, 'seen', $3, $3, $4, $5, $6, $7, $8) ON CONFLICT (mac) DO NOTHING RETURNING mac`;

export function insertNodeArgs(t: Touch): unknown[] {
  return [t.mac, t.hostname, t.now, t.ip, t.arch, t.firmware, t.uuid, t.serial];
}

export const INSERT_EVENTS_SQL = `INSERT INTO events (time, appliance, mac, protocol, kind, decision, reason, detail, code)
  SELECT e.time, $2, e.mac, e.protocol, e.kind, e.decision, e.reason, e.detail, e.code
  FROM jsonb_to_recordset($1::jsonb) AS e(time bigint, mac text, protocol text, kind text, decision text, reason text, detail jsonb, code text)`;
