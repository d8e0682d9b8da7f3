// Log lines and events about refused or malformed datagrams, at most a few per second per kind:
// a flood of junk on the boot VLAN must not flood the log and the event store with it.
import type { Logger } from '../log.ts';

export class RateLimitedNotices {
  private readonly windows = new Map<string, { startedAt: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly perSecond = 20,
  ) {}

  /** Runs `emit` unless this kind already emitted `perSecond` times in the current second. */
  note(kind: string, emit: () => void): void {
    const now = Date.now();
    let window = this.windows.get(kind);
    if (!window || now - window.startedAt >= 1000) {
      if (window && window.suppressed > 0) {
        this.logger.warn({ kind, suppressed: window.suppressed }, `tftp: ${window.suppressed} more ${kind} notices suppressed`);
      }
      window = { startedAt: now, count: 0, suppressed: 0 };
      this.windows.set(kind, window);
    }
    if (window.count >= this.perSecond) {
      window.suppressed += 1;
      return;
    }
    window.count += 1;
    emit();
  }
}
