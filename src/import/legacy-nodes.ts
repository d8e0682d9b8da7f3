// The machines an aayusharyan pxe-pilot knew: its SQLite pxe.db (the 3.x `nodes` table) or its
// seed.yml. Read only; every row checked (MAC, local-boot script, times) before anything is
// written, and what is left out is said with the reason.
import Database from 'better-sqlite3';
import { normaliseMac } from '../net/mac.ts';
import { parseLegacyLocalBoot } from '../http/legacy/local-boot.ts';
import { isYamlMap, parseYaml, yamlFlag, YamlError, type YamlValue } from './yaml.ts';

export interface LegacyNode {
  mac: string;
  /** Its reinstall flag: never cleared after an install there, so not armed by the import unless asked. */
  reinstall: boolean;
  localBoot: string | null;
  /** ms since the epoch; null: not known (a seed entry). */
  createdAt: number | null;
  lastSeen: number | null;
}

export interface LegacyNodes {
  nodes: LegacyNode[];
  notCarried: string[];
}

/** The source cannot be read as that project's: exit 2, nothing written. */
export class LegacySourceError extends Error {
  override name = 'LegacySourceError';
}

const TIME = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d{1,9})?(Z|[+-]\d\d:?\d\d)?$/;

/** A time as SQLAlchemy stored it in SQLite ("2026-05-21 23:00:00.123456", UTC when no offset). */
export function legacyTimestamp(value: unknown): number | null | undefined {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') return undefined;
  const m = TIME.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac ? Math.floor(Number(`0${frac}`) * 1000) : 0;
  let offset = 0;
  if (zone && zone !== 'Z') {
    const z = zone.replace(':', '');
    offset = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms) - offset * 60_000;
  return Number.isFinite(t) && new Date(t).getUTCFullYear() >= 1970 ? t : undefined;
}

function script(raw: unknown, where: string, notCarried: string[]): string | null {
  if (raw === null || raw === undefined || raw === '') return null;
  const parsed = parseLegacyLocalBoot(raw);
  if (parsed.ok) return parsed.script;
  notCarried.push(`${where}: local_boot_script ${JSON.stringify(raw).slice(0, 60)} left out (${parsed.error}); it boots with "exit"`);
  return null;
}

/** Each MAC once; a second row for the same machine is named and left out. */
function addNode(nodes: Map<string, LegacyNode>, node: LegacyNode, where: string, notCarried: string[]): void {
  if (nodes.has(node.mac)) notCarried.push(`${where}: ${node.mac} given again; the first one was taken`);
  else nodes.set(node.mac, node);
}

export function readLegacyDatabase(file: string): LegacyNodes {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new LegacySourceError(`${file}: cannot open it: ${(err as Error).message}`);
  }
  try {
    let columns: { name: string }[];
    try {
      columns = db.prepare('PRAGMA table_info(nodes)').all() as { name: string }[];
    } catch (err) {
      throw new LegacySourceError(`${file}: not a SQLite database (${(err as Error).message})`);
    }
    const have = new Set(columns.map((c) => c.name));
    const missing = ['mac', 'reinstall', 'created_at', 'last_seen'].filter((c) => !have.has(c));
    if (columns.length === 0) throw new LegacySourceError(`${file}: no nodes table: not an aayusharyan pxe-pilot database`);
    if (missing.length) throw new LegacySourceError(`${file}: the nodes table has no ${missing.join(', ')} column: not an aayusharyan pxe-pilot database`);
    const notCarried: string[] = [];
    if (!have.has('local_boot_script'))
      notCarried.push(`${file}: no local_boot_script column (a database from before 3.x): every machine boots its disk with "exit"`);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    if (tables.includes('app_config')) notCarried.push(`${file}: app_config (is_seed_executed) is not carried: the profile is read on every start here`);
    const rows = db
      .prepare(`SELECT mac, reinstall, created_at, last_seen${have.has('local_boot_script') ? ', local_boot_script' : ''} FROM nodes ORDER BY rowid`)
      .all() as Record<string, unknown>[];
    const nodes = new Map<string, LegacyNode>();
    for (const [i, row] of rows.entries()) {
      const where = `${file} row ${i + 1}`;
      const mac = typeof row.mac === 'string' ? normaliseMac(row.mac) : null;
      if (!mac) {
        notCarried.push(`${where}: ${JSON.stringify(row.mac)} is not a MAC address; left out`);
        continue;
      }
      const createdAt = legacyTimestamp(row.created_at);
      const lastSeen = legacyTimestamp(row.last_seen);
      if (createdAt === undefined || lastSeen === undefined)
        throw new LegacySourceError(
          `${where} (${mac}): created_at ${JSON.stringify(row.created_at)} or last_seen ${JSON.stringify(row.last_seen)} is not a time`,
        );
      const reinstall = row.reinstall === 1 || row.reinstall === 1n || row.reinstall === '1' || row.reinstall === true;
      addNode(nodes, { mac, reinstall, localBoot: script(row.local_boot_script, `${where} (${mac})`, notCarried), createdAt, lastSeen }, where, notCarried);
    }
    return { nodes: [...nodes.values()], notCarried };
  } finally {
    db.close();
  }
}

export function readSeed(text: string, file: string): LegacyNodes {
  let doc: YamlValue;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlError) throw new LegacySourceError(`${file}: ${err.message}`);
    throw err;
  }
  if (!isYamlMap(doc) || !Array.isArray(doc.nodes)) throw new LegacySourceError(`${file}: expected a top-level "nodes:" list`);
  const notCarried: string[] = [];
  const nodes = new Map<string, LegacyNode>();
  for (const [i, entry] of doc.nodes.entries()) {
    const where = `${file} nodes[${i}]`;
    if (!isYamlMap(entry)) {
      notCarried.push(`${where}: not a mapping with mac:; left out`);
      continue;
    }
    const mac = typeof entry.mac === 'string' ? normaliseMac(entry.mac) : null;
    if (!mac) {
      notCarried.push(`${where}: ${JSON.stringify(entry.mac ?? null)} is not a MAC address; left out`);
      continue;
    }
    const flag = entry.reinstall === undefined || entry.reinstall === null ? false : yamlFlag(entry.reinstall);
    if (flag === undefined) throw new LegacySourceError(`${where} (${mac}): reinstall ${JSON.stringify(entry.reinstall)} is not true or false`);
    for (const k of Object.keys(entry))
      if (!['mac', 'reinstall', 'local_boot_script'].includes(k)) notCarried.push(`${where} (${mac}): key ${k} is not one that project read; ignored`);
    addNode(
      nodes,
      { mac, reinstall: flag, localBoot: script(entry.local_boot_script, `${where} (${mac})`, notCarried), createdAt: null, lastSeen: null },
      where,
      notCarried,
    );
  }
  return { nodes: [...nodes.values()], notCarried };
}
