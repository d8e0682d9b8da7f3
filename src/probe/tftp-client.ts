// A TFTP client as PXE firmware runs it: RRQ with blksize, windowsize (RFC 7440) and tsize,
// ACK per window, re-ACK on silence. It counts the bytes and keeps none of them.
import { encodeAck, encodeError, encodeRequest, ErrorCode, Opcode, parsePacket } from '../tftp/packet.ts';
import { UdpDeviceSocket } from '../net/udp-device.ts';

export interface TftpFetchOptions {
  server: string;
  port?: number;
  file: string;
  /** Source address (the leased one) and the interface to leave through. */
  localAddress: string;
  interface: string;
  blksize: number;
  windowsize: number;
  /** Silence before resending the last RRQ/ACK. */
  timeoutMs?: number;
  /** Resends before giving up. */
  retries?: number;
}

export type TftpFetchResult = { ok: true; bytes: number; blksize: number; windowsize: number; tsize?: number } | { ok: false; reason: string; bytes: number };

export async function tftpFetch(options: TftpFetchOptions): Promise<TftpFetchResult> {
  const socket = await UdpDeviceSocket.open({ port: 0, address: options.localAddress, interface: options.interface, broadcast: false });
  const serverPort = options.port ?? 69;
  const timeoutMs = options.timeoutMs ?? 1000;
  const retries = options.retries ?? 5;
  const request = encodeRequest({
    filename: options.file,
    mode: 'octet',
    options: [
      { name: 'blksize', value: String(options.blksize) },
      { name: 'tsize', value: '0' },
      ...(options.windowsize > 1 ? [{ name: 'windowsize', value: String(options.windowsize) }] : []),
    ],
  });

  return await new Promise<TftpFetchResult>((resolve) => {
    // Until the server answers, with no options granted: RFC 1350 defaults.
    let tid: number | null = null;
    let blksize = 512;
    let windowsize = 1;
    let tsize: number | undefined;
    let bytes = 0;
    let lastInOrder = 0; // block number, counting past 65535
    let inWindow = 0;
    let lastSent = request;
    let lastSentAt = 0;
    let lastProgressAt = 0;
    let silentRounds = 0;
    let finished = false;

    const send = (packet: Buffer): void => {
      lastSent = packet;
      lastSentAt = Date.now();
      socket.send(packet, tid ?? serverPort, options.server).catch(() => undefined);
    };
    const finish = (result: TftpFetchResult): void => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      void socket.close();
      resolve(result);
    };
    const ack = (block: number): void => {
      inWindow = 0;
      send(encodeAck(block));
    };

    const timer = setInterval(
      () => {
        if (Date.now() - Math.max(lastSentAt, lastProgressAt) < timeoutMs) return;
        silentRounds += 1;
        if (silentRounds > retries) {
          const where =
            tid === null ? `no answer to the request from ${options.server}:${serverPort}` : `the transfer stalled after block ${lastInOrder} (${bytes} bytes)`;
          finish({ ok: false, reason: `${where}, ${retries} resends`, bytes });
          return;
        }
        send(lastSent);
      },
      Math.max(20, Math.floor(timeoutMs / 4)),
    );

    socket.onMessage((d) => {
      if (finished || d.address !== options.server) return;
      if (tid !== null && d.port !== tid) {
        socket.send(encodeError(ErrorCode.UNKNOWN_TID, 'unknown transfer id'), d.port, d.address).catch(() => undefined);
        return;
      }
      const parsed = parsePacket(d.data);
      if (!parsed.ok) return;
      const packet = parsed.packet;
      if (packet.opcode === Opcode.ERROR) {
        finish({ ok: false, reason: `TFTP error ${packet.code} from ${options.server}: ${packet.message}`, bytes });
        return;
      }
      tid ??= d.port;
      silentRounds = 0;
      if (packet.opcode === Opcode.OACK) {
        if (lastInOrder !== 0) return;
        for (const option of packet.options) {
          const value = Number(option.value);
          if (option.name === 'blksize') blksize = value;
          else if (option.name === 'windowsize') windowsize = value;
          else if (option.name === 'tsize') tsize = value;
        }
        if (!(blksize >= 8 && blksize <= options.blksize) || !(windowsize >= 1 && windowsize <= Math.max(1, options.windowsize))) {
          socket.send(encodeError(ErrorCode.OPTION_REFUSED, 'option value out of range'), d.port, d.address).catch(() => undefined);
          finish({ ok: false, reason: `the server granted blksize ${blksize}, windowsize ${windowsize}: more than asked`, bytes });
          return;
        }
        ack(0);
        return;
      }
      if (packet.opcode !== Opcode.DATA) return;
      if (packet.block === ((lastInOrder + 1) & 0xffff)) {
        lastInOrder += 1;
        lastProgressAt = Date.now();
        bytes += packet.data.length;
        inWindow += 1;
        if (packet.data.length < blksize) {
          ack(packet.block);
          finish({ ok: true, bytes, blksize, windowsize, ...(tsize !== undefined ? { tsize } : {}) });
        } else if (inWindow >= windowsize) {
          ack(packet.block);
        }
      } else if (Date.now() - lastSentAt > timeoutMs / 8) {
        // Out of order or a resent window: say once which block we have, the server goes on from there.
        ack(lastInOrder & 0xffff);
      }
    });
    send(request);
  });
}
