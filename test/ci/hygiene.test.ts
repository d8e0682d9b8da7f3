// The CI hygiene gate (.ci/hygiene.mjs) names what a run left behind. The account files, the
// state folders and dpkg's database are planted under a temporary root (PXE_PILOT_HYGIENE_ROOT),
// never in /etc or /var/lib; the namespace, the mount, the loop device and the processes are
// real, made here and removed here, also on failure.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';

const GATE = join(repoRoot, '.ci', 'hygiene.mjs');

interface GateResult {
  code: number;
  out: string;
}

function gate(verb: 'record' | 'check', file: string, fakeRoot: string): Promise<GateResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [GATE, verb, file], { env: { ...process.env, PXE_PILOT_HYGIENE_ROOT: fakeRoot } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** A root holding the files the gate reads, as on a machine new to pxe-pilot. */
function fakeMachine(): string {
  const fakeRoot = mkdtempSync(join(tmpdir(), 'pxp-hygiene-'));
  mkdirSync(join(fakeRoot, 'etc'));
  mkdirSync(join(fakeRoot, 'var', 'lib', 'dpkg'), { recursive: true });
  writeFileSync(join(fakeRoot, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(join(fakeRoot, 'etc', 'group'), 'root:x:0:\n');
  writeFileSync(join(fakeRoot, 'var', 'lib', 'dpkg', 'status'), dpkgEntry('bash', '5.2.15-2+b7'));
  return fakeRoot;
}

function dpkgEntry(name: string, version: string): string {
  return `Package: ${name}\nStatus: install ok installed\nVersion: ${version}\nArchitecture: amd64\nMaintainer: Nobody <nobody@example.org>\nDescription: x\n\n`;
}

/** Everything a broken test could leave: the pxe-pilot account and group, both state folders, the package. */
function plantPilotInstall(fakeRoot: string): void {
  appendFileSync(join(fakeRoot, 'etc', 'passwd'), 'pxe-pilot:x:4242:4242::/var/lib/pxe-pilot:/usr/sbin/nologin\n');
  appendFileSync(join(fakeRoot, 'etc', 'group'), 'pxe-pilot:x:4242:\n');
  mkdirSync(join(fakeRoot, 'var', 'lib', 'pxe-pilot'));
  mkdirSync(join(fakeRoot, 'etc', 'pxe-pilot'));
  appendFileSync(join(fakeRoot, 'var', 'lib', 'dpkg', 'status'), dpkgEntry('pxe-pilot', '0.1.0'));
}

function pilotInstallLines(fakeRoot: string): RegExp[] {
  return [
    /^ {2}account pxe-pilot \(id 4242, /m,
    /^ {2}group pxe-pilot \(id 4242, /m,
    new RegExp(`^  folder ${fakeRoot}/var/lib/pxe-pilot$`, 'm'),
    new RegExp(`^  folder ${fakeRoot}/etc/pxe-pilot$`, 'm'),
    /^ {2}package pxe-pilot 0\.1\.0 \(install ok installed\)$/m,
  ];
}

/** Undoes what a test made, last first, every step even when one fails. */
class Undo {
  private readonly steps: (() => Promise<void> | void)[] = [];
  add(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleaning up after the hygiene test failed');
  }
}

/** A line of the report naming an account, a group, a state folder or the package. */
const PILOT_INSTALL_LINE = /^ {2}(account|group|folder|package) /m;

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

describe('the CI hygiene gate', { skip: skipUnless(['root', 'ip', 'mount', 'umount', 'dpkg-query']) }, () => {
  test('a check names each thing made after the record, and none of them once removed', async () => {
    const fakeRoot = fakeMachine();
    const undoPlanted = new Undo();
    try {
      const before = join(fakeRoot, 'before.json');
      assert.equal((await gate('record', before, fakeRoot)).code, 0);
      assert.doesNotMatch((await gate('check', before, fakeRoot)).out, PILOT_INSTALL_LINE, 'nothing planted yet');

      plantPilotInstall(fakeRoot);
      const ns = `pxphyg${process.pid}`;
      execFileSync('ip', ['netns', 'add', ns]);
      undoPlanted.add(() => void execFileSync('ip', ['netns', 'del', ns]));
      const mountPoint = join(fakeRoot, 'mnt');
      mkdirSync(mountPoint);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'pxp-hygiene', mountPoint]);
      undoPlanted.add(() => void execFileSync('umount', [mountPoint]));
      // A test double by its name, and a tsx child like the tests' helpers and daemons.
      const fakebmc = join(fakeRoot, 'fakebmc');
      copyFileSync('/usr/bin/sleep', fakebmc);
      const double = spawn(fakebmc, ['120'], { stdio: 'ignore' });
      undoPlanted.add(() => stopChild(double));
      const tsxChild = spawn(process.execPath, ['--import', 'tsx', '-e', 'setInterval(() => {}, 1000)'], { cwd: repoRoot, stdio: 'ignore' });
      undoPlanted.add(() => stopChild(tsxChild));

      const dirty = await gate('check', before, fakeRoot);
      assert.equal(dirty.code, 1, dirty.out);
      assert.match(dirty.out, /^hygiene: the tests left \d+ thing\(s\) on this machine/m);
      for (const line of pilotInstallLines(fakeRoot)) assert.match(dirty.out, line);
      assert.match(dirty.out, new RegExp(`^  network namespace ${ns}$`, 'm'));
      assert.match(dirty.out, new RegExp(`^  mount ${mountPoint} \\(tmpfs from pxp-hygiene\\)$`, 'm'));
      assert.match(dirty.out, new RegExp(`^  process ${double.pid} ${fakebmc} 120$`, 'm'));
      assert.match(dirty.out, new RegExp(`^  process ${tsxChild.pid} .*--import tsx -e`, 'm'));

      await undoPlanted.run();
      rmSync(join(fakeRoot, 'var', 'lib', 'pxe-pilot'), { recursive: true });
      rmSync(join(fakeRoot, 'etc', 'pxe-pilot'), { recursive: true });
      writeFileSync(join(fakeRoot, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
      writeFileSync(join(fakeRoot, 'etc', 'group'), 'root:x:0:\n');
      writeFileSync(join(fakeRoot, 'var', 'lib', 'dpkg', 'status'), dpkgEntry('pxe-pilot', '0.1.0').replace('install ok installed', 'purge ok not-installed'));
      // Others may use this machine meanwhile; what this test made must no longer be named.
      const cleaned = await gate('check', before, fakeRoot);
      assert.doesNotMatch(cleaned.out, PILOT_INSTALL_LINE);
      for (const gone of [`network namespace ${ns}\n`, `mount ${mountPoint} `, `process ${double.pid} `, `process ${tsxChild.pid} `]) {
        assert.ok(!cleaned.out.includes(gone), `"${gone.trim()}" is still named after its removal:\n${cleaned.out}`);
      }
    } finally {
      try {
        await undoPlanted.run();
      } finally {
        rmSync(fakeRoot, { recursive: true, force: true });
      }
    }
  });

  test('what the machine had before the record is noted, never named as left behind', async () => {
    const fakeRoot = fakeMachine();
    try {
      plantPilotInstall(fakeRoot);
      const before = join(fakeRoot, 'before.json');
      const recorded = await gate('record', before, fakeRoot);
      assert.equal(recorded.code, 0);
      assert.match(recorded.out, /this machine already has account pxe-pilot .*package pxe-pilot .*the gate names only what the tests add/);
      assert.doesNotMatch((await gate('check', before, fakeRoot)).out, PILOT_INSTALL_LINE);
    } finally {
      rmSync(fakeRoot, { recursive: true, force: true });
    }
  });

  test('a loop device attached after the record is named with its backing file', { skip: skipUnless(['root', 'losetup', '/dev/loop-control']) }, async () => {
    const fakeRoot = fakeMachine();
    const undo = new Undo();
    undo.add(() => rmSync(fakeRoot, { recursive: true, force: true }));
    try {
      const before = join(fakeRoot, 'before.json');
      assert.equal((await gate('record', before, fakeRoot)).code, 0);
      const image = join(fakeRoot, 'disk.img');
      writeFileSync(image, '');
      truncateSync(image, 1024 * 1024);
      const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
      const detach = new Undo();
      detach.add(() => void execFileSync('losetup', ['--detach', device]));
      undo.add(() => detach.run());
      const dirty = await gate('check', before, fakeRoot);
      assert.equal(dirty.code, 1, dirty.out);
      assert.match(dirty.out, new RegExp(`^  loop device ${device} \\(backing ${image}\\)$`, 'm'));
      await detach.run();
      assert.ok(!(await gate('check', before, fakeRoot)).out.includes(`loop device ${device} `));
    } finally {
      await undo.run();
    }
  });

  test('a check without its record, or an unknown verb, is a usage error', async () => {
    const missing = await gate('check', join(tmpdir(), `pxp-hygiene-no-record-${process.pid}.json`), '/');
    assert.equal(missing.code, 2);
    assert.match(missing.out, /no record at .*: run `node \.ci\/hygiene\.mjs record` before the tests/);
    const usage = await new Promise<GateResult>((resolve) =>
      execFile(process.execPath, [GATE, 'snapshot'], (err, stdout, stderr) =>
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, out: stdout + stderr }),
      ),
    );
    assert.equal(usage.code, 2);
    assert.match(usage.out, /usage: node \.ci\/hygiene\.mjs record\|check FILE/);
  });
});
