#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test and tsx. Node 20's `--test` does not expand
// glob patterns (that came in Node 21), so the file list is built here.
// Arguments narrow the run: `npm test -- test/http test/boot/policy.test.ts`.
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

const wanted = process.argv.slice(2);
const fullMatrix = process.env.PXE_PILOT_FULL_MATRIX === '1';
const found = (wanted.length ? wanted : ['test'])
  .flatMap((p) => testFilesUnder(join(root, p)))
  .map((file) => relative(root, file))
  .sort();
const namedFiles = new Set(wanted.map((p) => relative(root, join(root, p))));
const isFullMatrix = (file) => file.endsWith('.full.test.ts') && !fullMatrix && !namedFiles.has(file);
const files = found.filter((file) => !isFullMatrix(file));
const leftOut = found.filter(isFullMatrix);
if (leftOut.length > 0) {
  console.log(`run-tests: the full firmware matrix (${leftOut.join(', ')}) runs with PXE_PILOT_FULL_MATRIX=1`);
}
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts under ${wanted.join(' ') || 'test'}`);
  process.exit(1);
}

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  cwd: root,
  stdio: 'inherit',
});
// Pass a Ctrl-C on so the tests' own cleanup (namespaces, daemons) runs.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
