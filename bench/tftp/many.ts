// N TFTP machines at once, each from its own loopback address (127.1.x.y), as a rack of PXE
// clients looks to a server: per-client limits and per-address state are exercised, which 200
// curl processes all sending from 127.0.0.1 do not. One process, the probe's TFTP client
// (lockstep unless --windowsize says otherwise). Run by bench/tftp/bench.ts inside its namespace.
//   node --import tsx bench/tftp/many.ts --port P --file NAME --count N --expect BYTES [--windowsize 1]
// Prints one JSON line: {"seconds": wall time from the first RRQ to the last block, "failures": N, "reasons": [...]}.
import { parseArgs } from 'node:util';
import { tftpFetch } from '../../src/probe/tftp-client.ts';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '69' },
    file: { type: 'string', default: 'ipxe.efi' },
    count: { type: 'string', default: '200' },
    expect: { type: 'string' },
    blksize: { type: 'string', default: '1468' },
    windowsize: { type: 'string', default: '1' },
  },
});
const count = Number(values.count);
const expected = values.expect === undefined ? undefined : Number(values.expect);

/** 127.1.0.1, 127.1.0.2, …: every address in 127/8 is local on lo, so each machine binds its own. */
const sourceAddress = (i: number): string => `127.1.${(i + 1) >> 8}.${(i + 1) & 255}`;

const started = performance.now();
const results = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    tftpFetch({
      server: values.server,
      port: Number(values.port),
      file: values.file,
      localAddress: sourceAddress(i),
      interface: 'lo',
      blksize: Number(values.blksize),
      windowsize: Number(values.windowsize),
      timeoutMs: 1000,
      retries: 10,
    }),
  ),
);
const seconds = (performance.now() - started) / 1000;
const reasons = results.flatMap((r) => (r.ok ? (expected !== undefined && r.bytes !== expected ? [`got ${r.bytes} bytes, not ${expected}`] : []) : [r.reason]));
process.stdout.write(JSON.stringify({ seconds, failures: reasons.length, reasons: [...new Set(reasons)].slice(0, 5) }) + '\n');
