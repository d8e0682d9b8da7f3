// Which blocks a read transfer sends next, given the ACKs it got (RFC 1350 lockstep, RFC 7440 windows).
// Pure state: no socket, no clock. Block numbers here are absolute (1, 2, … past 65535);
// the wire carries them modulo 65536, so block 65536 goes out as 0. The native fast path applies
// the same rules in native/tftp_window_core.c; test/tftp/window-core.test.ts holds the two together.

export type AckOutcome =
  /** Acknowledged new blocks; send the returned window next (or nothing when `done`). */
  | 'progress'
  /** The last block is acknowledged: the transfer is complete. */
  | 'done'
  /** An ACK for a block already acknowledged: ignored, never answered (no Sorcerer's Apprentice). */
  | 'duplicate'
  /** An ACK for a block we have not sent: ignored. */
  | 'stray';

export interface BlockRange {
  first: number;
  last: number;
}

export class ReadWindow {
  /** Absolute number of the final block; a file whose size is a multiple of blksize ends with an empty one. */
  readonly lastBlock: number;
  /** Highest block the client has acknowledged in order. */
  private acked = 0;
  /** Highest block of the window in flight. */
  private sentUpTo = 0;
  /** Highest block ever sent: sending one at or below it again counts as a retransmission. */
  private highestSent = 0;
  private retransmittedBlocks = 0;

  constructor(
    readonly size: number,
    readonly blksize: number,
    readonly windowsize: number,
  ) {
    this.lastBlock = Math.floor(size / blksize) + 1;
  }

  get acknowledged(): number {
    return this.acked;
  }

  get retransmits(): number {
    return this.retransmittedBlocks;
  }

  get complete(): boolean {
    return this.acked === this.lastBlock;
  }

  /** The counters, for the native fast path to carry on from (src/tftp/pump.ts). */
  state(): { acked: number; sentUpTo: number; highestSent: number; retransmits: number } {
    return { acked: this.acked, sentUpTo: this.sentUpTo, highestSent: this.highestSent, retransmits: this.retransmittedBlocks };
  }

  /** Takes back the counters after the fast path moved them (it only ever moves them forward). */
  adopt(state: { acked: number; sentUpTo: number; highestSent: number; retransmits: number }): void {
    this.acked = state.acked;
    this.sentUpTo = state.sentUpTo;
    this.highestSent = state.highestSent;
    this.retransmittedBlocks = state.retransmits;
  }

  /** Byte range [start, end) of an absolute block. */
  bytesOf(block: number): { start: number; end: number } {
    const start = (block - 1) * this.blksize;
    return { start, end: Math.min(start + this.blksize, this.size) };
  }

  /**
   * The window to send now, starting after the last acknowledged block; calling it again
   * before new ACKs arrive (a timeout) sends the same window again.
   */
  nextWindow(): BlockRange | null {
    if (this.complete) return null;
    const first = this.acked + 1;
    const last = Math.min(this.acked + this.windowsize, this.lastBlock);
    this.retransmittedBlocks += Math.max(0, Math.min(last, this.highestSent) - first + 1);
    this.sentUpTo = last;
    this.highestSent = Math.max(this.highestSent, last);
    return { first, last };
  }

  /**
   * Takes an ACK as on the wire. An ACK inside the window but before its end means the client
   * lost the block after it: the next window restarts there (RFC 7440 section 4).
   */
  onAck(wireBlock: number): AckOutcome {
    const distance = (wireBlock - (this.acked % 65536) + 65536) % 65536;
    if (distance === 0) return 'duplicate';
    if (this.acked + distance > this.sentUpTo) return 'stray';
    this.acked += distance;
    return this.complete ? 'done' : 'progress';
  }
}
