// The connection each appliance keeps open to follow the others: its schema checked first, then
// LISTEN on the node channel (migrations.ts), whose notices name a MAC to re-read.
import type pg from 'pg';
import { StoreClient } from './connect.ts';
import { NODE_CHANNEL, SCHEMA_VERSION, schemaVersion } from './migrations.ts';

/** A schema this pxe-pilot cannot run on: starting degraded would not help. */
export class SchemaError extends Error {}

export interface Listening {
  /** A node changed (by any appliance): its MAC. */
  changed: (mac: string) => void;
  /** The connection broke or closed. */
  lost: (reason: string) => void;
}

/** Connects, checks the schema and listens; `ready` runs on the connection before it is handed back (the full read). */
export async function listen(config: pg.ClientConfig, on: Listening, ready: (db: pg.ClientBase) => Promise<void>): Promise<pg.Client> {
  const listener = new StoreClient(config);
  listener.on('error', (err) => on.lost(`notification connection lost: ${err.message}`));
  listener.on('end', () => on.lost('notification connection closed'));
  listener.on('notification', (n) => {
    if (n.channel === NODE_CHANNEL && n.payload) on.changed(n.payload);
  });
  try {
    await listener.connect();
    const version = await schemaVersion(listener);
    if (version !== SCHEMA_VERSION) throw new SchemaError(`schema version ${version}, this pxe-pilot needs ${SCHEMA_VERSION}: run pxe-pilot store migrate`);
    await listener.query(`LISTEN ${NODE_CHANNEL}`);
    await ready(listener);
  } catch (err) {
    await hangUp(listener);
    throw err;
  }
  return listener;
}

/** Ends the connection without reporting it as lost. */
export async function hangUp(listener: pg.Client): Promise<void> {
  listener.removeAllListeners('end');
  await listener.end().catch(() => undefined);
}
