// Runs a PacketListener inside a test namespace, driven over stdio: prints {ready}, {heard} per
// datagram, and an acknowledgement per command; reads {listen: port}, {mute: true} and
// {send: {address, port, text}} (an ordinary UDP send from this namespace, to see that the
// listener ignores what its own host sends).
// Usage: node --import tsx packet-listener-child.ts <interface>
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import { PacketListener } from '../../src/net/packet-listener.ts';

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const iface = process.argv[2] ?? '';
let listener: PacketListener;
try {
  listener = PacketListener.open(iface);
} catch (err) {
  emit({ error: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } });
  process.exit(2);
}
const udp = dgram.createSocket('udp4');
emit({ ready: { iface } });

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { listen?: number; mute?: true; send?: { address: string; port: number; text: string } };
  if (command.listen !== undefined) {
    listener.listen(command.listen, (d) => emit({ heard: { ...d, payload: d.payload.toString() } }));
    emit({ listening: command.listen });
  }
  if (command.mute) {
    listener.mute();
    emit({ muted: true });
  }
  if (command.send) {
    const { address, port, text } = command.send;
    udp.send(Buffer.from(text), port, address, (err) => emit(err ? { error: { message: err.message } } : { sent: text }));
  }
});
