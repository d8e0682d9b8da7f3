// Rows of the PostgreSQL tables, the records of src/boot/ports.ts they become, and the batched
// statements the write queue (queue.ts) runs.
import type { NodeRecord, SightingFacts } from '../../boot/ports.ts';
import { installFromRow, nodeFromRow, type NodeRow } from '../records.ts';

export type { InstallRow, NodeRow } from '../records.ts';

/** PostgreSQL hands install_report back as parsed jsonb. */
export function toNode(row: NodeRow): NodeRecord {
  return nodeFromRow(row, { installReport: row.install_report, inventory: row.inventory, enrolment: row.enrolment });
}

export const toInstall = installFromRow;

/** Last-seen facts learnt of a machine at `now`, as queued for the table. */
export interface Touch {
  mac: string;
  now: number;
  facts: SightingFacts;
}

/** Touches as the JSON array TOUCH_SQL reads (a fact not learnt is absent: NULL, the known value kept). */
export function touchesJson(touches: Iterable<Touch>): string {
  return JSON.stringify([...touches].map((t) => ({ mac: t.mac, now: t.now, ...t.facts })));
}

// Batched writes: one statement for many rows, from a JSON array.
export const TOUCH_SQL = `UPDATE nodes n SET last_seen = GREATEST(n.last_seen, t.now), last_ip = COALESCE(t.ip, n.last_ip), arch = COALESCE(t.arch, n.arch),
    firmware = COALESCE(t.firmware, n.firmware), uuid = COALESCE(t.uuid, n.uuid), serial = COALESCE(t.serial, n.serial), hostname = COALESCE(t.hostname, n.hostname)
  FROM jsonb_to_recordset($1::jsonb) AS t(mac text, now bigint, ip text, arch integer, firmware text, uuid text, serial text, hostname text)
  WHERE n.mac = t.mac`;

export const INSERT_NODE_SQL = `INSERT INTO nodes (mac, hostname, state, first_seen, last_seen, last_ip, arch, firmware, uuid, serial)
  VALUES ($1, $2, 'seen', $3, $3, $4, $5, $6, $7, $8) ON CONFLICT (mac) DO NOTHING RETURNING mac`;

export function insertNodeArgs(t: Touch): unknown[] {
  const f = t.facts;
  return [t.mac, f.hostname ?? null, t.now, f.ip ?? null, f.arch ?? null, f.firmware ?? null, f.uuid ?? null, f.serial ?? null];
}

/** Guarded: a node armed or installed in the meantime (by any appliance) is kept. */
export const EVICT_SQL =
  "DELETE FROM nodes WHERE mac = ANY($1::text[]) AND state = 'seen' AND installed_at IS NULL AND armed_at IS NULL AND inventory IS NULL AND enrolment IS NULL";

export const INSERT_EVENTS_SQL = `INSERT INTO events (time, appliance, mac, protocol, kind, decision, reason, detail, code)
  SELECT e.time, $2, e.mac, e.protocol, e.kind, e.decision, e.reason, e.detail, e.code
  FROM jsonb_to_recordset($1::jsonb) AS e(time bigint, mac text, protocol text, kind text, decision text, reason text, detail jsonb, code text)`;
