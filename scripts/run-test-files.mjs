// Runs the test files it is given with node:test, one at a time, in the order the seed shuffles
// them to (scripts/run-tests.mjs builds the list and starts this with tsx loaded).
// Usage: run-test-files.mjs [--seed N] [--list] -- file...
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { finished } from 'node:stream/promises';
import { newSeed, parseSeed, shuffled } from '../test/helpers/seeded-random.ts';

const args = process.argv.slice(2);
const files = args.slice(args.indexOf('--') + 1);
const options = args.slice(0, args.indexOf('--'));
const seedIndex = options.indexOf('--seed');
const given = seedIndex >= 0 ? options[seedIndex + 1] : undefined;
const seed = given === undefined ? newSeed() : parseSeed(given);
if (seed === null) {
  console.error(`run-tests: the order seed is a whole number from 0 to 4294967295, not '${given}'`);
  process.exit(2);
}
const replay = `PXE_PILOT_TEST_SEED=${seed} to replay`;
console.log(`run-tests: order seed ${seed} (${replay})`);
const order = shuffled(files, seed);
if (options.includes('--list')) {
  for (const file of order) console.log(file);
  process.exit(0);
}

// Ended by a signal: the runner stops each test file's process (SIGTERM), so its cleanup runs.
const abort = new globalThis.AbortController();
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => abort.abort());

let failed = false;
const stream = run({ files: order, concurrency: 1, signal: abort.signal });
// What `node --test` counts as a failure: any failed test or file that is not a todo.
stream.on('test:fail', (event) => {
  if (!event.todo) failed = true;
});
// The reporter `node --test` picks: spec on a terminal, TAP otherwise (CI reads either summary).
const report = stream.compose(process.stdout.isTTY ? new spec() : tap);
report.pipe(process.stdout);
await finished(report);
if (failed) console.log(`run-tests: failed with order seed ${seed} (${replay})`);
process.exitCode = failed || abort.signal.aborted ? 1 : 0;
