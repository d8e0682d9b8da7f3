// Machines never installed and never armed ("strangers": a guest network's laptops, phones) must
// not grow the shared node table without bound, as in the SQLite store: past the cap the least
// recently seen are evicted. Installed and armed nodes are never evicted.
import type { NodeRecord } from '../../boot/ports.ts';

/** Never installed, never armed: a cancelled install is kept, or its next sight would arm it again. */
export function isStranger(n: NodeRecord): boolean {
  return n.state === 'seen' && n.installedAt === null && n.armedAt === null;
}

/** The strangers in the mirror, least recently seen first (moved to the end when seen). */
export class Strangers {
  private readonly order = new Set<string>();

  constructor(private readonly max: number) {}

  /** Called for every node put in the mirror; `seen`: heard from now (a re-read keeps its place). */
  note(node: NodeRecord, seen = true): void {
    if (!seen && this.order.has(node.mac) && isStranger(node)) return;
    this.order.delete(node.mac);
    if (isStranger(node)) this.order.add(node.mac);
  }

  forget(mac: string): void {
    this.order.delete(mac);
  }

  clear(): void {
    this.order.clear();
  }

  /** The strangers past the cap, least recently seen first, taken out of the set. */
  overflow(): string[] {
    const out: string[] = [];
    for (const mac of this.order) {
      if (this.order.size <= this.max) break;
      this.order.delete(mac);
      out.push(mac);
    }
    return out;
  }
}

/** Guarded: a node armed or installed in the meantime (by any appliance) is kept. */
export const EVICT_SQL = "DELETE FROM nodes WHERE mac = ANY($1::text[]) AND state = 'seen' AND installed_at IS NULL AND armed_at IS NULL";
