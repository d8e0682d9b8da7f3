// Fills a state folder with N nodes, as a rack that has booted once would.
//   node --import tsx bench/http/populate.ts <state_dir> <count> [tree]
// tree: the checkout whose store writes them (default this one), so an older checkout benched
// beside this one (bench/http/state.sh TREE) reads a state folder its own store wrote.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Store as StoreClass } from '../../src/store/store.ts';

const [stateDir, countText, tree] = process.argv.slice(2);
if (!stateDir || !countText) {
  process.stderr.write('usage: populate.ts <state_dir> <count> [tree]\n');
  process.exit(2);
}
const storeModule = tree ? pathToFileURL(resolve(tree, 'src/store/store.ts')).href : '../../src/store/store.ts';
const { Store } = (await import(storeModule)) as { Store: typeof StoreClass };
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
