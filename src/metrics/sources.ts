// What the scrape-time gauges read: node counts, install counts, the DHCP pool and its leases.
import type { Profile } from '../config/profile.ts';
import type { LeaseLog, NodeDirectory, StoreHealth } from '../boot/ports.ts';
import { NODE_LIFECYCLES, type NodeLifecycle } from '../boot/lifecycle.ts';
import { poolFromProfile } from '../dhcp/pool.ts';
import type { ScrapeSources } from './telemetry.ts';

export function nodeCounts(store: Pick<NodeDirectory, 'countNodesInState'>): Record<NodeLifecycle, number> {
  return Object.fromEntries(NODE_LIFECYCLES.map((s) => [s, store.countNodesInState(s)])) as Record<NodeLifecycle, number>;
}

/** `store.health`: a store that can be degraded (PostgreSQL) says so; without it the store is always up (SQLite). */
export function scrapeSources(store: NodeDirectory & { health?(): StoreHealth }, leases: LeaseLog, profile: () => Profile): ScrapeSources {
  return {
    store: () => store.health?.() ?? { backend: 'sqlite', state: 'ok' },
    nodeCounts: () => nodeCounts(store),
    installCounts: () => store.installCounts(),
    pool: () => {
      const p = profile();
      if (p.dhcp.mode !== 'server') return null;
      const pool = poolFromProfile(p);
      if (!pool.ok) return null;
      const now = Date.now();
      const bound = leases.all().filter((l) => l.state === 'bound' && l.expiresAt > now).length;
      return { size: pool.pool.end - pool.pool.start + 1, bound };
    },
  };
}
