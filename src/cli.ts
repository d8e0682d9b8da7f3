// pxe-pilot [--config FILE]                 run the daemon
// pxe-pilot <command> … [--config FILE]     everything else: src/cli/commands.ts, one row per command
// Exit codes: 0 ok, 2 bad command line or configuration, 1 runtime failure.
// The daemon is what stays resident, so this file loads only the command table: each command
// imports its own module when it runs (docs/benchmarks.md, idle RSS).
import { runCommandLine } from './cli/commands.ts';

runCommandLine(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then(
  (outcome) => {
    if (outcome !== 'running') process.exit(outcome);
  },
  (err: unknown) => {
    process.stderr.write(`pxe-pilot: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
