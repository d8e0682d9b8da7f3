// pxe-pilot's TFTP service alone, for the benchmarks and for trying it by hand. Prints "listening
// <port>" once bound; SIGTERM/SIGINT stop it (printing its stats).
//   node bench/tftp/serve.mjs --root DIR [--dist DIR] [--port 6969] [--bind 127.0.0.1] [--max-transfers 500]
//   node --import tsx bench/tftp/serve.mjs --root DIR --dist src     (the TypeScript sources)
// --dist: the tree to run: a compiled build (default: this checkout's dist/, from `npm run build`,
// as production runs it), or src/ through tsx; bench.ts --baseline points it at an older build so
// old and new run in the same benchmark.
// GRUB's per-machine configurations ($prefix/pxe-pilot/<mac>.cfg, bench/tftp/grub-config.ts) need
// the tree's store: --state DIR opens it there (nodes and events), --assets DIR is [assets] dir,
// --populate N sights N machines 52:54:00:xx:xx:xx first, --unknown sets [boot] unknown.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    dist: { type: 'string', default: resolve(import.meta.dirname, '../../dist') },
    port: { type: 'string', default: '6969' },
    bind: { type: 'string', default: '127.0.0.1' },
    'max-transfers': { type: 'string', default: '500' },
    'max-per-client': { type: 'string', default: '500' },
    'log-level': { type: 'string', default: 'warn' },
    state: { type: 'string' },
    assets: { type: 'string' },
    populate: { type: 'string', default: '0' },
    unknown: { type: 'string' },
  },
});
if (!values.root) {
  console.error(
    'usage: serve.mjs --root DIR [--dist DIR] [--port N] [--bind ADDR] [--max-transfers N] [--max-per-client N] [--state DIR [--assets DIR] [--populate N] [--unknown menu|local|ignore]]',
  );
  process.exit(2);
}

// The sources name their modules .ts, a build .js.
const extension = values.dist.replace(/\/+$/, '').endsWith('src') ? '.ts' : '.js';
const load = (path) => import(pathToFileURL(resolve(values.dist, path + extension)).href);
const { defaultProfile } = await load('config/defaults');
const { createLogger } = await load('log');
const { TftpService } = await load('tftp/server');

// As test/helpers/profile.ts builds a test profile: defaults, the bind address as the server's.
const profile = defaultProfile('(bench)');
profile.server.address = values.bind;
profile.server.addressSource = 'profile';
Object.assign(profile.tftp, {
  root: values.root,
  port: Number(values.port),
  bind: values.bind,
  maxTransfers: Number(values['max-transfers']),
  maxTransfersPerClient: Number(values['max-per-client']),
});

if (values.assets) profile.assets.dir = values.assets;
if (values.unknown) profile.boot.unknown = values.unknown;

let store = null;
let catalogue;
if (values.state) {
  const { Store } = await load('store/store');
  const { AssetCatalogue } = await load('assets/catalogue-scan');
  store = Store.open(values.state);
  catalogue = new AssetCatalogue();
  const count = Number(values.populate);
  // One transaction for all of them (as bench/http/populate.ts), not one fsync per node.
  await store.leases.commit(() => {
    for (let i = 0; i < count; i++) store.sawNode(benchMac(i), { ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` }, false);
  });
}

/** The i-th machine of the benchmarks: 52:54:00:xx:xx:xx (bench/http/boot-macs.lua counts the same way). */
function benchMac(i) {
  return '52:54:00:' + [(i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

const service = new TftpService({
  profile,
  logger: createLogger(values['log-level']),
  events: store ?? { record() {} },
  ...(store ? { nodes: store, catalogue } : {}),
});
try {
  await service.start();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
console.log(`listening ${service.port}`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    const stats = service.stats();
    service.stop().then(
      () => {
        store?.close();
        console.log(JSON.stringify(stats));
        process.exit(0);
      },
      (err) => {
        console.error(err instanceof Error ? err.message : err);
        process.exit(1);
      },
    );
  });
}
