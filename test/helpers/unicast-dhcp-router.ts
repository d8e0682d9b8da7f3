// A home router's DHCP server that ignores the broadcast flag, for namespace tests: to every
// DISCOVER it answers an OFFER by unicast to the address it offers, the frame addressed to the
// client's MAC (it puts that MAC in its neighbour table first, as a real server does with
// SIOCSARP). The client has no such address yet, so only a listener below IP hears it. Real
// dnsmasq cannot play this part: it always honours the flag. Each MAC gets its own address,
// counting up from `offer`, so two clients' neighbour entries never overwrite each other.
// Usage: node --import tsx unicast-dhcp-router.ts '{"iface":"eth0","serverId":"…","offer":"…"}'
// Prints JSON lines: {ready}, then {offered: {to, mac, xid}} per OFFER sent.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promisify } from 'node:util';
import { encodeDhcp, parseDhcp, replyFrame } from '../../src/dhcp/codec.ts';
import { MessageType } from '../../src/dhcp/options.ts';

const run = promisify(execFile);
const { iface, serverId, offer } = JSON.parse(process.argv[2] ?? '{}') as { iface: string; serverId: string; offer: string };

function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const macText = (chaddr: Buffer): string =>
  chaddr
    .subarray(0, 6)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1:');

const addresses = new Map<string, string>();
function addressFor(mac: string): string {
  let address = addresses.get(mac);
  if (!address) {
    const octets = offer.split('.').map(Number);
    octets[3] = octets[3]! + addresses.size;
    address = octets.join('.');
    addresses.set(mac, address);
  }
  return address;
}

const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (data) => {
  const parsed = parseDhcp(data);
  if (!parsed.ok || parsed.packet.op !== 1 || parsed.packet.options.read('messageType') !== MessageType.DISCOVER) return;
  const request = parsed.packet;
  const mac = macText(request.chaddr);
  const to = addressFor(mac);
  const reply = replyFrame(request);
  reply.yiaddr = to;
  reply.siaddr = serverId;
  reply.options
    .write('messageType', MessageType.OFFER)
    .write('serverId', serverId)
    .write('leaseTime', 600)
    .write('subnetMask', '255.255.255.0')
    .write('routers', [serverId]);
  void run('ip', ['neigh', 'replace', to, 'lladdr', mac, 'dev', iface, 'nud', 'permanent']).then(
    () =>
      socket.send(encodeDhcp(reply), 68, to, (err) => {
        emit(err ? { error: { message: err.message } } : { offered: { to, mac, xid: request.xid } });
      }),
    (err: Error) => emit({ error: { message: err.message } }),
  );
});
socket.bind(67, '0.0.0.0', () => emit({ ready: { port: 67 } }));
