import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommandLine } from '../../src/cli/commands.ts';

async function cli(argv: string[]): Promise<{ code: number | 'running'; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(argv, { out: { write: (s: string) => (stdout += s) }, err: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

test('agent build: an unknown architecture is exit 2 naming the ones it builds, before any work', async () => {
  const assets = mkdtempSync(join(tmpdir(), 'pxe-pilot-agent-cli-'));
  try {
    const r = await cli(['agent', 'build', '--arch', 'sparc', '--assets', assets]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--arch sparc: give amd64 or arm64/);
    assert.deepEqual(readdirSync(assets), []);
  } finally {
    rmSync(assets, { recursive: true, force: true });
  }
});

test('agent build: a missing assets folder is exit 2 saying so', async () => {
  const r = await cli(['agent', 'build', '--assets', join(tmpdir(), 'pxe-pilot-no-such-folder', 'assets')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /does not exist/);
});

test('agent build --help lists its flags', async () => {
  const r = await cli(['agent', 'build', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--arch', '--assets', '--config', '--force']) assert.match(r.stdout, new RegExp(flag));
});
