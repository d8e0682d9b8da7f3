#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test and tsx, one file at a time, in an order shuffled
// by a seed: a test that needs its neighbours fails on some seed instead of hiding.
// Node 20's `--test` does not expand glob patterns (that came in Node 21), so the file list is built here.
// Arguments narrow the run: `npm test -- test/http test/boot/policy.test.ts`.
// `--seed N` (or PXE_PILOT_TEST_SEED=N) replays an order; without one a new seed is picked and
// printed. `--list` prints the order and runs nothing.
// The full firmware matrix (`*.full.test.ts`: the heavier QEMU rows beyond one per path) runs
// only with PXE_PILOT_FULL_MATRIX=1 or when named; it is left out, not skipped, so CI's
// "nothing skipped" rule holds for what it runs.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;

function testFilesUnder(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path, { recursive: true })
    .map((name) => join(path, String(name)))
    .filter((file) => file.endsWith('.test.ts'));
}

function usage(message) {
  console.error(`run-tests: ${message}\nusage: node scripts/run-tests.mjs [--seed N] [--list] [test file or folder]...`);
  process.exit(2);
}

const wanted = [];
let seed = process.env.PXE_PILOT_TEST_SEED || null;
let list = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--seed') {
    if (i + 1 >= args.length) usage('--seed needs a number');
    seed = args[++i];
  } else if (arg.startsWith('--seed=')) seed = arg.slice('--seed='.length);
  else if (arg === '--list') list = true;
  else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
  else wanted.push(arg);
}

const fullMatrix = process.env.PXE_PILOT_FULL_MATRIX === '1';
const found = (wanted.length ? wanted : ['test'])
  .flatMap((p) => testFilesUnder(join(root, p)))
  .map((file) => relative(root, file))
  .sort();
const namedFiles = new Set(wanted.map((p) => relative(root, join(root, p))));
const isFullMatrix = (file) => file.endsWith('.full.test.ts') && !fullMatrix && !namedFiles.has(file);
const files = [...new Set(found.filter((file) => !isFullMatrix(file)))];
const leftOut = found.filter(isFullMatrix);
if (leftOut.length > 0) {
  console.log(`run-tests: the full firmware matrix (${leftOut.join(', ')}) runs with PXE_PILOT_FULL_MATRIX=1`);
}
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts under ${wanted.join(' ') || 'test'}`);
  process.exit(1);
}

// The ordered run needs tsx loaded (the seeded shuffle is shared with the tests, in TypeScript),
// and node:test's run() keeps the order it is given, where `node --test` sorts its files.
const child = spawn(
  process.execPath,
  ['--import', 'tsx', join(root, 'scripts/run-test-files.mjs'), ...(seed === null ? [] : ['--seed', seed]), ...(list ? ['--list'] : []), '--', ...files],
  { cwd: root, stdio: 'inherit' },
);
// Pass a Ctrl-C on so the tests' own cleanup (namespaces, daemons) runs.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
