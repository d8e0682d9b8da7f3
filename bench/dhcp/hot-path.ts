// CPU cost of the server's hot path without sockets: decode, decide, encode, commit, per exchange.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testProfile } from '../../test/helpers/profile.ts';
import { LeaseAllocator } from '../../src/dhcp/allocator.ts';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { poolFromProfile } from '../../src/dhcp/pool.ts';
import { DhcpResponder, type Handled } from '../../src/dhcp/responder.ts';
import { commitBatch } from '../../src/dhcp/commit.ts';
import { Store } from '../../src/store/store.ts';
import { dhcpRequest, T } from '../../test/helpers/dhcp-packets.ts';

const exchanges = Number(process.argv[2] ?? 20000);
const batchSize = Number(process.argv[3] ?? 20);
const dir = mkdtempSync(join(tmpdir(), 'pxp-hot-'));
const store = Store.open(dir);
const leases = store.leases;
const profile = testProfile({
  server: { address: '10.77.0.1', interface: 'x' },
  dhcp: { mode: 'server', rangeStart: '10.77.1.0', rangeEnd: '10.77.255.250', netmask: '255.255.0.0' },
});
const pool = poolFromProfile(profile);
if (!pool.ok) throw new Error(pool.reason);
const allocator = new LeaseAllocator(pool.pool, { offerHoldMs: 30000, leaseMs: 3600000, quarantineMs: 600000 });
const responder = new DhcpResponder({ profile, pool: pool.pool, serverPort: 67 }, allocator, store);
const mac = (i: number) =>
  `02:00:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const discovers = Array.from({ length: exchanges }, (_, i) => encodeDhcp(dhcpRequest({ mac: mac(i), type: T.DISCOVER, xid: i })));

// The server's own group commit, then what its deliver() does short of the socket.
function flush(batch: Handled[]) {
  // The fsync runs on the thread pool, not on this core: the CPU cost is the commit itself.
  void commitBatch(batch, leases, store);
  for (const h of batch) {
    if (h.reply) encodeDhcp(h.reply.packet);
    store.record({ ...h.event, protocol: 'dhcp' });
  }
}

const t0 = process.hrtime.bigint();
let batch: Handled[] = [];
for (let i = 0; i < exchanges; i++) {
  const d = parseDhcp(discovers[i]!);
  if (!d.ok) throw new Error('parse');
  const offer = responder.handle(d.packet, Date.now());
  batch.push(offer);
  const req = parseDhcp(encodeDhcp(dhcpRequest({ mac: mac(i), type: T.REQUEST, xid: i, serverId: '10.77.0.1', requested: offer.reply!.packet.yiaddr })));
  if (!req.ok) throw new Error('parse');
  batch.push(responder.handle(req.packet, Date.now()));
  if (i % 5000 === 0) process.stderr.write(`${i} at ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms\n`);
  if (batch.length >= batchSize) {
    flush(batch);
    batch = [];
  }
}
flush(batch);
store.flushEvents();
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${exchanges} 4-way exchanges in ${s.toFixed(2)} s: ${(exchanges / s).toFixed(0)}/s on one core, commits of ${batchSize} messages`);
store.close();
rmSync(dir, { recursive: true });
