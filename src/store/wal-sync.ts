// The disk wait of a lease commit, off the event loop: the transaction commits without an fsync
// (WAL, synchronous = NORMAL: consistent, and visible to readers at once), then one fsync of the
// WAL file on libuv's thread pool makes it durable. Commits made while an fsync runs wait for the
// next one, which covers them all: the group commit goes on while the disk works, instead of the
// whole process stopping for each fsync.
import { closeSync, fsync, openSync } from 'node:fs';

/** Resolves once everything committed before the call is on disk; rejects when the disk refuses. */
export type DiskBarrier = () => Promise<void>;

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class WalSync {
  private fd: number | null = null;
  private running = false;
  private waiting: Waiter[] = [];

  /** `walPath`: the database's `-wal` file; null for a database with no file (in memory). */
  constructor(
    private readonly walPath: string | null,
    private readonly syncFile: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void = fsync,
  ) {}

  readonly barrier: DiskBarrier = () => {
    if (this.walPath === null) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.running) this.start();
    });
  };

  private start(): void {
    const round = this.waiting;
    this.waiting = [];
    this.running = true;
    const finish = (err: unknown): void => {
      this.running = false;
      for (const w of round) {
        if (err) w.reject(err);
        else w.resolve();
      }
      if (this.waiting.length > 0) this.start();
    };
    try {
      // Opened once the WAL exists (after the first commit); SQLite keeps the same file while open.
      this.fd ??= openSync(this.walPath!, 'r');
      this.syncFile(this.fd, (err) => finish(err));
    } catch (err) {
      finish(err);
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
