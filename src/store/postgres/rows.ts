// Rows of the PostgreSQL tables and the records of src/boot/ports.ts they become.
import type { NodeRecord, SightingFacts } from '../../boot/ports.ts';
import { blankNode, installFromRow, nodeFromRow, type NodeRow } from '../records.ts';

export type { InstallRow, NodeRow } from '../records.ts';

/** PostgreSQL hands install_report back as parsed jsonb. */
export function toNode(row: NodeRow): NodeRecord {
  return nodeFromRow(row, row.install_report);
}

export const toInstall = installFromRow;

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
  return overlayTouch(blankNode(t.mac, t.now), t);
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
