// A crafted-packet DHCP client for tests, run inside a client namespace that has an address
// outside the pool (so the kernel can route 255.255.255.255). Prints one line per outcome.
//   storm <count> <seconds> <per10ms>   many MACs do DISCOVER/OFFER/REQUEST/ACK; prints "ACK <mac> <ip>"
//   reboot <mac=ip,...>       INIT-REBOOT REQUEST for each; prints "ACK|NAK <mac> <ip>"
//   garbage <server>          malformed datagrams to <server>:67, then one DISCOVER; prints "OFFER <mac> <ip>"
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { encodeDhcp, parseDhcp, clientMac } from '../../src/dhcp/codec.ts';
import { dhcpRequest, T } from './dhcp-packets.ts';

const [mode = '', a = '', b = '', c = '20'] = process.argv.slice(2);
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((resolve) => socket.bind(68, '0.0.0.0', resolve));
socket.setBroadcast(true);

const send = (bytes: Buffer, to = '255.255.255.255') => socket.send(bytes, 67, to);
const macFor = (i: number) => `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((n) => n.toString(16).padStart(2, '0')).join(':')}`;
const done = () => {
  socket.close();
  process.exit(0);
};

if (mode === 'storm') {
  const count = Number(a);
  const seconds = Number(b);
  const requested = new Set<string>();
  socket.on('message', (data) => {
    const r = parseDhcp(data);
    if (!r.ok) return;
    const mac = clientMac(r.packet)!;
    const type = r.packet.options.read('messageType');
    if (type === T.OFFER && !requested.has(mac)) {
      requested.add(mac);
      send(
        encodeDhcp(
          dhcpRequest({ mac, type: T.REQUEST, xid: r.packet.xid, serverId: r.packet.options.read('serverId'), requested: r.packet.yiaddr, broadcast: true }),
        ),
      );
    } else if (type === T.ACK) {
      process.stdout.write(`ACK ${mac} ${r.packet.yiaddr}\n`);
    }
  });
  // Paced in small bursts so the test is bounded in rate as well as count and time.
  let next = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < Number(c) && next < count; k++, next++)
      send(encodeDhcp(dhcpRequest({ mac: macFor(next + 1), type: T.DISCOVER, xid: next + 1, broadcast: true })));
  }, 10);
  setTimeout(() => {
    clearInterval(timer);
    done();
  }, seconds * 1000);
} else if (mode === 'reboot') {
  const pairs = a.split(',').map((p) => p.split('=') as [string, string]);
  const pending = new Map(pairs);
  socket.on('message', (data) => {
    const r = parseDhcp(data);
    if (!r.ok) return;
    const mac = clientMac(r.packet)!;
    const type = r.packet.options.read('messageType');
    if (!pending.has(mac) || (type !== T.ACK && type !== T.NAK)) return;
    process.stdout.write(`${type === T.ACK ? 'ACK' : 'NAK'} ${mac} ${r.packet.yiaddr}\n`);
    pending.delete(mac);
    if (pending.size === 0) done();
  });
  pairs.forEach(([mac, ip], i) => send(encodeDhcp(dhcpRequest({ mac, type: T.REQUEST, requested: ip, xid: 0x7000 + i, broadcast: true }))));
  setTimeout(done, 5000);
} else if (mode === 'garbage') {
  const server = a;
  const valid = encodeDhcp(dhcpRequest({ mac: '02:aa:00:00:00:01', type: T.DISCOVER, broadcast: true }));
  const hostile: Buffer[] = [Buffer.alloc(0), Buffer.from('hello'), valid.subarray(0, 239), randomBytes(600)];
  for (let i = 0; i < 200; i++) {
    const copy = Buffer.from(valid);
    for (let k = 0; k < 8; k++) copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256);
    hostile.push(copy.subarray(0, 200 + Math.floor(Math.random() * (copy.length - 200))));
  }
  // An option claiming more bytes than the packet has.
  const overrun = Buffer.from(valid);
  overrun[241] = 250;
  hostile.push(overrun);
  for (const h of hostile) send(h, server);
  socket.on('message', (data) => {
    const r = parseDhcp(data);
    if (r.ok && r.packet.options.read('messageType') === T.OFFER && clientMac(r.packet) === '02:aa:00:00:00:01') {
      process.stdout.write(`OFFER ${clientMac(r.packet)} ${r.packet.yiaddr}\n`);
      done();
    }
  });
  setTimeout(() => send(valid), 300);
  setTimeout(done, 5000);
} else {
  throw new Error(`storm-client: unknown mode '${mode}'`);
}
