// Fills a state folder with N nodes, as a rack that has booted once would.
import { Store } from '../../src/store/store.ts';

const [stateDir, countText] = process.argv.slice(2);
if (!stateDir || !countText) {
  process.stderr.write('usage: populate.ts <state_dir> <count>\n');
  process.exit(2);
}
const store = Store.open(stateDir);
const count = Number(countText);
// One transaction for all of them (LeaseLog.commit carries node writes too), not one fsync per node.
await store.leases.commit(() => {
  for (let i = 0; i < count; i++) {
    const mac = `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    store.sawNode(mac, { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }, false);
  }
});
store.close();
process.stdout.write(`populated ${count} nodes in ${stateDir}\n`);
