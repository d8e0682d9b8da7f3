// One read transfer on its own socket (its own TID): sends the OACK or the first window, follows the
// client's ACKs through ReadWindow, retransmits on timeout a bounded number of times, and answers
// datagrams from any other address or port with ERROR 5 without letting them touch the transfer.
// Between windows it sends itself, it arms the socket's native fast path (src/tftp/pump.ts), which
// answers in-order ACKs while the bytes are in memory; whatever the fast path hands back, and every
// timer, starts by taking its counters back (sync), so the rules here stay the only rules.
import type { Logger } from '../log.ts';
import type { FileSource } from './files.ts';
import type { TransferParameters } from './options.ts';
import { ErrorCode, Opcode, encodeError, encodeOack, parsePacket } from './packet.ts';
import type { TransferSocket } from './pump.ts';
import { ReadWindow, type BlockRange } from './window.ts';

export interface Peer {
  address: string;
  port: number;
}

export interface TransferTiming {
  /** Milliseconds before an unanswered window (or OACK) is sent again. */
  retransmitMs: number;
  /** Retransmissions in a row without progress before the transfer is given up. */
  retries: number;
  /** Milliseconds without progress before the transfer is dropped, whatever the retries. */
  idleMs: number;
}

export interface TransferEnd {
  /** 'size-asked': the client read the OACK's tsize and ended before any data, as UEFI PXE does first. */
  outcome: 'served' | 'size-asked' | 'error';
  /** For 'error' and 'size-asked': why, in words; for 'served': empty. */
  reason: string;
  /** Bytes the client acknowledged. */
  bytes: number;
  ms: number;
  retransmits: number;
}

/** Where a datagram came from. */
export interface Sender {
  address: string;
  port: number;
}

export interface ReadTransferOptions {
  socket: TransferSocket;
  peer: Peer;
  source: FileSource;
  params: TransferParameters;
  timing: TransferTiming;
  logger: Logger;
  onEnd(end: TransferEnd): void;
  /** Told of each datagram from another address or port (already answered with ERROR 5). */
  onStranger?(from: Sender): void;
}

export class ReadTransfer {
  private readonly window: ReadWindow;
  private timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private lastProgressAt = this.startedAt;
  /** When a window (or the OACK) last went out, from here or from the fast path. */
  private lastSendAt = this.startedAt;
  /** The native fast path holds the window state until sync() takes it back. */
  private armed = false;
  private awaitingOackAck: boolean;
  private loading = false;
  private timeoutsInARow = 0;
  private oackResends = 0;
  private ended = false;

  constructor(private readonly options: ReadTransferOptions) {
    const { params, source } = options;
    this.window = new ReadWindow(source.size, params.blksize, params.windowsize);
    this.awaitingOackAck = params.oack.length > 0;
    this.timer = setTimeout(() => this.onTimeout(), this.retransmitMs());
    options.socket.start(options.peer, { size: source.size, blksize: params.blksize, windowsize: params.windowsize }, (data, address, port) => {
      if (data === null) this.onFastPathStopped();
      else this.onMessage(data, { address, port });
    });
  }

  /** Bytes the client has acknowledged so far (the live transfer table reads it). */
  get bytesAcknowledged(): number {
    const acked = this.armed ? this.options.socket.acked : this.window.acknowledged;
    return acked === 0 ? 0 : this.window.bytesOf(acked).end;
  }

  start(): void {
    if (this.awaitingOackAck) this.sendOack();
    else this.sendWindow();
  }

  /** Ends the transfer now, telling the client why (shutdown, reload…). */
  abort(reason: string): void {
    if (this.ended) return;
    this.send(encodeError(ErrorCode.NOT_DEFINED, reason));
    this.finish('error', reason);
  }

  private retransmitMs(): number {
    const negotiated = this.options.params.timeout;
    return negotiated === null ? this.options.timing.retransmitMs : negotiated * 1000;
  }

  /** Takes the window state back from the fast path; its progress counts as progress made when it last sent. */
  private sync(): void {
    if (!this.armed) return;
    this.armed = false;
    const before = this.window.acknowledged;
    const state = this.options.socket.disarm();
    this.window.adopt(state);
    const sentAt = performance.now() - state.msSinceSend;
    if (sentAt > this.lastSendAt) this.lastSendAt = sentAt;
    if (state.acked > before) {
      this.timeoutsInARow = 0;
      this.lastProgressAt = sentAt;
    }
  }

  /** Hands the steady state to the fast path: a window is out and its bytes are in memory. */
  private rearm(): void {
    if (this.armed || this.ended || this.loading || this.awaitingOackAck || this.window.complete) return;
    const { bytes, base } = this.options.source.held();
    this.options.socket.arm(bytes, base, this.window.state());
    this.armed = true;
  }

  /** The fast path stopped on an ACK it could not answer: the last block, or the next window's bytes are not in memory. */
  private onFastPathStopped(): void {
    try {
      if (this.ended) return;
      this.sync();
      this.progressed();
      if (this.window.complete) this.finish('served', '');
      else this.sendWindow();
    } catch (err) {
      this.options.logger.error({ err }, 'tftp: transfer fast path handler failed');
      this.abort('internal error');
    }
  }

  private onMessage(msg: Buffer, from: Sender): void {
    try {
      if (this.ended) return;
      const { peer } = this.options;
      if (from.address !== peer.address || from.port !== peer.port) {
        this.answerStranger(msg, from);
        return;
      }
      this.sync();
      this.handlePeer(msg);
      this.rearm();
    } catch (err) {
      this.options.logger.error({ err }, 'tftp: transfer packet handler failed');
      this.abort('internal error');
    }
  }

