// The PostgreSQL schema, version by version. Applied only by `pxe-pilot store migrate` (several
// appliances share the database: none of them changes its schema behind the others' backs);
// the daemon refuses a schema older or newer than it knows.
import type pg from 'pg';

/** Node changes that matter to the other appliances (state, profile, local boot) are announced on this channel, payload the MAC. */
export const NODE_CHANNEL = 'pxe_pilot_nodes';

const MIGRATIONS: string[] = [
  // 1: nodes and install history shared by the fleet, events with the appliance that recorded each.
  `CREATE TABLE nodes (
     mac text PRIMARY KEY, hostname text, state text NOT NULL, profile text, local_boot text,
     armed_at bigint, armed_by text, consumed_at bigint, installed_at bigint,
     first_seen bigint NOT NULL, last_seen bigint NOT NULL, last_ip text, arch integer, firmware text,
     uuid text, serial text, fqdn text, boot_mode text, install_report jsonb);
   CREATE INDEX nodes_state ON nodes (state);
   CREATE TABLE installs (
     id bigserial PRIMARY KEY, mac text NOT NULL, profile text, armed_at bigint, armed_by text,
     consumed_at bigint, consumed_by text, installed_at bigint, fqdn text);
   CREATE INDEX installs_mac ON installs (mac, id);
   CREATE TABLE events (
     id bigserial PRIMARY KEY, time bigint NOT NULL, appliance text NOT NULL, mac text, protocol text NOT NULL,
     kind text NOT NULL, decision text NOT NULL, reason text NOT NULL, detail jsonb, code text);
   CREATE INDEX events_mac ON events (mac, id);
   CREATE FUNCTION pxe_pilot_node_changed() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       PERFORM pg_notify('${NODE_CHANNEL}', COALESCE(NEW.mac, OLD.mac));
       RETURN NULL;
     END $$;
   CREATE TRIGGER nodes_inserted_or_deleted AFTER INSERT OR DELETE ON nodes FOR EACH ROW EXECUTE FUNCTION pxe_pilot_node_changed();
   -- Last-seen facts change on every boot: only what decides a boot is announced.
   CREATE TRIGGER nodes_changed AFTER UPDATE ON nodes FOR EACH ROW
     WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.profile IS DISTINCT FROM NEW.profile
       OR OLD.local_boot IS DISTINCT FROM NEW.local_boot OR OLD.armed_at IS DISTINCT FROM NEW.armed_at
       OR OLD.installed_at IS DISTINCT FROM NEW.installed_at OR OLD.consumed_at IS DISTINCT FROM NEW.consumed_at)
     EXECUTE FUNCTION pxe_pilot_node_changed();`,
  // 2: explain reads the newest events of each protocol across the fleet (src/store/postgres/history.ts).
  `CREATE INDEX events_protocol ON events (protocol, id);`,
  // 3 (issue 24): the inspection agent's inventory, the enrolment, and the agent sessions; an
  // inventory or an enrolment decides a boot too, and a session minted on one appliance must be
  // known to the one the agent reports to, so both are announced.
  `ALTER TABLE nodes ADD COLUMN inventory jsonb, ADD COLUMN inventory_at bigint, ADD COLUMN inventory_session text, ADD COLUMN enrolment jsonb;
   CREATE TABLE agent_sessions (
     mac text PRIMARY KEY, session text NOT NULL, token_hash text NOT NULL, minted_at bigint NOT NULL, expires_at bigint NOT NULL);
   DROP TRIGGER nodes_changed ON nodes;
   CREATE TRIGGER nodes_changed AFTER UPDATE ON nodes FOR EACH ROW
     WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.profile IS DISTINCT FROM NEW.profile
       OR OLD.local_boot IS DISTINCT FROM NEW.local_boot OR OLD.armed_at IS DISTINCT FROM NEW.armed_at
       OR OLD.installed_at IS DISTINCT FROM NEW.installed_at OR OLD.consumed_at IS DISTINCT FROM NEW.consumed_at
       OR OLD.inventory_at IS DISTINCT FROM NEW.inventory_at OR OLD.inventory_session IS DISTINCT FROM NEW.inventory_session
       OR OLD.enrolment IS DISTINCT FROM NEW.enrolment)
     EXECUTE FUNCTION pxe_pilot_node_changed();
   CREATE TRIGGER agent_sessions_changed AFTER INSERT OR UPDATE ON agent_sessions FOR EACH ROW EXECUTE FUNCTION pxe_pilot_node_changed();`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The schema version of the database (0: empty). */
export async function schemaVersion(db: pg.ClientBase): Promise<number> {
  const exists = await db.query<{ t: string | null }>("SELECT to_regclass('pxe_pilot_schema')::text AS t");
  if (!exists.rows[0]?.t) return 0;
  const row = await db.query<{ version: number }>('SELECT version FROM pxe_pilot_schema');
  return row.rows[0]?.version ?? 0;
}

/** Brings the schema to SCHEMA_VERSION in one transaction, under an advisory lock (two appliances migrating at once wait for each other). Returns [from, to]. */
export async function migrate(db: pg.ClientBase): Promise<[number, number]> {
  await db.query('BEGIN');
  try {
    await db.query("SELECT pg_advisory_xact_lock(hashtext('pxe-pilot schema'))");
    await db.query('CREATE TABLE IF NOT EXISTS pxe_pilot_schema (version integer NOT NULL)');
    const from = await schemaVersion(db);
    if (from > SCHEMA_VERSION)
      throw new Error(`the database schema is version ${from}, newer than this pxe-pilot knows (${SCHEMA_VERSION}): upgrade pxe-pilot`);
    for (let v = from; v < SCHEMA_VERSION; v++) await db.query(MIGRATIONS[v]!);
    await db.query('DELETE FROM pxe_pilot_schema');
    await db.query('INSERT INTO pxe_pilot_schema (version) VALUES ($1)', [SCHEMA_VERSION]);
    await db.query('COMMIT');
    return [from, SCHEMA_VERSION];
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
