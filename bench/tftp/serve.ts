// Runs pxe-pilot's TFTP service alone, for the benchmark and for trying it by hand:
//   node --import tsx bench/tftp/serve.ts --root DIR [--port 6969] [--bind 127.0.0.1] [--max-transfers 500]
// Prints "listening <port>" once bound; SIGTERM/SIGINT stop it.
import { parseArgs } from 'node:util';
import { testProfile } from '../../test/helpers/profile.ts';
import { createLogger } from '../../src/log.ts';
import { TftpService } from '../../src/tftp/server.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    port: { type: 'string', default: '6969' },
    bind: { type: 'string', default: '127.0.0.1' },
    'max-transfers': { type: 'string', default: '500' },
    'max-per-client': { type: 'string', default: '500' },
    'log-level': { type: 'string', default: 'warn' },
  },
});
if (!values.root) {
  console.error('usage: serve.ts --root DIR [--port N] [--bind ADDR] [--max-transfers N] [--max-per-client N]');
  process.exit(2);
}

const service = new TftpService({
  profile: testProfile({
    server: { address: values.bind },
    tftp: {
      root: values.root,
      port: Number(values.port),
      bind: values.bind,
      maxTransfers: Number(values['max-transfers']),
      maxTransfersPerClient: Number(values['max-per-client']),
    },
  }),
  logger: createLogger(values['log-level'] as 'warn'),
  events: { record() {} },
});

async function main(): Promise<void> {
  await service.start();
  console.log(`listening ${service.port}`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      const stats = service.stats();
      service.stop().then(
        () => {
          console.log(JSON.stringify(stats));
          process.exit(0);
        },
        (err: unknown) => {
          console.error(err instanceof Error ? err.message : err);
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