  private handlePeer(msg: Buffer): void {
    const parsed = parsePacket(msg);
    if (!parsed.ok) return; // a garbled datagram from the client: the timer covers a real loss
    const packet = parsed.packet;
    if (packet.opcode === Opcode.ACK) this.onAck(packet.block);
    else if (packet.opcode === Opcode.ERROR) {
      // Firmware (OVMF, most UEFI PXE ROMs) asks once with tsize only to learn the size, then
      // asks again for the file: that first request is no failure, and should not read as one.
      const sizeOnly = this.awaitingOackAck && this.options.params.oack.some((o) => o.name === 'tsize');
      if (sizeOnly)
        this.finish(
          'size-asked',
          `the client read the size (tsize) and ended before the data (ERROR ${packet.code}), as UEFI PXE firmware does before the real download`,
        );
      else this.finish('error', `client ended the transfer: ERROR ${packet.code} ${JSON.stringify(packet.message.slice(0, 80))}`);
    }
  }

  private answerStranger(msg: Buffer, from: Sender): void {
    this.options.onStranger?.(from);
    // Never answer an ERROR with an ERROR: two confused hosts would bounce them forever.
    if (msg.length >= 2 && msg.readUInt16BE(0) === Opcode.ERROR) return;
    if (from.port === 0) return;
    this.options.socket.send(encodeError(ErrorCode.UNKNOWN_TID, 'unknown transfer ID'), from.port, from.address);
  }

  private onAck(block: number): void {
    if (this.loading) return; // nothing of the next window is out yet, so there is nothing new to acknowledge
    if (this.awaitingOackAck) {
      if (block !== 0) return;
      this.awaitingOackAck = false;
      this.progressed();
      this.sendWindow();
      return;
    }
    const outcome = this.window.onAck(block);
    if (outcome === 'done') {
      this.finish('served', '');
    } else if (outcome === 'progress') {
      this.progressed();
      this.sendWindow();
    }
  }

  private progressed(): void {
    this.timeoutsInARow = 0;
    this.lastProgressAt = performance.now();
  }

  private onTimeout(): void {
    if (this.ended) return;
    if (this.loading) {
      this.timer.refresh();
      return;
    }
    this.sync();
    // The fast path sent since this timer was set: wait out the rest of the interval from then.
    const waited = performance.now() - this.lastSendAt;
    if (waited < this.retransmitMs()) {
      this.timer = setTimeout(() => this.onTimeout(), this.retransmitMs() - waited);
      this.rearm();
      return;
    }
    const { retries, idleMs } = this.options.timing;
    const idleFor = performance.now() - this.lastProgressAt;
    if (idleFor >= idleMs) {
      this.abort(`no progress for ${(idleFor / 1000).toFixed(1)} s`);
      return;
    }
    if (this.timeoutsInARow >= retries) {
      this.abort(`no ACK after ${retries} retransmissions`);
      return;
    }
    this.timeoutsInARow += 1;
    if (this.awaitingOackAck) {
      this.oackResends += 1;
      this.sendOack();
    } else {
      this.sendWindow();
    }
  }

  private sendOack(): void {
    this.send(encodeOack(this.options.params.oack));
    this.sent();
  }

  /** A window or the OACK just went out: the retransmit interval starts again. */
  private sent(): void {
    this.lastSendAt = performance.now();
    this.timer.refresh();
  }

  private sendWindow(): void {
    const range = this.window.nextWindow();
    if (!range) return;
    const start = this.window.bytesOf(range.first).start;
    const end = this.window.bytesOf(range.last).end;
    const data = this.options.source.read(start, end);
    if (Buffer.isBuffer(data)) {
      this.sendBlocks(range, data, start);
      return;
    }
    this.timer.refresh();
    this.loading = true;
    data.then(
      (bytes) => {
        this.loading = false;
        if (!this.ended) this.sendBlocks(range, bytes, start);
      },
      (err: Error) => this.abort(`read failed: ${err.message}`),
    );
  }

  private sendBlocks(range: BlockRange, bytes: Buffer, base: number): void {
    // Header and payload go out as one datagram each (sendmsg/sendmmsg with two parts: the payload
    // is not copied); a datagram the kernel will not take is a lost packet, which the timer covers.
    this.options.socket.sendBlocks(bytes, base, range.first, range.last);
    this.sent();
    this.rearm();
  }

  private send(packet: Buffer): void {
    const { socket, peer } = this.options;
    socket.send(packet, peer.port, peer.address); // false once closed: nothing left to tell
  }

  private finish(outcome: TransferEnd['outcome'], reason: string): void {
    if (this.ended) return;
    this.sync();
    this.ended = true;
    clearTimeout(this.timer);
    this.options.source.close();
    const acked = this.window.acknowledged;
    const bytes = acked === 0 ? 0 : this.window.bytesOf(acked).end;
    const end: TransferEnd = {
      outcome,
      reason,
      bytes,
      ms: performance.now() - this.startedAt,
      retransmits: this.window.retransmits + this.oackResends,
    };
    // Close after the ERROR we may have just queued has left.
    setImmediate(() => {
      try {
        this.options.socket.close();
      } catch {
        // already closed
      }
    });
    this.options.onEnd(end);
  }
}
