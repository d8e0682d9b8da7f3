// pxe-pilot's TFTP service alone, from a compiled build (dist/, `npm run build`), as production
// runs it: plain node, no tsx. Same flags and output as bench/tftp/serve.ts, plus --dist.
//   node bench/tftp/serve-compiled.mjs --root DIR [--dist DIR] [--port 6969] [--bind 127.0.0.1] [--max-transfers 500]
// --dist: the compiled tree to run (default: this checkout's dist/); bench.ts --baseline points it
// at an older build so old and new run in the same benchmark.
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
  },
});
if (!values.root) {
  console.error('usage: serve-compiled.mjs --root DIR [--dist DIR] [--port N] [--bind ADDR] [--max-transfers N] [--max-per-client N]');
  process.exit(2);
}

const load = (path) => import(pathToFileURL(resolve(values.dist, path)).href);
const { defaultProfile } = await load('config/defaults.js');
const { createLogger } = await load('log.js');
const { TftpService } = await load('tftp/server.js');

// As test/helpers/profile.ts builds it for serve.ts: defaults, the bind address as the server's.
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

const service = new TftpService({ profile, logger: createLogger(values['log-level']), events: { record() {} } });
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
