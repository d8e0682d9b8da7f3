// The group commit: every write the store holds (node rows, install history, events, and the
// leases of a DHCP commit) goes to SQLite in one transaction. Writes nobody waits for (sightings,
// events) are flushed within FLUSH_MS without waiting for the disk; a write that must survive a
// crash (an install consumption, an admin change) asks for a durable flush in this turn of the
// event loop, and everything pending rides along: 32 concurrent answers cost one fsync, not 32.
// DHCP lease commits (commitThenSync) do not stop the process for their fsync: it runs on the
// thread pool (wal-sync.ts) and the ACKs wait for it, while the next packets are handled.
import type { Db } from './database.ts';
import { WalSync } from './wal-sync.ts';

export const FLUSH_MS = 50;

/** A queue that drains into the batch's transaction. */
export interface BatchWriter {
  pending(): boolean;
  /** Writes the queue; runs inside the transaction. */
  write(): void;
  /** After the transaction committed: the queue is on disk (durable flushes) or in the WAL. */
  committed(): void;
  /** After the transaction rolled back: keep what must be written again, tell waiters. */
  failed(error: unknown): void;
}

export class WriteBehind {
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private durableWanted = false;
  private flushed: ((seconds: number) => void) | null = null;
  private readonly writers: BatchWriter[] = [];
  private readonly walSync: WalSync;

  /** `walSync`: tests pass one with a disk they control. */
  constructor(
    private readonly db: Db,
    walSync?: WalSync,
  ) {
    this.walSync = walSync ?? new WalSync(db.memory ? null : `${db.name}-wal`);
  }

  /** Writers run in the order added (node rows before the events that mention them). */
  add(writer: BatchWriter): void {
    this.writers.push(writer);
  }

  /** Written within FLUSH_MS; nobody waits for the disk. */
  schedule(): void {
    if (!this.timer && !this.immediate) {
      this.timer = setTimeout(() => this.flushQuietly(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Written, and fsynced, once this turn of the event loop ends: the waits of one turn share it. */
  scheduleDurable(): void {
    this.durableWanted = true;
    if (!this.immediate) this.immediate = setImmediate(() => this.flushQuietly());
  }

  /** A timer's flush: a failure is reported to the writers' waiters, then retried later. */
  private flushQuietly(): void {
    try {
      this.flush();
    } catch {
      this.schedule();
    }
  }

  /** Told how long each written batch took (the store's observer, for metrics). */
  onFlushed(listener: (seconds: number) => void): void {
    this.flushed = listener;
  }

  /**
   * Commits `work` (a DHCP commit's lease writes) and everything pending now without waiting for
   * the disk; the promise resolves once it is on disk (an fsync on the thread pool, shared by
   * every commit made meanwhile). Throws when the transaction fails. When a lifecycle change is
   * pending, whose waiters are told at commit, the commit waits for the disk inline instead.
   */
  commitThenSync(work: () => void): Promise<void> {
    if (this.durableWanted) {
      this.flush(true, work);
      return Promise.resolve();
    }
    this.flush(false, work);
    return this.walSync.barrier();
  }

  /** Ends the WAL sync (after the last flush, before the database closes). */
  close(): void {
    this.walSync.close();
  }

  /**
   * Writes everything pending now, in one transaction, with `work` first (a DHCP commit's lease
   * writes). Durable when asked or when a writer's waiter asked: on disk when this returns.
   * Throws when the transaction fails (after telling the writers).
   */
  flush(durable = false, work?: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (!work && !this.writers.some((w) => w.pending())) return;
    let writing: BatchWriter[] = [];
    const full = durable || this.durableWanted;
    this.durableWanted = false;
    // WAL with synchronous=NORMAL commits without an fsync and stays consistent; the next FULL
    // commit's fsync carries these pages too.
    if (!full) this.db.pragma('synchronous = NORMAL');
    const started = performance.now();
    try {
      this.db.transaction(() => {
        work?.();
        writing = this.writers.filter((w) => w.pending());
        for (const w of writing) w.write();
      })();
    } catch (err) {
      for (const w of writing) w.failed(err);
      throw err;
    } finally {
      if (!full) this.db.pragma('synchronous = FULL');
    }
    for (const w of writing) w.committed();
    this.flushed?.((performance.now() - started) / 1000);
  }
}
