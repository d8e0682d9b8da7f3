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
import { repoRoot } from '../helpers/standin.ts';

const PXE: Account = { name: 'pxe-pilot', uid: 998, gid: 998 };
const facts = (over: { uid?: number; underSystemd?: boolean; accounts?: Account[] } = {}) => ({
  uid: over.uid ?? 0,
  underSystemd: over.underSystemd ?? false,
  lookup: (name: string) => (over.accounts ?? [PXE]).find((a) => a.name === name) ?? null,
});

describe('when to drop privileges', () => {
  test('root outside systemd drops to pxe-pilot when that account exists', () => {
    assert.deepEqual(planDrop('', facts()), { action: 'drop', account: PXE });
  });
  test('[server] user wins; a missing one is a refusal naming it; uid 0 under another name too', () => {
    const ops: Account = { name: 'ops', uid: 1001, gid: 1001 };
    assert.deepEqual(planDrop('ops', facts({ accounts: [PXE, ops] })), { action: 'drop', account: ops });
    const missing = planDrop('nosuchuser', facts());
    assert.equal(missing.action, 'refuse');
    assert.match(missing.action === 'refuse' ? missing.message : '', /\[server\] user = nosuchuser: no such account/);
    assert.equal(planDrop('toor', facts({ accounts: [{ name: 'toor', uid: 0, gid: 0 }] })).action, 'refuse');
  });
  test('not root, under systemd, user = root, or no account at all: it stays (the last with a warning)', () => {
    assert.equal(planDrop('', facts({ uid: 1000 })).action, 'stay');
    assert.equal(planDrop('', facts({ underSystemd: true })).action, 'stay');
    assert.equal(planDrop('root', facts()).action, 'stay');
    const none = planDrop('', facts({ accounts: [] }));
    assert.equal(none.action, 'stay');
    assert.match(none.action === 'stay' ? none.why : '', /running as root: there is no pxe-pilot account/);
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
