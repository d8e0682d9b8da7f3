import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/store.ts';
const dir = mkdtempSync(join(tmpdir(), 'pxp-fsync-'));
const store = Store.open(dir);
const leases = store.leases;
for (const batch of [1, 10, 100]) {
  const n = 2000 / batch;
  const t0 = process.hrtime.bigint();
  // Each commit waits for its own fsync, as one ACK batch after another would.
  for (let i = 0; i < n; i++)
    await leases.commit(() => {
      for (let k = 0; k < batch; k++)
        leases.put({ ip: `10.0.${i % 250}.${k}`, clientKey: `mac:${i}`, mac: `m${i}`, hostname: null, state: 'bound', expiresAt: 1, updatedAt: 1 });
    });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`batch ${batch}: ${(ms / n).toFixed(2)} ms per commit, ${((n * batch) / (ms / 1000)).toFixed(0)} leases/s`);
}
store.close();
rmSync(dir, { recursive: true });
