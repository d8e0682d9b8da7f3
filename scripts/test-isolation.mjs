#!/usr/bin/env node
// Checks that every test in the named files sets up what it asserts: each test runs alone, by
// its name (`--test-name-pattern`), then the whole file runs with its tests in reverse order.
// A test that leans on state an earlier test left behind fails one of the two.
//   node scripts/test-isolation.mjs test/http/admin.test.ts test/http/boot.test.ts
// Test names are read from the source: string literals given to test(…) or it(…).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/test-isolation.mjs <file.test.ts>…');
  process.exit(2);
}

/** test('name' | "name" | `name`, …): the names, in file order; a name built at run time is refused. */
function testNames(file) {
  const source = readFileSync(file, 'utf8');
  const names = [];
  for (const m of source.matchAll(/(?<![.\w])(?:test|it)\(\s*(['"`])((?:\\.|(?!\1).)*)\1/gs)) {
    if (m[1] === '`' && m[2].includes('${')) throw new Error(`${file}: test name ${m[2]} is built at run time; this script needs literal names`);
    names.push(m[2].replace(/\\(.)/g, '$1'));
  }
  return names;
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Loaded with --import: node:test's test/it and describe register the tests of each suite (and
 * the file's top-level ones) in reverse order. syncBuiltinESMExports makes `import { test }
 * from 'node:test'` see the wrapped functions.
 */
const reverseOrder = `
import { createRequire, syncBuiltinESMExports } from 'node:module';
const nodeTest = createRequire(process.cwd() + '/')('node:test');
const real = { test: nodeTest.test, it: nodeTest.it, describe: nodeTest.describe };
let pending = null;
const topLevel = [];
function deferred(kind) {
  return (...args) => {
    // The file's top-level calls are replayed once its module body has run (a microtask later).
    if (pending === null && topLevel.length === 0) queueMicrotask(() => replay(topLevel));
    (pending ?? topLevel).push([kind, args]);
  };
}
function replay(list) {
  for (const [kind, args] of list.reverse()) {
    if (kind === 'describe') suite(...args);
    else real[kind](...args);
  }
}
function suite(...args) {
  const fn = args.findLast((a) => typeof a === 'function');
  const rest = args.filter((a) => a !== fn);
  return real.describe(...rest, function (...fnArgs) {
    const outer = pending;
    pending = [];
    try {
      fn.apply(this, fnArgs);
      replay(pending);
    } finally {
      pending = outer;
    }
  });
}
nodeTest.test = deferred('test');
nodeTest.it = deferred('it');
nodeTest.describe = deferred('describe');
syncBuiltinESMExports();
`;

function run(file, extra) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...extra, '--test', '--test-reporter=tap', file], {
    encoding: 'utf8',
    env: process.env,
    maxBuffer: 64 * 1024 * 1024,
  });
  const count = (what) => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? -1);
  const order = [...r.stdout.matchAll(/^\s*(?:not )?ok \d+ - (.*)$/gm)].map((m) => m[1]);
  return { code: r.status, pass: count('pass'), fail: count('fail'), cancelled: count('cancelled'), order, output: r.stdout + r.stderr };
}

let failures = 0;
for (const file of files) {
  const names = testNames(file);
  for (const name of names) {
    const r = run(file, [`--test-name-pattern=^${escapeRegExp(name)}$`]);
    const ok = r.code === 0 && r.pass === 1 && r.fail === 0 && r.cancelled === 0;
    console.log(`${ok ? 'ok  ' : 'FAIL'} alone     ${file}: ${name}`);
    if (!ok) {
      failures += 1;
      console.log(
        r.output
          .split('\n')
          .filter((l) => /not ok|Error|expected|actual|# (pass|fail)/.test(l))
          .slice(0, 20)
          .join('\n'),
      );
    }
  }
  const reversed = run(file, ['--import', `data:text/javascript,${encodeURIComponent(reverseOrder)}`]);
  const ran = names.filter((n) => reversed.order.includes(n));
  const inReverse = ran.length === names.length && ran.every((n, i) => i === 0 || reversed.order.indexOf(n) < reversed.order.indexOf(ran[i - 1]));
  const ok = reversed.code === 0 && reversed.fail === 0 && reversed.cancelled === 0 && reversed.pass === names.length && inReverse;
  console.log(`${ok ? 'ok  ' : 'FAIL'} reversed  ${file}: ${names.length} tests${inReverse ? '' : ' (not run in reverse order)'}`);
  if (!ok) {
    failures += 1;
    console.log(
      reversed.output
        .split('\n')
        .filter((l) => /not ok|Error|expected|actual|# (pass|fail)/.test(l))
        .slice(0, 20)
        .join('\n'),
    );
  }
}
process.exit(failures === 0 ? 0 : 1);
