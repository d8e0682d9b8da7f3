#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test and tsx. Node 20's `--test` does not expand
// glob patterns (that came in Node 21), so the file list is built here.
// Arguments narrow the run: `npm test -- test/http test/boot/policy.test.ts`.
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
const files = (wanted.length ? wanted : ['test'])
  .flatMap((p) => testFilesUnder(join(root, p)))
  .map((file) => relative(root, file))
  .sort();
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
