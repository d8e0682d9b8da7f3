// Started as root outside systemd: bind, then run as an ordinary user with no capabilities.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { planDrop, type Account } from '../../src/net/privileges.ts';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { systemAccount } from '../helpers/accounts.ts';
import { startLoopbackDaemon, type LoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { repoRoot } from '../helpers/standin.ts';

const PXE: Account = { name: 'pxe-pilot', uid: 998, gid: 998 };
const facts = (over: { uid?: number; underSystemd?: boolean; accounts?: Account[] } = {}) => ({
  uid: over.uid ?? 0,
  underSystemd: over.underSystemd ?? false,
  lookup: (name: string) => (over.accounts ?? [PXE]).find((a) => a.name === name) ?? null,
});

describe('when to drop privileges', () => {
  test('root outside systemd with [server] user empty stays root, even with a pxe-pilot account on the host', () => {
    const looked: string[] = [];
    const plan = planDrop('', { ...facts(), lookup: (name) => (looked.push(name), PXE) });
    assert.equal(plan.action, 'stay');
    assert.match(plan.action === 'stay' ? plan.why : '', /^running as root: \[server\] user is empty/);
    assert.deepEqual(looked, [], 'an empty [server] user must not even look an account up');
  });
  test('[server] user = pxe-pilot switches to it; a missing one is a refusal naming it; uid 0 under another name too', () => {
    assert.deepEqual(planDrop('pxe-pilot', facts()), { action: 'drop', account: PXE });
    const ops: Account = { name: 'ops', uid: 1001, gid: 1001 };
    assert.deepEqual(planDrop('ops', facts({ accounts: [PXE, ops] })), { action: 'drop', account: ops });
    const missing = planDrop('nosuchuser', facts());
    assert.equal(missing.action, 'refuse');
    assert.match(missing.action === 'refuse' ? missing.message : '', /\[server\] user = nosuchuser: no such account/);
    assert.equal(planDrop('toor', facts({ accounts: [{ name: 'toor', uid: 0, gid: 0 }] })).action, 'refuse');
  });
  test('not root or under systemd: it stays whatever [server] user says; user = root stays root', () => {
    for (const user of ['', 'pxe-pilot', 'nosuchuser']) {
      assert.equal(planDrop(user, facts({ uid: 1000 })).action, 'stay', `uid 1000, user = ${user}`);
      assert.equal(planDrop(user, facts({ underSystemd: true })).action, 'stay', `systemd, user = ${user}`);
    }
    assert.equal(planDrop('root', facts()).action, 'stay');
    const none = planDrop('', facts({ accounts: [] }));
    assert.equal(none.action, 'stay');
  });
});

describe('pxe-pilot started as root with [server] user = nobody', { skip: skipUnless(['root']) }, () => {
  function profile(dir: string, user: string): string {
    const ini = join(dir, 'p.ini');
    // The state folder is the temporary folder itself, so nobody can reach it after the switch.
    writeFileSync(
      ini,
      [
        '[server]',
        'address = 127.0.0.1',
        `state_dir = ${join(dir, 'state')}`,
        `user = ${user}`,
        '[http]',
        'bind = 127.0.0.1',
        'port = 0',
        '[https]',
        'port = 0',
        '[tftp]',
        'enabled = false',
        '',
      ].join('\n'),
    );
    return ini;
  }

  test('it binds, then runs as nobody with no capabilities, serving, and owns its state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pxp-priv-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', profile(dir, 'nobody')], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, INVOCATION_ID: '' },
    });
    const out = collectOutput(child);
    try {
      await waitFor('the switch to nobody', () => out.text().includes('now running as nobody') || child.exitCode !== null, 30_000, 100);
      assert.equal(child.exitCode, null, out.text());
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
      assert.match(status, /^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
      assert.match(status, /^CapEff:\s+0+$/m);
      assert.equal(statSync(join(dir, 'state', 'pxe-pilot.sqlite')).uid, 65534);
      assert.equal(statSync(join(dir, 'state', 'tls', 'key.pem')).uid, 65534);
      const port = /http on tcp 127\.0\.0\.1:(\d+)/.exec(out.text())?.[1];
      assert.ok(port, out.text());
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      child.kill('SIGTERM');
      await waitFor('a clean stop', () => child.exitCode !== null, 15_000);
      assert.equal(child.exitCode, 0, out.text());
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a [server] user that does not exist stops it before anything binds (exit 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pxp-priv-'));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', profile(dir, 'no-such-user-pxp')], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, INVOCATION_ID: '' },
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /\[server\] user = no-such-user-pxp: no such account/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pxe-pilot started as root with [server] user empty', { skip: skipUnless(['root', 'useradd', 'userdel']) }, () => {
  test('does not switch account, nor re-own its state, although a pxe-pilot account exists', async () => {
    const account = systemAccount('pxe-pilot');
    let daemon: LoopbackDaemon | null = null;
    try {
      daemon = await startLoopbackDaemon({ user: '' });
      const out = daemon.output;
      // dropAfterBind logs one of the two once every socket is bound.
      await waitFor('the daemon to say whom it runs as', () => /running as root: \[server\] user is empty|now running as/.test(out()), 20_000, 50);
      assert.doesNotMatch(out(), /now running as/, out());
      const status = readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8');
      assert.match(status, /^Uid:\s+0\s+0\s+0\s+0$/m);
      assert.match(status, /^Gid:\s+0\s+0\s+0\s+0$/m);
      const state = join(daemon.dir, 'state');
      assert.deepEqual([statSync(state).uid, statSync(join(state, 'pxe-pilot.sqlite')).uid], [0, 0], `${state} changed owner`);
      assert.equal((await fetch(`${daemon.base}/health`)).status, 200);
    } finally {
      await daemon?.stop();
      await account.remove();
    }
  });
});
