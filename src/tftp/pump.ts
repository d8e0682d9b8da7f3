// The socket of one read transfer (its TID), backed by native/tftp_pump.c: datagrams reach
// JavaScript as from a dgram socket, and once armed with bytes in memory the native side answers
// in-order ACKs with the next window itself (see the C file for why). ReadTransfer owns the state
// and reads it back (disarm) before it acts on anything.
import { udpDeviceAddon } from '../net/addon.ts';

type PumpHandle = object & { readonly __tftpPump: unique symbol };

/** Window state as ReadWindow keeps it (absolute block numbers). */
export interface WindowState {
  acked: number;
  sentUpTo: number;
  highestSent: number;
  retransmits: number;
}

export interface DisarmedState extends WindowState {
  /** Milliseconds since a window last went out (from JS or the fast path). */
  msSinceSend: number;
  /** False when the fast path had already stopped (or was never armed). */
  wasArmed: boolean;
}

/** A datagram for JavaScript, or null: the fast path stopped (file acknowledged, or its bytes ran out). */
export type PumpHandler = (data: Buffer | null, address: string, port: number) => void;

interface NativePump {
  pumpOpen(address: string): PumpHandle;
  pumpLocalPort(handle: PumpHandle): number;
  pumpStart(handle: PumpHandle, peerAddress: string, peerPort: number, size: number, blksize: number, windowsize: number, callback: PumpHandler): void;
  pumpSend(handle: PumpHandle, data: Buffer, port: number, address: string): void;
  pumpSendBlocks(handle: PumpHandle, data: Buffer, base: number, first: number, last: number): void;
  pumpArm(handle: PumpHandle, data: Buffer, base: number, acked: number, sentUpTo: number, highestSent: number, retransmits: number): void;
  pumpDisarm(handle: PumpHandle): [number, number, number, number, number, number];
  pumpAcked(handle: PumpHandle): number;
  pumpClose(handle: PumpHandle): void;
}

function native(): NativePump {
  return udpDeviceAddon<NativePump>('pumpOpen', 'the TFTP transfer socket');
}

/** Native errors carry the errno name in .code (EADDRNOTAVAIL, …), as dgram's do. */
export class TransferSocket {
  private closed = false;

  private constructor(
    private readonly handle: PumpHandle,
    readonly port: number,
  ) {}

  /** Binds address:0 (throws with .code on failure). */
  static open(address: string): TransferSocket {
    const addon = native();
    const handle = addon.pumpOpen(address);
    try {
      return new TransferSocket(handle, addon.pumpLocalPort(handle));
    } catch (err) {
      addon.pumpClose(handle);
      throw err;
    }
  }

  /** Starts receiving; the transfer's shape lets the fast path number and cut blocks. */
  start(peer: { address: string; port: number }, shape: { size: number; blksize: number; windowsize: number }, handler: PumpHandler): void {
    native().pumpStart(this.handle, peer.address, peer.port, shape.size, shape.blksize, shape.windowsize, handler);
  }

  /** One datagram; false when it could not be sent (closed socket, full buffer: a lost packet). */
  send(data: Buffer, port: number, address: string): boolean {
    if (this.closed) return false;
    try {
      native().pumpSend(this.handle, data, port, address);
      return true;
    } catch {
      return false;
    }
  }

  /** DATA blocks first..last to the peer; `data` holds the file's bytes from offset `base`. */
  sendBlocks(data: Buffer, base: number, first: number, last: number): void {
    if (!this.closed) native().pumpSendBlocks(this.handle, data, base, first, last);
  }

  arm(data: Buffer, base: number, state: WindowState): void {
    if (!this.closed) native().pumpArm(this.handle, data, base, state.acked, state.sentUpTo, state.highestSent, state.retransmits);
  }

  disarm(): DisarmedState {
    const [acked, sentUpTo, highestSent, retransmits, msSinceSend, wasArmed] = native().pumpDisarm(this.handle);
    return { acked, sentUpTo, highestSent, retransmits, msSinceSend, wasArmed: wasArmed === 1 };
  }

  /** The in-order acknowledged block as the fast path last saw it (for the live table). */
  get acked(): number {
    return native().pumpAcked(this.handle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().pumpClose(this.handle);
  }
}
