// A TFTP reader that acknowledges each block after a pause: a download slow enough to watch.
import { createSocket } from 'node:dgram';

export interface SlowDownload {
  done: Promise<number>;
  cancel: () => void;
}

export function slowTftpDownload(port: number, file: string, pauseMs: number): SlowDownload {
  const socket = createSocket('udp4');
  let received = 0;
  let lastBlock = 0;
  let finished = false;
  let cancel = (): void => {};
  const done = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('slow TFTP download did not finish in 60 s')), 60_000);
    const finish = (err?: Error): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(received);
    };
    cancel = () => finish(new Error('cancelled'));
    socket.on('message', (msg, from) => {
      const opcode = msg.readUInt16BE(0);
      if (opcode === 5) return finish(new Error(`TFTP error ${msg.readUInt16BE(2)}: ${msg.subarray(4, msg.length - 1).toString()}`));
      if (opcode !== 3) return;
      const block = msg.readUInt16BE(2);
      if (block === lastBlock + 1) {
        lastBlock = block;
        received += msg.length - 4;
      }
      const ack = Buffer.from([0, 4, block >> 8, block & 255]);
      const last = msg.length - 4 < 512;
      setTimeout(() => {
        if (finished) return;
        // Close only once the last ACK has left, or the server never hears it.
        socket.send(ack, from.port, from.address, () => {
          if (last) finish();
        });
      }, pauseMs);
    });
    socket.bind(0, '127.0.0.1', () => {
      socket.send(Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0`)]), port, '127.0.0.1');
    });
  });
  return { done, cancel };
}
