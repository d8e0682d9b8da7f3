// How a node, an install record and an event are spelt as table rows, the same in SQLite and
// PostgreSQL (the column names of schema version 1).
import type { EventProtocol, ReasonCode } from '../boot/events.ts';
import type { NodeLifecycle } from '../boot/lifecycle.ts';
import type { Enrolment, InstallRecord, NodeInventory, NodeRecord, StoredEvent } from '../boot/ports.ts';
import type { Inventory } from '../agent/inventory.ts';

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
  /** JSON text in SQLite, a parsed jsonb value in PostgreSQL: each store reads its own. */
  install_report: unknown;
  /** The inventory document (JSON text in SQLite, jsonb in PostgreSQL), when and in which agent session it came. */
  inventory: unknown;
  inventory_at: number | null;
  inventory_session: string | null;
  /** The enrolment (JSON text in SQLite, jsonb in PostgreSQL). */
  enrolment: unknown;
}

/** A row's JSON columns, decoded by the store that read it. */
export interface DecodedColumns {
  installReport: unknown;
  inventory: unknown;
  enrolment: unknown;
}

/** The inventory of a row: all three columns, or none. */
export function inventoryOf(row: NodeRow, document: unknown): NodeInventory | null {
  if (document === null || document === undefined || row.inventory_at === null || row.inventory_session === null) return null;
  // Written by setInventory from a parsed document.
  return { document: document as Inventory, reportedAt: Number(row.inventory_at), session: row.inventory_session };
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

/** The record of a row; its JSON columns as the store decoded them. */
export function nodeFromRow(row: NodeRow, decoded: DecodedColumns): NodeRecord {
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
    installReport: decoded.installReport ?? null,
    inventory: inventoryOf(row, decoded.inventory),
    // Written by setEnrolment from a validated enrolment.
    enrolment: (decoded.enrolment ?? null) as Enrolment | null,
  };
}

/** The inventory and enrolment of a record as row columns, JSON as text (SQLite; PostgreSQL casts the text to jsonb). */
export function inventoryColumns(n: NodeRecord): Pick<NodeRow, 'inventory' | 'inventory_at' | 'inventory_session' | 'enrolment'> {
  return {
    inventory: n.inventory ? JSON.stringify(n.inventory.document) : null,
    inventory_at: n.inventory?.reportedAt ?? null,
    inventory_session: n.inventory?.session ?? null,
    enrolment: n.enrolment ? JSON.stringify(n.enrolment) : null,
  };
}

export function installFromRow(r: InstallRow): InstallRecord {
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

export interface EventRow {
  id: number;
  time: number;
  mac: string | null;
  protocol: EventProtocol;
  kind: string;
  decision: string;
  reason: string;
  /** JSON text in SQLite, a parsed jsonb value in PostgreSQL: each store reads its own. */
  detail: unknown;
  code: ReasonCode | null;
}

/** The event of a row; `detail` as the store decoded it (no empty code or detail). */
export function eventFromRow(row: EventRow, detail: unknown): StoredEvent {
  return {
    id: row.id,
    time: row.time,
    mac: row.mac,
    protocol: row.protocol,
    kind: row.kind,
    decision: row.decision,
    reason: row.reason,
    ...(row.code ? { code: row.code } : {}),
    // Written by record() from the same protocol's detail type.
    ...(detail ? { detail } : {}),
  } as StoredEvent;
}
