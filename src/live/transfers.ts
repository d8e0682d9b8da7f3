// The transfers in flight (TFTP and HTTP asset downloads), for the dashboard's Live page.
// Transports register a transfer and hand a way to read its progress; nothing is pushed per block.

export type TransferProtocol = 'tftp' | 'http';

export interface TransferStart {
  protocol: TransferProtocol;
  /** The client's address (shown to the operator; never a metric label). */
  client: string;
  file: string;
  /** Total bytes, when known. */
  size: number | null;
  /** Bytes done so far (acknowledged for TFTP, written for HTTP). */
  bytes: () => number;
}

export interface LiveTransfer {
  id: number;
  protocol: TransferProtocol;
  client: string;
  file: string;
  size: number | null;
  bytes: number;
  startedAt: number;
  /** Bytes per second over the whole transfer so far. */
  rate: number;
}

interface Entry {
  start: TransferStart;
  id: number;
  startedAt: number;
}

/** Above this many, new transfers are not listed (they still run): the table must stay small. */
const MAX_LISTED = 2000;

export class TransferTable {
  private readonly entries = new Map<number, Entry>();
  private nextId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  /** Returns the function that removes the transfer when it ends. */
  add(start: TransferStart): () => void {
    if (this.entries.size >= MAX_LISTED) return () => {};
    const id = this.nextId++;
    this.entries.set(id, { start, id, startedAt: this.now() });
    return () => {
      this.entries.delete(id);
    };
  }

  get size(): number {
    return this.entries.size;
  }

  list(): LiveTransfer[] {
    const now = this.now();
    return [...this.entries.values()].map(({ start, id, startedAt }) => {
      let bytes = 0;
      try {
        bytes = start.bytes();
      } catch {
        // a transfer that cannot say is shown at 0
      }
      const seconds = Math.max((now - startedAt) / 1000, 0.001);
      return { id, protocol: start.protocol, client: start.client, file: start.file, size: start.size, bytes, startedAt, rate: Math.round(bytes / seconds) };
    });
  }
}
