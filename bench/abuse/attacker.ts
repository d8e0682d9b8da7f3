// Runs inside the attacker namespace of bench/abuse/hostile-datagrams.ts: hostile datagrams to
// DHCP (67), ProxyDHCP (4011) and TFTP (69) of the server, made by mutating real captures, and
// every `checkEvery` a real client exchange that must still be answered.
//   attacker.ts <server-ip> <count> <checkEvery> <maxSeconds> <mode: server|proxy>
// Prints one JSON line per check and a summary line; bounded by count and by time.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { dhcpRequest, T } from '../../test/helpers/dhcp-packets.ts';

const [server = '', countText = '100000', checkText = '10000', secondsText = '600', mode = 'server'] = process.argv.slice(2);
const count = Math.min(Number(countText), 1_000_000);
const checkEvery = Number(checkText);
const deadline = Date.now() + Math.min(Number(secondsText), 3600) * 1000;

export const CHECK_MAC = '02:aa:00:00:00:01';
const captures = (
  JSON.parse(readFileSync(new URL('../../test/fixtures/dhcp/requests.json', import.meta.url), 'utf8')) as { requests: { hex: string }[] }
).requests.map((r) => Buffer.from(r.hex, 'hex'));
const tftpSeeds = [
  Buffer.from('\0\x01undionly.kpxe\0octet\0blksize\x001468\0tsize\x000\0', 'latin1'),
  Buffer.from('\0\x01snponly.efi\0octet\0blksize\x001468\0windowsize\x004\0tsize\x000\0', 'latin1'),
  Buffer.from('\0\x01../../etc/passwd\0octet\0', 'latin1'),
  Buffer.from('\0\x04\0\x01', 'latin1'),
  Buffer.from('\0\x05\0\x08abort\0', 'latin1'),
];

// A small deterministic generator, so a run can be repeated.
let seed = 0x9e3779b9;
const rand = (n: number): number => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};

/** One mutation of a real datagram: bit flips, byte overwrites, truncation, growth, option-length lies, or plain noise. */
function mutate(base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (rand(7)) {
    case 0:
      for (let i = 0, n = 1 + rand(8); i < n; i++) b[rand(b.length)]! ^= 1 << rand(8);
      return b;
    case 1:
      for (let i = 0, n = 1 + rand(16); i < n; i++) b[rand(b.length)] = rand(256);
      return b;
    case 2:
      return b.subarray(0, rand(b.length));
    case 3:
      return Buffer.concat([b, Buffer.from(Array.from({ length: 1 + rand(1200) }, () => rand(256)))]);
    case 4: {
      // An option length that points past the end (DHCP options start at 240).
      if (b.length > 242) b[240 + rand(Math.max(1, b.length - 242)) + 1] = 255;
      return b;
    }
    case 5:
      return Buffer.from(Array.from({ length: rand(1500) }, () => rand(256)));
    default: {
      // Magic cookie kept, everything after shuffled.
      const tail = b.subarray(240);
      for (let i = tail.length - 1; i > 0; i--) {
        const j = rand(i + 1);
        [tail[i], tail[j]] = [tail[j]!, tail[i]!];
      }
      return b;
    }
  }
}

const dhcp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((resolve) => dhcp.bind(68, '0.0.0.0', resolve));
dhcp.setBroadcast(true);
const tftp = dgram.createSocket('udp4');
await new Promise<void>((resolve) => tftp.bind(0, '0.0.0.0', resolve));

let waitingXid = 0;
let answered: (() => void) | null = null;
dhcp.on('message', (data) => {
  const r = parseDhcp(data);
  if (r.ok && r.packet.xid === waitingXid && r.packet.options.read('messageType') === T.OFFER) answered?.();
});
let tftpAnswered: (() => void) | null = null;
tftp.on('message', (data) => {
  // OACK (6) or DATA (3) to the real RRQ; an ERROR to the hostile ones is fine too but not asked for.
  if (data[1] === 6 || data[1] === 3) tftpAnswered?.();
});

function within(ms: number, register: (done: () => void) => void): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    register(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A real client's DISCOVER and a real TFTP RRQ: both must be answered. */
async function realClients(i: number): Promise<{ dhcp: boolean; tftp: boolean }> {
  waitingXid = 0x77000000 + i;
  // A reserved machine ([host] with ip): hostile DISCOVERs that parse may hold every pool
  // address for offer_hold, which is DHCP's nature; the reservation is what a real rack has.
  const mac = CHECK_MAC;
  const discover = encodeDhcp(dhcpRequest({ mac, type: T.DISCOVER, xid: waitingXid, arch: 7, broadcast: true }));
  let dhcpOk = false;
  for (let attempt = 0; attempt < 3 && !dhcpOk; attempt++) {
    const got = within(3000, (done) => (answered = done));
    dhcp.send(discover, 67, '255.255.255.255');
    dhcpOk = await got;
  }
  answered = null;
  let tftpOk = false;
  for (let attempt = 0; attempt < 3 && !tftpOk; attempt++) {
    const got = within(3000, (done) => (tftpAnswered = done));
    tftp.send(tftpSeeds[0]!, 69, server);
    tftpOk = await got;
  }
  tftpAnswered = null;
  return { dhcp: dhcpOk, tftp: tftpOk };
}

const started = Date.now();
let sent = 0;
let failedChecks = 0;
let checks = 0;
while (sent < count && Date.now() < deadline) {
  // A burst, then yield: paced, so the run measures the daemon and not a full socket buffer.
  for (let k = 0; k < 50 && sent < count; k++, sent++) {
    const target = sent % 3;
    if (target === 0) dhcp.send(mutate(captures[rand(captures.length)]!), 67, rand(2) ? server : '255.255.255.255');
    else if (target === 1) dhcp.send(mutate(captures[rand(captures.length)]!), mode === 'proxy' ? 4011 : 67, server);
    else tftp.send(mutate(tftpSeeds[rand(tftpSeeds.length)]!), 69, server);
  }
  await new Promise((resolve) => setImmediate(resolve));
  if (sent % checkEvery === 0) {
    const r = await realClients(sent / checkEvery);
    checks += 1;
    if (!r.dhcp || !r.tftp) failedChecks += 1;
    process.stdout.write(`${JSON.stringify({ sent, ...r, seconds: Math.round((Date.now() - started) / 100) / 10 })}\n`);
  }
}
const seconds = (Date.now() - started) / 1000;
process.stdout.write(
  `${JSON.stringify({ summary: true, sent, seconds: Math.round(seconds * 10) / 10, perSecond: Math.round(sent / seconds), checks, failedChecks })}\n`,
);
dhcp.close();
tftp.close();
