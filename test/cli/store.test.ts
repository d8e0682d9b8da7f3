// `pxe-pilot store migrate`, as the Debian package's postinst runs it on every install and upgrade.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/store/migrations.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'pxp-store-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function pxePilot(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8' })) };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('store migrate creates the store at the latest schema, and says so again when run twice', async () => {
  const profile = join(dir, 'p.ini');
  writeFileSync(profile, `[server]\naddress = 10.0.0.1\nstate_dir = ${join(dir, 'state')}\n`);
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  for (let i = 0; i < 2; i++) {
    const r = await pxePilot(['store', 'migrate', '--config', profile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `store ${join(dir, 'state')}: schema version ${latest}\n`);
  }
  assert.ok(existsSync(join(dir, 'state', 'pxe-pilot.sqlite')));
});

test('store with an unknown subcommand, or a refused profile, is exit 2 with what to fix', async () => {
  const profile = join(dir, 'p2.ini');
  writeFileSync(profile, `[server]\naddress = 10.0.0.1\nstate_dir = ${join(dir, 'state2')}\n`);
  const unknown = await pxePilot(['store', 'vacuum', '--config', profile]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown subcommand "vacuum"[\s\S]*pxe-pilot store migrate/);
  assert.ok(!existsSync(join(dir, 'state2')), 'an unknown subcommand must not create the store');

  const bad = join(dir, 'bad.ini');
  writeFileSync(bad, `[server]\nstate_dir = ${join(dir, 'state3')}\nlog_level = loud\n`);
  const refused = await pxePilot(['store', 'migrate', '--config', bad]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /log_level/);
});
