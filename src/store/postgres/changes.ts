// Lifecycle changes (decided by src/boot/lifecycle.ts) as SQL, each in one transaction. The
// install-pending guards are what makes "install once" hold across a fleet: a consume is one
// conditional UPDATE, so of two appliances racing for the same machine exactly one gets a row back.
import type pg from 'pg';
import type { StateChange } from '../../boot/lifecycle.ts';
import type { Inventory } from '../../agent/inventory.ts';
import type { Enrolment, NodeInventory } from '../../boot/ports.ts';
import { inventoryOf, type NodeRow } from '../records.ts';

const ENSURE = `INSERT INTO nodes (mac, state, first_seen, last_seen) VALUES ($1, 'seen', $2, $2) ON CONFLICT (mac) DO NOTHING`;

/** Writes `change` for `mac`; resolves to whether it applied. The caller holds `db` and commits. */
export async function writeChange(db: pg.ClientBase, mac: string, change: StateChange, now: number, appliance: string): Promise<boolean> {
  switch (change.kind) {
    case 'arm': {
      await db.query(ENSURE, [mac, now]);
      // An admin arms whatever the state. A profile arms only a node never armed nor installed
      // (lifecycle.sighted): another appliance's mirror may not know yet that it was cancelled.
      const armed = await db.query(
        `UPDATE nodes SET state = 'install-pending', profile = $1, armed_at = $2, armed_by = $3, consumed_at = NULL
          WHERE mac = $4 AND ($3 = 'admin' OR (state = 'seen' AND armed_at IS NULL AND installed_at IS NULL))`,
        [change.profile, now, change.by, mac],
      );
      if (armed.rowCount !== 1) return false;
      await db.query('INSERT INTO installs (mac, profile, armed_at, armed_by) VALUES ($1, $2, $3, $4)', [mac, change.profile, now, change.by]);
      return true;
    }
    case 'consume': {
      const won = await db.query(
        "UPDATE nodes SET state = 'installing', consumed_at = $1, profile = COALESCE(profile, $2) WHERE mac = $3 AND state = 'install-pending' RETURNING mac",
        [now, change.profile, mac],
      );
      if (won.rowCount !== 1) return false;
      await db.query(
        'UPDATE installs SET consumed_at = $1, consumed_by = $2, profile = COALESCE(profile, $3) WHERE id = (SELECT MAX(id) FROM installs WHERE mac = $4) AND consumed_at IS NULL',
        [now, appliance, change.profile, mac],
      );
      return true;
    }
    case 'complete': {
      await db.query(ENSURE, [mac, now]);
      await db.query("UPDATE nodes SET state = 'installed', installed_at = $1, fqdn = $2, boot_mode = $3, install_report = $4 WHERE mac = $5", [
        now,
        change.fqdn,
        change.bootMode,
        JSON.stringify(change.report ?? null),
        mac,
      ]);
      const open = await db.query<{ id: number }>('SELECT id FROM installs WHERE mac = $1 AND installed_at IS NULL ORDER BY id DESC LIMIT 1', [mac]);
      const id = open.rows[0]?.id;
      if (id !== undefined) await db.query('UPDATE installs SET installed_at = $1, fqdn = $2 WHERE id = $3', [now, change.fqdn, id]);
      else await db.query('INSERT INTO installs (mac, installed_at, fqdn) VALUES ($1, $2, $3)', [mac, now, change.fqdn]);
      return true;
    }
    case 'fail': {
      const failed = await db.query(
        "UPDATE nodes SET state = 'deploy-failed', install_report = $1 WHERE mac = $2 AND state IN ('installing', 'install-pending')",
        [JSON.stringify(change.report ?? null), mac],
      );
      return failed.rowCount === 1;
    }
    case 'disarm': {
      // armed_at stays, as in SQLite: a cancelled install is not armed again by its [host] section.
      const done = await db.query("UPDATE nodes SET state = $1, profile = NULL WHERE mac = $2 AND state = 'install-pending'", [change.to, mac]);
      return done.rowCount === 1;
    }
    case 'arm-wipe': {
      await db.query(ENSURE, [mac, now]);
      const armed = await db.query(
        "UPDATE nodes SET state = 'wipe-pending', profile = NULL, armed_at = $1, armed_by = 'admin', consumed_at = NULL WHERE mac = $2",
        [now, mac],
      );
      return armed.rowCount === 1;
    }
    case 'consume-wipe': {
      // Guarded like a consume: of two appliances racing, one gets the row.
      const pending = await db.query("UPDATE nodes SET state = 'wiping', consumed_at = $1 WHERE mac = $2 AND state = 'wipe-pending'", [now, mac]);
      if (pending.rowCount === 1) return true;
      if (change.by !== 'profile') return false;
      await db.query(ENSURE, [mac, now]);
      const seen = await db.query(
        "UPDATE nodes SET state = 'wiping', profile = NULL, armed_at = $1, armed_by = 'profile', consumed_at = $1 WHERE mac = $2 AND state = 'seen' AND (armed_at IS NULL OR armed_at < $3::bigint)",
        [now, mac, change.since],
      );
      return seen.rowCount === 1;
    }
    case 'release': {
      const released = await db.query(
        `UPDATE nodes SET state = 'seen', profile = NULL, consumed_at = NULL, installed_at = NULL, fqdn = NULL, boot_mode = NULL,
          install_report = $1, enrolment = NULL WHERE mac = $2 AND (NOT $3::boolean OR state = 'wiping')`,
        [JSON.stringify(change.report ?? null), mac, change.wiped],
      );
      return released.rowCount === 1;
    }
  }
}

/**
 * Stores an inventory delivered in `session`, guarded like a consume: the row is locked, and a
 * session that already delivered one (here or on another appliance) writes nothing.
 */
export async function writeInventory(
  db: pg.ClientBase,
  mac: string,
  document: Inventory,
  session: string,
  now: number,
): Promise<{ duplicate: boolean; previous: NodeInventory | null }> {
  await db.query(ENSURE, [mac, now]);
  const held = await db.query<NodeRow>('SELECT * FROM nodes WHERE mac = $1 FOR UPDATE', [mac]);
  const row = held.rows[0]!;
  if (row.inventory_session === session) return { duplicate: true, previous: null };
  await db.query('UPDATE nodes SET inventory = $1::jsonb, inventory_at = $2, inventory_session = $3 WHERE mac = $4', [
    JSON.stringify(document),
    now,
    session,
    mac,
  ]);
  return { duplicate: false, previous: inventoryOf(row, row.inventory) };
}

/** Sets or removes a node's enrolment; resolves to whether the node exists. */
export async function writeEnrolment(db: pg.ClientBase, mac: string, enrolment: Enrolment | null): Promise<boolean> {
  const done = await db.query('UPDATE nodes SET enrolment = $1::jsonb WHERE mac = $2', [enrolment ? JSON.stringify(enrolment) : null, mac]);
  return done.rowCount === 1;
}

/** Runs `work` in a transaction on a client of `pool`. */
export async function inTransaction<T>(pool: pg.Pool, work: (db: pg.PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  let broken: Error | undefined;
  // A server going away emits 'error' on a checked-out client: the failing query reports it.
  const ignore = (): void => undefined;
  db.on('error', ignore);
  try {
    await db.query('BEGIN');
    const result = await work(db);
    await db.query('COMMIT');
    return result;
  } catch (err) {
    broken = err as Error;
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // A client that failed is dropped, not handed to the next request.
    db.off('error', ignore);
    db.release(broken);
  }
}
