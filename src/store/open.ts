// Which store the daemon runs on: [store] backend. SQLite is one file under [server] state_dir;
// PostgreSQL is shared by a fleet, with this appliance's leases kept in its own SQLite file.
import type { AgentSessions, LeaseLog, NodeStore, StoreHealth } from '../boot/ports.ts';
import type { Profile } from '../config/profile.ts';
import type { Logger } from '../log.ts';
import { WriteBehind } from './batch.ts';
import { openDatabase } from './database.ts';
import { SqliteLeases } from './leases.ts';
import { Store, type StoreObserver } from './store.ts';
import type { NodeImports } from './import-nodes.ts';

/** What the daemon holds: the ports, the leases, and how to flush and close. */
export interface AppStore extends NodeStore, NodeImports {
  readonly leases: LeaseLog;
  /** Per-boot sessions of the inspection agent (src/store/agent-sessions.ts). */
  readonly agentSessions: AgentSessions;
  flushEvents(): void;
  close(): void | Promise<void>;
  /** The daemon's telemetry: every event recorded, every batch written. */
  observe(observer: StoreObserver | null): void;
  health?(): StoreHealth;
}

export async function openStore(profile: Profile, logger: Logger): Promise<AppStore> {
  const agentSessionMs = profile.agent.sessionMinutes * 60_000;
  if (profile.store.backend === 'sqlite') return Store.open(profile.server.stateDir, { agentSessionMs });
  // Imported only here: a SQLite appliance never runs the PostgreSQL client (pg) nor holds its code.
  const { PostgresStore } = await import('./postgres/store.ts');
  const db = openDatabase(profile.server.stateDir);
  // The leases' own group commit (nothing else writes this SQLite file).
  const batch = new WriteBehind(db);
  const closeLeases = (): void => {
    batch.flush(true);
    batch.close();
    db.close();
  };
  return PostgresStore.open({
    store: profile.store,
    logger: logger.child({ service: 'store' }),
    leases: new SqliteLeases(db, batch),
    closeLeases,
    agentSessionMs,
  });
}
