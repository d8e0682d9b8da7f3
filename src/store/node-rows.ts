// The SQLite statements that load nodes and install records at open and write them back whole
// from memory (the row shapes are in records.ts, shared with PostgreSQL).
import type { InstallRecord, NodeRecord } from '../boot/ports.ts';
import type { Db } from './database.ts';
import { installFromRow, inventoryColumns, nodeFromRow, type InstallRow, type NodeRow } from './records.ts';

const fromJson = (text: unknown): unknown => (typeof text === 'string' ? (JSON.parse(text) as unknown) : null);

function toNode(row: NodeRow): NodeRecord {
  return nodeFromRow(row, { installReport: fromJson(row.install_report), inventory: fromJson(row.inventory), enrolment: fromJson(row.enrolment) });
}

function toRow(n: NodeRecord): NodeRow {
  return {
    mac: n.mac,
    hostname: n.hostname,
    state: n.state,
    profile: n.profile,
    local_boot: n.localBoot,
    armed_at: n.armedAt,
    armed_by: n.armedBy,
    consumed_at: n.consumedAt,
    installed_at: n.installedAt,
    first_seen: n.firstSeen,
    last_seen: n.lastSeen,
    last_ip: n.lastIp,
    arch: n.arch,
    firmware: n.firmware,
    uuid: n.uuid,
    serial: n.serial,
    fqdn: n.fqdn,
    boot_mode: n.bootMode,
    install_report: n.installReport === null || n.installReport === undefined ? null : JSON.stringify(n.installReport),
    ...inventoryColumns(n),
  };
}

const toInstall = installFromRow;

const NODE_COLUMNS = [
  'hostname',
  'state',
  'profile',
  'local_boot',
  'armed_at',
  'armed_by',
  'consumed_at',
  'installed_at',
  'first_seen',
  'last_seen',
  'last_ip',
  'arch',
  'firmware',
  'uuid',
  'serial',
  'fqdn',
  'boot_mode',
  'install_report',
  'inventory',
  'inventory_at',
  'inventory_session',
  'enrolment',
];
const INSTALL_COLUMNS = ['mac', 'profile', 'armed_at', 'armed_by', 'consumed_at', 'installed_at', 'fqdn'];

function upsertSql(table: string, key: string, columns: string[]): string {
  const all = [key, ...columns];
  return `INSERT INTO ${table} (${all.join(', ')}) VALUES (${all.map((c) => `@${c}`).join(', ')})
    ON CONFLICT (${key}) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`;
}

/** Whole-row reads at open and whole-row writes from memory: the rows on disk are what memory holds. */
export class NodeRows {
  private readonly upsertNode;
  private readonly touchNode;
  private readonly deleteNode;
  private readonly upsertInstall;
  private readonly allNodes;
  private readonly allInstalls;

  constructor(db: Db) {
    this.upsertNode = db.prepare<[NodeRow]>(upsertSql('nodes', 'mac', NODE_COLUMNS));
    this.touchNode = db.prepare<[number, string | null, number | null, string | null, string | null, string | null, string | null, string]>(
      'UPDATE nodes SET last_seen = ?, last_ip = ?, arch = ?, firmware = ?, uuid = ?, serial = ?, hostname = ? WHERE mac = ?',
    );
    this.deleteNode = db.prepare<[string]>('DELETE FROM nodes WHERE mac = ?');
    this.upsertInstall = db.prepare<[InstallRow]>(upsertSql('installs', 'id', INSTALL_COLUMNS));
    this.allNodes = db.prepare<[], NodeRow>('SELECT * FROM nodes ORDER BY last_seen');
    this.allInstalls = db.prepare<[], InstallRow>('SELECT * FROM installs ORDER BY id');
  }

  /** Every node, least recently seen first. */
  loadNodes(): NodeRecord[] {
    return this.allNodes.all().map(toNode);
  }

  /** Every install record, oldest first. */
  loadInstalls(): InstallRecord[] {
    return this.allInstalls.all().map(toInstall);
  }

  writeNode(node: NodeRecord): void {
    this.upsertNode.run(toRow(node));
  }

  /** Only the last-seen facts of a node already on disk (the hot path's write: a sighting). */
  writeSighting(n: NodeRecord): void {
    this.touchNode.run(n.lastSeen, n.lastIp, n.arch, n.firmware, n.uuid, n.serial, n.hostname, n.mac);
  }

  removeNode(mac: string): void {
    this.deleteNode.run(mac);
  }

  writeInstall(i: InstallRecord): void {
    this.upsertInstall.run({
      id: i.id,
      mac: i.mac,
      profile: i.profile,
      armed_at: i.armedAt,
      armed_by: i.armedBy,
      consumed_at: i.consumedAt,
      installed_at: i.installedAt,
      fqdn: i.fqdn,
    });
  }
}
