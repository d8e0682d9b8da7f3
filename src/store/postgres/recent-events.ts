// The events this appliance recorded, the newest `capacity` of them, for its admin API and
// explain: reading them must not wait on PostgreSQL (which holds the whole fleet's log).
import type { BootEvent } from '../../boot/events.ts';
import type { EventQuery, StoredEvent } from '../../boot/ports.ts';

export class RecentEvents {
  private readonly events: StoredEvent[] = [];
  private nextId = 1;

  constructor(private readonly capacity: number) {}

  add(event: BootEvent): void {
    this.events.push({ ...event, id: this.nextId++ });
    if (this.events.length > this.capacity) this.events.shift();
  }

  /** Newest last, as EventLog.events. */
  query(query: EventQuery = {}): StoredEvent[] {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000));
    const out: StoredEvent[] = [];
    for (let i = this.events.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.events[i]!;
      if (query.sinceId !== undefined && e.id <= query.sinceId) break;
      if ((query.mac && e.mac !== query.mac) || (query.protocol && e.protocol !== query.protocol)) continue;
      out.push(e);
    }
    return out.reverse();
  }
}
