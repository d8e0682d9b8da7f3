// `pxe-pilot import` on PostgreSQL: the same merge as import-nodes.ts (earliest first sight, latest
// last sight, a local-boot script set here kept), as one upsert per node in one transaction.
import type pg from 'pg';
import type { ImportedNode, ImportOutcome } from '../import-nodes.ts';

// $2 first seen, $3 last seen (either may be NULL: not known), $4 the script, $5 now.
const UPSERT = `INSERT INTO nodes (mac, state, first_seen, last_seen, local_boot)
    VALUES ($1, 'seen', COALESCE($2::bigint, $5::bigint), GREATEST(COALESCE($3::bigint, $2::bigint, $5::bigint), COALESCE($2::bigint, $5::bigint)), $4)
  ON CONFLICT (mac) DO UPDATE SET first_seen = LEAST(nodes.first_seen, COALESCE($2::bigint, nodes.first_seen)),
    last_seen = GREATEST(nodes.last_seen, COALESCE($3::bigint, $2::bigint, nodes.last_seen)), local_boot = COALESCE(nodes.local_boot, $4)
  WHERE nodes.first_seen > COALESCE($2::bigint, nodes.first_seen) OR nodes.last_seen < COALESCE($3::bigint, $2::bigint, nodes.last_seen)
    OR (nodes.local_boot IS NULL AND $4::text IS NOT NULL)
  RETURNING (xmax = 0) AS inserted`;

/** Upserts each node; the caller holds `db` in a transaction and commits. */
export async function upsertImported(db: pg.ClientBase, nodes: readonly ImportedNode[], now: number): Promise<Map<string, ImportOutcome>> {
  const outcomes = new Map<string, ImportOutcome>();
  for (const n of nodes) {
    const r = await db.query<{ inserted: boolean }>(UPSERT, [n.mac, n.firstSeen, n.lastSeen, n.localBoot, now]);
    outcomes.set(n.mac, r.rowCount === 0 ? 'unchanged' : r.rows[0]!.inserted ? 'added' : 'updated');
  }
  return outcomes;
}
