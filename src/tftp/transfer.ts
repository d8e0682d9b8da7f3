// One read transfer on its own socket (its own TID): sends the OACK or the first window, follows the
// client's ACKs through ReadWindow, retransmits on timeout a bounded number of times, and answers
// datagrams from any other address or port with ERROR 5 without letting them touch the transfer.
import type { Socket, RemoteInfo } from 'node:dgram';
import type { Logger } from '../log.ts';
import type { FileSource } from './files.ts';
import type { TransferParameters } from './options.ts';
import { ErrorCode, Opcode, encodeDataHeader, encodeError, encodeOack, parsePacket } from './packet.ts';
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

export interface ReadTransferOptions {
  socket: Socket;
  peer: Peer;
  source: FileSource;
  params: TransferParameters;
  timing: TransferTiming;
  logger: Logger;
  onEnd(end: TransferEnd): void;
  /** Told of each datagram from another address or port (already answered with ERROR 5). */
  onStranger?(from: RemoteInfo): void;
}

export class ReadTransfer {
  private readonly window: ReadWindow;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private lastProgressAt = this.startedAt;
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
    options.socket.on('message', (msg, from) => this.onMessage(msg, from));
    options.socket.on('error', (err) => this.finish('error', `socket error: ${err.message}`));
  }

  /** Bytes the client has acknowledged so far (the live transfer table reads it). */
  get bytesAcknowledged(): number {
    const acked = this.window.acknowledged;
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

  private onMessage(msg: Buffer, from: RemoteInfo): void {
    try {
      if (this.ended) return;
      const { peer } = this.options;
      if (from.address !== peer.address || from.port !== peer.port) {
        this.answerStranger(msg, from);
        return;
      }
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
    } catch (err) {
      this.options.logger.error({ err }, 'tftp: transfer packet handler failed');
      this.abort('internal error');
    }
  }

  private answerStranger(msg: Buffer, from: RemoteInfo): void {
    this.options.onStranger?.(from);
    // Never answer an ERROR with an ERROR: two confused hosts would bounce them forever.
    if (msg.length >= 2 && msg.readUInt16BE(0) === Opcode.ERROR) return;
    if (from.port === 0) return;
    this.options.socket.send(encodeError(ErrorCode.UNKNOWN_TID, 'unknown transfer ID'), from.port, from.address, () => {});
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
    const { socket, peer } = this.options;
    for (let block = range.first; block <= range.last; block++) {
      const { start, end } = this.window.bytesOf(block);
      // Header and payload go out as one datagram (sendmsg with two parts): the payload is not copied.
      // No send callback: Node then skips a completion round-trip per datagram, and a lost send is a lost packet.
      socket.send([encodeDataHeader(block), bytes.subarray(start - base, end - base)], peer.port, peer.address);
    }
    this.timer.refresh();
  }

  private send(packet: Buffer): void {
    const { socket, peer } = this.options;
    try {
      socket.send(packet, peer.port, peer.address);
    } catch {
      // the socket is already closed: nothing left to tell
    }
  }

  private finish(outcome: TransferEnd['outcome'], reason: string): void {
    if (this.ended) return;
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
