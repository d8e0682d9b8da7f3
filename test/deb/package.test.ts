// The Debian package as an operator meets it: `npm run deb`, `apt-get install ./pxe-pilot_*.deb`,
// the daemon on loopback, an upgrade with a schema change, remove and purge. Service starts are
// blocked by policy-rc.d, so nothing listens on this host's real interfaces; the daemon the test
// starts binds 127.0.0.1 only, with DHCP off. Everything is undone afterwards, also on failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inCI, skipUnless } from '../helpers/requirements.ts';
import { processesOf } from '../helpers/accounts.ts';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { repoRoot } from '../helpers/standin.ts';

const exec = promisify(execFile);
const POLICY = '/usr/sbin/policy-rc.d';
const STATE = '/var/lib/pxe-pilot';
const PROFILE = '/etc/pxe-pilot/pxe-pilot.ini';
const WANTS = '/etc/systemd/system/multi-user.target.wants/pxe-pilot.service';
const MAC = '52:54:00:de:b0:01';
// The test build's extra migration: a schema change for the upgrade to apply.
const PROBE_TABLE = 'deb_upgrade_probe';

async function sh(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

async function ok(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const r = await sh(cmd, args, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const userExists = async (): Promise<boolean> => (await sh('getent', ['passwd', 'pxe-pilot'])).code === 0;
const groupExists = async (): Promise<boolean> => (await sh('getent', ['group', 'pxe-pilot'])).code === 0;
const dpkgKnows = async (): Promise<boolean> => (await sh('dpkg-query', ['-W', 'pxe-pilot'])).code === 0;

/** What of the package's footprint is on this host: found before the test (`found`), checked after it. */
interface Footprint {
  package: boolean;
  account: boolean;
  group: boolean;
  state: boolean;
  profileFolder: boolean;
  enabled: boolean;
}

async function footprint(): Promise<Footprint> {
  return {
    package: await dpkgKnows(),
    account: await userExists(),
    group: await groupExists(),
    state: existsSync(STATE),
    profileFolder: existsSync('/etc/pxe-pilot'),
    enabled: existsSync(WANTS),
  };
}

const FOOTPRINT_NAMES: Record<keyof Footprint, string> = {
  package: 'the pxe-pilot package',
  account: 'the pxe-pilot account',
  group: 'the pxe-pilot group',
  state: STATE,
  profileFolder: '/etc/pxe-pilot',
  enabled: WANTS,
};

/** Why this host cannot run the test without touching an operator's pxe-pilot; false when it can. */
function hostInUse(found: Footprint): false | string {
  const present = (Object.keys(found) as (keyof Footprint)[]).filter((k) => found[k]).map((k) => FOOTPRINT_NAMES[k]);
  return present.length ? `already on this host: ${present.join(', ')}` : false;
}

const needs = skipUnless(['root', 'dpkg-deb', 'dpkg-shlibdeps', 'help2man', 'lintian', 'apt-get', 'systemd-analyze', 'setpriv', 'strip']);
let skip: false | string = needs;
const found = await footprint();
if (!skip) {
  skip = hostInUse(found);
  if (skip && inCI) throw new Error(`CI must not skip: ${skip}`);
}

/** Waits (bounded) until the process is gone from /proc: exited and reaped. */
async function waitGone(pid: number, what: string): Promise<void> {
  await waitFor(`${what} (pid ${pid}) to exit`, () => !existsSync(`/proc/${pid}`), 15_000, 50);
}

/** Waits (bounded) until no process runs as the pxe-pilot account; names them when some stay. */
async function noAccountProcesses(): Promise<void> {
  const uid = Number((await ok('getent', ['passwd', 'pxe-pilot'])).split(':')[2]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const left = processesOf(uid);
    if (left.length === 0) return;
    if (Date.now() > deadline) {
      const named = left.map((pid) => {
        try {
          return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
        } catch {
          return `${pid}`;
        }
      });
      throw new Error(`processes of the pxe-pilot account still run after 15 s: ${named.join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'tcp') {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe('Debian package', { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'pxp-deb-'));
  let createdPolicy = false;
  let daemon: ChildProcess | null = null;
  /** Every process this test started as the account, by pid: each must be gone before remove and purge. */
  const started = new Set<number>();
  const debs = { release: '', again: '', upgrade: '' };
  let httpPort = 0;

  before(async () => {
    chmodSync(work, 0o755); // the service user reads the test's profile here
    if (!existsSync(POLICY)) {
      writeFileSync(POLICY, '#!/bin/sh\n# pxe-pilot package test: no service starts\nexit 101\n', { mode: 0o755 });
      createdPolicy = true;
    }
    // Three builds at once (the machine has two cores; each is mostly tsc and npm).
    const build = async (out: string, env: Record<string, string> = {}): Promise<string> => {
      const stdout = await ok(process.execPath, [join(repoRoot, 'scripts/build-deb.mjs'), '--out', join(work, out)], env);
      return stdout.trim().split('\n').pop()!;
    };
    [debs.release, debs.again, debs.upgrade] = await Promise.all([
      build('release'),
      build('again'),
      build('upgrade', { PXE_PILOT_DEB_TEST_MIGRATION: `CREATE TABLE ${PROBE_TABLE} (id INTEGER PRIMARY KEY);` }),
    ]);
  });

  // Everything the test made goes, also when it failed, and only that (the host had none of it
  // before: hostInUse). What cannot be undone fails the run, naming it.
  after(async () => {
    const problems: string[] = [];
    const undo = async (what: string, action: () => Promise<void> | void): Promise<void> => {
      try {
        await action();
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message}`);
      }
    };
    for (const pid of started) {
      await undo(`ending pid ${pid}, started by this test`, async () => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await waitGone(pid, 'a process this test started');
      });
    }
    if (!found.package)
      await undo('dpkg --purge pxe-pilot', async () => {
        if (!(await dpkgKnows())) return;
        const r = await sh('dpkg', ['--purge', 'pxe-pilot']);
        if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
      });
    // Whatever a failed purge left behind.
    if (!found.account) await undo('userdel pxe-pilot', async () => void ((await userExists()) && (await ok('userdel', ['pxe-pilot']))));
    if (!found.group) await undo('groupdel pxe-pilot', async () => void ((await groupExists()) && (await ok('groupdel', ['pxe-pilot']))));
    if (!found.state) await undo(`rm -r ${STATE}`, () => rmSync(STATE, { recursive: true, force: true }));
    if (!found.profileFolder) await undo('rm -r /etc/pxe-pilot', () => rmSync('/etc/pxe-pilot', { recursive: true, force: true }));
    if (!found.enabled) await undo(`rm ${WANTS}`, () => rmSync(WANTS, { force: true }));
    if (createdPolicy) await undo(`rm ${POLICY}`, () => rmSync(POLICY, { force: true }));
    await undo(`rm -r ${work}`, () => rmSync(work, { recursive: true, force: true }));
    const now = await footprint();
    for (const k of Object.keys(now) as (keyof Footprint)[]) if (now[k] && !found[k]) problems.push(`${FOOTPRINT_NAMES[k]} is still there`);
    if (problems.length) throw new Error(`the package test could not leave the host as it found it:\n${problems.join('\n')}`);
  });

  /** A process as the pxe-pilot account, as the service or an operator would start one; tracked by pid. */
  function spawnAsAccount(argv: string[]): ChildProcess {
    const child = spawn('setpriv', ['--reuid=pxe-pilot', '--regid=pxe-pilot', '--init-groups', '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`setpriv ${argv.join(' ')} did not start`);
    started.add(child.pid);
    return child;
  }

  /** Ends a process this test started (SIGTERM, SIGKILL after 10 s) and waits until /proc has no trace of it. */
  async function endStarted(child: ChildProcess, what: string): Promise<void> {
    const pid = child.pid!;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await waitGone(pid, what);
    started.delete(pid);
  }

  /** Waits (bounded) until every process this test started has exited, by pid. */
  async function allStartedGone(): Promise<void> {
    for (const pid of started) {
      await waitGone(pid, 'a process this test started');
      started.delete(pid);
    }
  }

  /** The installed daemon as the service user, on loopback with unprivileged ports, DHCP off. */
  async function startInstalledDaemon(): Promise<void> {
    httpPort = await freePort('tcp');
    const tftpPort = await freePort('udp');
    const profile = join(work, 'loopback.ini');
    writeFileSync(
      profile,
      `[server]\naddress = 127.0.0.1\nstate_dir = ${STATE}\nlog_level = warn\n[http]\nport = ${httpPort}\nbind = 127.0.0.1\n[https]\nenabled = false\n` +
        `[tftp]\nport = ${tftpPort}\nbind = 127.0.0.1\nroot = ${work}\n[dhcp]\nmode = off\n`,
      { mode: 0o644 },
    );
    daemon = spawnAsAccount(['/usr/bin/pxe-pilot', '--config', profile]);
    const output = collectOutput(daemon);
    const child = daemon;
    try {
      await waitFor(
        'the installed pxe-pilot to answer GET /health',
        async () => {
          if (child.exitCode !== null) throw new Error(`pxe-pilot exited with ${child.exitCode}:\n${output.text()}`);
          const r = await fetch(`http://127.0.0.1:${httpPort}/health`).catch(() => null);
          return r?.status === 200;
        },
        20_000,
        100,
      );
    } catch (err) {
      // A daemon that did not come up is ended before the failure is reported.
      await stopDaemon();
      throw err;
    }
  }

  async function stopDaemon(): Promise<void> {
    if (daemon) await endStarted(daemon, 'the installed pxe-pilot');
    daemon = null;
  }

  /** The schema version on disk, read without migrating (the package's own better-sqlite3). */
  async function schemaOnDisk(): Promise<{ version: number; tables: string[] }> {
    const script = `const D = require('/usr/lib/pxe-pilot/node_modules/better-sqlite3');
      const db = new D('${STATE}/pxe-pilot.sqlite', { readonly: true });
      console.log(JSON.stringify({ version: db.pragma('user_version', { simple: true }), tables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((r) => r.name) }));`;
    return JSON.parse(await ok('node', ['-e', script])) as { version: number; tables: string[] };
  }

  test('npm run deb builds the same bytes twice', () => {
    assert.match(debs.release, /\/pxe-pilot_[0-9][^_]*_[a-z0-9]+\.deb$/);
    assert.ok(readFileSync(debs.release).equals(readFileSync(debs.again)), `${debs.release} and ${debs.again} differ`);
  });

  test('lintian finds no errors and no warnings that are not overridden with a reason', async () => {
    const r = await sh('lintian', ['--fail-on', 'error,warning', debs.release]);
    assert.equal(r.code, 0, `lintian:\n${r.stdout}${r.stderr}`);
  });

  test('apt-get install: the files, the user, the state folder, check-config, the unit', async () => {
    await ok('apt-get', ['install', '-y', '--no-install-recommends', debs.release]);
    const files = (await ok('dpkg', ['-L', 'pxe-pilot'])).split('\n');
    for (const f of [
      '/usr/bin/pxe-pilot',
      '/usr/lib/pxe-pilot/dist/cli.js',
      '/usr/lib/pxe-pilot/build/Release/udp_device.node',
      '/usr/lib/pxe-pilot/build/Release/file_send.node',
      '/usr/lib/pxe-pilot/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      '/lib/systemd/system/pxe-pilot.service',
      '/usr/share/man/man8/pxe-pilot.8.gz',
      '/usr/share/doc/pxe-pilot/copyright',
      PROFILE,
    ]) {
      assert.ok(files.includes(f), `the package has no ${f}`);
    }
    // Production only: no TypeScript tooling, no test libraries.
    for (const dev of ['tsx', 'typescript', 'fast-check', '@types']) assert.ok(!existsSync(`/usr/lib/pxe-pilot/node_modules/${dev}`), `${dev} is installed`);
    assert.match(await ok('dpkg-query', ['-W', '-f=${Conffiles}', 'pxe-pilot']), new RegExp(`^ ${PROFILE} [0-9a-f]{32}$`, 'm'));

    const [, , uid, gid, , home, shell] = (await ok('getent', ['passwd', 'pxe-pilot'])).trim().split(':');
    assert.ok(Number(uid) < 1000, `pxe-pilot is uid ${uid}, not a system user`);
    assert.equal(home, STATE);
    assert.equal(shell, '/usr/sbin/nologin');
    const state = statSync(STATE);
    assert.equal(state.mode & 0o7777, 0o750);
    assert.deepEqual([state.uid, state.gid], [Number(uid), Number(gid)]);
    // The postinst brought the store up to date as the service user.
    assert.equal(statSync(`${STATE}/pxe-pilot.sqlite`).uid, Number(uid));
    assert.equal(lstatSync('/usr/lib/pxe-pilot/bin/pxe-pilot.mjs').mode & 0o777, 0o755);

    assert.match(await ok('pxe-pilot', ['--version']), /^pxe-pilot \d+\.\d+\.\d+/);
    assert.match(await ok('pxe-pilot', ['check-config']), /\[dhcp\][\s\S]*mode = off/);
    assert.match(await ok('zcat', ['/usr/share/man/man8/pxe-pilot.8.gz']), /store migrate/);
    await ok('systemd-analyze', ['verify', '/lib/systemd/system/pxe-pilot.service']);
    // The shipped profile answers no DHCP, so the package enabled the service (policy-rc.d held the start).
    assert.ok(lstatSync(WANTS).isSymbolicLink(), 'pxe-pilot.service is not enabled');
  });

  test('the installed daemon serves /health on loopback and records a machine', async () => {
    await startInstalledDaemon();
    try {
      const boot = await fetch(`http://127.0.0.1:${httpPort}/boot?mac=${MAC}`);
      assert.equal(boot.status, 200);
      assert.match(await boot.text(), /^#!ipxe/);
      const node = await fetch(`http://127.0.0.1:${httpPort}/nodes/${MAC}`);
      const body = await node.text();
      assert.equal(node.status, 200, body);
      assert.match(body, new RegExp(MAC));
    } finally {
      await stopDaemon();
    }
  });

  test('upgrade to a build with a schema change: migrated by the postinst, the machine and the edited profile kept', async () => {
    const before = await schemaOnDisk();
    assert.ok(!before.tables.includes(PROBE_TABLE));
    appendFileSync(PROFILE, '; edited by the operator\n');
    await ok('apt-get', ['install', '-y', '--no-install-recommends', debs.upgrade]);
    assert.match(await ok('dpkg-query', ['-W', '-f=${Version}', 'pxe-pilot']), /\+test1$/);
    const afterUpgrade = await schemaOnDisk();
    assert.equal(afterUpgrade.version, before.version + 1);
    assert.ok(afterUpgrade.tables.includes(PROBE_TABLE), `no ${PROBE_TABLE} table after the upgrade`);
    assert.match(readFileSync(PROFILE, 'utf8'), /; edited by the operator\n$/);

    await startInstalledDaemon();
    try {
      const node = await fetch(`http://127.0.0.1:${httpPort}/nodes/${MAC}`);
      const body = await node.text();
      assert.equal(node.status, 200, `the machine seen before the upgrade is gone: ${body}`);
      assert.match(body, new RegExp(MAC));
    } finally {
      await stopDaemon();
    }
  });

  test('remove keeps the state, the profile and the user; purge deletes them', async () => {
    // userdel refuses an account with a running process: every daemon started above is gone first.
    await allStartedGone();
    await noAccountProcesses();
    await ok('apt-get', ['remove', '-y', 'pxe-pilot']);
    assert.ok(!existsSync('/usr/bin/pxe-pilot'));
    assert.ok(!existsSync('/usr/lib/pxe-pilot'));
    assert.ok(existsSync(`${STATE}/pxe-pilot.sqlite`), 'remove deleted the state');
    assert.ok(existsSync(PROFILE), 'remove deleted the profile');
    assert.ok(await userExists(), 'remove deleted the user');

    await allStartedGone();
    await noAccountProcesses();
    await ok('apt-get', ['purge', '-y', 'pxe-pilot']);
    assert.ok(!existsSync(STATE), `purge left ${STATE}`);
    assert.ok(!existsSync('/etc/pxe-pilot'), 'purge left /etc/pxe-pilot');
    assert.ok(!(await userExists()), 'purge left the user');
    assert.notEqual((await sh('getent', ['group', 'pxe-pilot'])).code, 0, 'purge left the group');
    assert.ok(!existsSync(WANTS), 'purge left the service enabled');
    assert.notEqual((await sh('dpkg-query', ['-W', 'pxe-pilot'])).code, 0, 'dpkg still knows pxe-pilot');
  });

  test('a process of the account still running: remove and purge name it and what finishes the job, and end nothing', async () => {
    await ok('apt-get', ['install', '-y', '--no-install-recommends', debs.release]);
    // As an operator's hand-started daemon would be: running as the account, not the service.
    const uid = Number((await ok('getent', ['passwd', 'pxe-pilot'])).split(':')[2]);
    const standIn = spawnAsAccount(['sleep', '600']);
    const pid = standIn.pid!;
    const command = (): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    await waitFor('the stand-in to run as pxe-pilot', () => processesOf(uid).includes(pid) && command() === 'sleep 600');
    const alive = (): boolean => existsSync(`/proc/${pid}`) && standIn.exitCode === null && standIn.signalCode === null;

    const removed = await sh('dpkg', ['--remove', 'pxe-pilot']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stderr, new RegExp(`still running as the pxe-pilot account[^\\n]*\\n  ${pid}: sleep 600\\n`), removed.stderr);
    assert.ok(alive(), 'remove ended a process it did not start');

    const purged = await sh('dpkg', ['--purge', 'pxe-pilot']);
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(purged.stderr, /purge kept the account and group pxe-pilot: processes of that account are still running/, purged.stderr);
    assert.match(purged.stderr, new RegExp(`\\n  ${pid}: sleep 600\\n`), purged.stderr);
    assert.match(purged.stderr, /finish the purge with: userdel pxe-pilot; groupdel pxe-pilot/, purged.stderr);
    assert.ok(alive(), 'purge ended a process it did not start');
    assert.ok(await userExists(), 'purge removed an account that still has processes');
    assert.ok(!existsSync(STATE), `purge left ${STATE}`);
    assert.ok(!existsSync('/etc/pxe-pilot'), 'purge left /etc/pxe-pilot');
    assert.ok(!(await dpkgKnows()), 'dpkg still knows pxe-pilot');

    // The operator stops it, then runs what the purge named.
    await endStarted(standIn, 'the stand-in');
    await ok('userdel', ['pxe-pilot']);
    if (await groupExists()) await ok('groupdel', ['pxe-pilot']);
    assert.ok(!(await userExists()) && !(await groupExists()), 'the named commands did not finish the job');
  });
});
