// What this appliance has yet to write to PostgreSQL: sightings (first sights, last-seen facts,
// the arms lifecycle.sighted decided), local-boot settings, evicted strangers and events. The
// hot paths only queue; the store writes the queue in one transaction every 50 ms, and keeps it
// (bounded) while PostgreSQL is away. The mirror already shows all of it.
import type pg from 'pg';
import type { BootEvent } from '../../boot/events.ts';
import type { StateChange } from '../../boot/lifecycle.ts';
import type { NodeRecord, SightingFacts } from '../../boot/ports.ts';
import { mergeFacts, withFacts, type NodeMirror, type Sighting } from '../mirror.ts';
import { writeChange } from './changes.ts';
import { EVICT_SQL, INSERT_EVENTS_SQL, INSERT_NODE_SQL, insertNodeArgs, TOUCH_SQL, touchesJson, type Touch } from './rows.ts';

/** One write of the queue, taken whole. */
export interface QueuedWrites {
  /** First sightings and admin-created nodes; `arm`: the profile arms its first install. */
  inserts: (Touch & { arm: StateChange | null })[];
  /** Last-seen facts of known nodes, merged per MAC. */
  touches: Map<string, Touch>;
  /** Known nodes whose [host] section armed them when seen again. */
  arms: Map<string, { change: StateChange; at: number }>;
  localBoots: Map<string, string | null>;
  /** Strangers evicted from the mirror, to delete from the shared table. */
  evictions: Set<string>;
  events: BootEvent[];
}

function empty(): QueuedWrites {
  return { inserts: [], touches: new Map(), arms: new Map(), localBoots: new Map(), evictions: new Set(), events: [] };
}

export class WriteQueue {
  private queued = empty();
  /** What the running flush writes: a re-read meanwhile must not take the table's old row as the truth. */
  private writing: QueuedWrites | null = null;
  /** Events dropped because the queue was full while PostgreSQL was away. */
  dropped = 0;

  constructor(private readonly maxEvents: number) {}

  size(): number {
    const q = this.queued;
    return q.events.length + q.touches.size + q.inserts.length + q.arms.size + q.localBoots.size + q.evictions.size;
  }

  /** A sighting the mirror took (mirror.sight or mirror.ensure), with the facts it learnt. */
  sighting({ before, node, arm }: Sighting, facts: SightingFacts): void {
    const { mac, lastSeen: now } = node;
    const q = this.queued;
    if (!before) {
      q.inserts.push({ mac, now, facts, arm });
      // Seen again after its eviction: no longer to delete.
      q.evictions.delete(mac);
      return;
    }
    const queued = q.touches.get(mac);
    q.touches.set(mac, { mac, now, facts: queued ? mergeFacts(queued.facts, facts) : facts });
    if (arm) q.arms.set(mac, { change: arm, at: now });
  }

  localBoot(mac: string, script: string | null): void {
    this.queued.localBoots.set(mac, script);
  }

  evicted(mac: string): void {
    this.queued.evictions.add(mac);
  }

  event(event: BootEvent): void {
    this.queued.events.push(event);
    this.capEvents();
  }

  private capEvents(): void {
    const q = this.queued;
    if (q.events.length > this.maxEvents) {
      this.dropped += q.events.length - this.maxEvents;
      q.events = q.events.slice(-this.maxEvents);
    }
  }

  /** A row read from the table as the mirror shows it: with the facts learnt here and not written yet. */
  overlay(node: NodeRecord): NodeRecord {
    const touch = this.queued.touches.get(node.mac);
    return touch ? withFacts(node, touch.facts, touch.now) : node;
  }

  /** Whether `mac`'s first sighting is queued or being written (not in the table yet). */
  inserting(mac: string): boolean {
    return this.queued.inserts.some((i) => i.mac === mac) || (this.writing?.inserts.some((i) => i.mac === mac) ?? false);
  }

  /** Whether `mac` was evicted here and its delete is queued or being written. */
  evicting(mac: string): boolean {
    return this.queued.evictions.has(mac) || (this.writing?.evictions.has(mac) ?? false);
  }

  /** After the mirror was read whole again: what this appliance learnt while away stays visible until written. */
  replay(mirror: NodeMirror): void {
    for (const i of this.queued.inserts) if (!mirror.getNode(i.mac)) mirror.sight(i.mac, i.facts, i.now, i.arm !== null);
    for (const [mac, t] of this.queued.touches) if (mirror.getNode(mac)) mirror.sight(mac, t.facts, t.now, this.queued.arms.has(mac));
  }

  /** Takes everything queued for one flush. */
  take(): QueuedWrites {
    this.writing = this.queued;
    this.queued = empty();
    return this.writing;
  }

  /** The flush ended: written, or put back by putBack. */
  done(): void {
    this.writing = null;
  }

  /** A failed flush: its writes go back in front of what was queued meanwhile. */
  putBack(batch: QueuedWrites, mirror: NodeMirror): void {
    const later = this.queued;
    this.queued = batch;
    batch.inserts.push(...later.inserts);
    for (const t of later.touches.values()) {
      const earlier = batch.touches.get(t.mac);
      batch.touches.set(t.mac, earlier ? { ...t, facts: mergeFacts(earlier.facts, t.facts) } : t);
    }
    for (const [mac, arm] of later.arms) batch.arms.set(mac, arm);
    for (const [mac, script] of later.localBoots) batch.localBoots.set(mac, script);
    // Seen again since: no longer to delete.
    for (const mac of batch.evictions) if (mirror.getNode(mac)) batch.evictions.delete(mac);
    for (const mac of later.evictions) batch.evictions.add(mac);
    batch.events.push(...later.events);
    this.capEvents();
  }
}

/** Writes `batch` (the caller holds the transaction); resolves to the MACs whose rows another appliance wrote first. */
export async function writeQueued(db: pg.ClientBase, batch: QueuedWrites, appliance: string): Promise<string[]> {
  const conflicts: string[] = [];
  for (const insert of batch.inserts) {
    const created = await db.query(INSERT_NODE_SQL, insertNodeArgs(insert));
    if (created.rowCount !== 1) conflicts.push(insert.mac);
    else if (insert.arm) await writeChange(db, insert.mac, insert.arm, insert.now, appliance);
  }
  // Guarded: one cancelled or armed meanwhile (here or by another appliance) is left as it is.
  for (const [mac, { change, at }] of batch.arms) if (!(await writeChange(db, mac, change, at, appliance))) conflicts.push(mac);
  if (batch.touches.size) await db.query(TOUCH_SQL, [touchesJson(batch.touches.values())]);
  for (const [mac, script] of batch.localBoots) await db.query('UPDATE nodes SET local_boot = $1 WHERE mac = $2', [script, mac]);
  if (batch.evictions.size) await db.query(EVICT_SQL, [[...batch.evictions]]);
  if (batch.events.length)
    await db.query(INSERT_EVENTS_SQL, [JSON.stringify(batch.events.map((e) => ({ ...e, code: e.code ?? null, detail: e.detail ?? null }))), appliance]);
  return conflicts;
}
