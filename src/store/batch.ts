// The write-behind batch: events and last-seen facts are queued and written together within
// FLUSH_MS in one transaction, so hot paths (/boot, DHCP storms) never wait for an fsync.
import type { Db } from './database.ts';

export const FLUSH_MS = 50;

/** A queue that drains into the batch's transaction. */
export interface BatchWriter {
  pending(): boolean;
  /** Writes and clears the queue; runs inside the transaction. */
  write(): void;
}

export class WriteBehind {
  private timer: NodeJS.Timeout | null = null;
  private readonly writers: BatchWriter[] = [];
  private flushed: ((seconds: number) => void) | null = null;
  private readonly transaction: () => void;

  constructor(db: Db) {
    this.transaction = db.transaction(() => {
      for (const w of this.writers) w.write();
    });
  }

  /** Writers run in the order added (node facts before the events that mention them). */
  add(writer: BatchWriter): void {
    this.writers.push(writer);
  }

  /** Told how long each written batch took (the store's observer, for metrics). */
  onFlushed(listener: (seconds: number) => void): void {
    this.flushed = listener;
  }

  schedule(): void {
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.writers.some((w) => w.pending())) return;
    const started = performance.now();
    this.transaction();
    this.flushed?.((performance.now() - started) / 1000);
  }
}
