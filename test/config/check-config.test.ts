// check-config as a user runs it: what start-up or an install would trip over, each with what to change.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv } from '../helpers/cli.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'pxp-check-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function checkConfig(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, ...args] = cliArgv(['check-config', '--config', file]);
  try {
    const r = await run(node!, args, { encoding: 'utf8' });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let n = 0;
/** A folder with a profile (address 10.0.0.1, state, assets and answers inside it) and what `setup` adds. */
function lab(extra = '', setup: (dir: string) => void = () => {}): string {
  const dir = join(root, `lab${n++}`);
  mkdirSync(join(dir, 'assets'), { recursive: true });
  mkdirSync(join(dir, 'answers', 'hosts'), { recursive: true });
  setup(dir);
  const file = join(dir, 'pxe-pilot.ini');
  writeFileSync(file, `[server]\naddress = 10.0.0.1\nstate_dir = state\n[assets]\ndir = assets\n[answers]\ndir = answers\n${extra}`);
  return file;
}

function image(dir: string, name: string, cmdline?: string): void {
  const folder = join(dir, 'assets', ...name.split('/'));
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'vmlinuz'), 'k');
  writeFileSync(join(folder, 'initrd'), 'i');
  if (cmdline !== undefined) writeFileSync(join(folder, 'cmdline'), cmdline);
}

test('check-config refuses a cmdline placeholder typo, naming the file and line; iPXE settings and ours pass', async () => {
  let assets = '';
  const file = lab('[host 52:54:00:12:34:56]\ncmdline = console=${ttyS}\n', (dir) => {
    assets = join(dir, 'assets');
    image(dir, 'ubuntu/24.04', 'autoinstall ip=${ip} m=${mac_hyphen} net=${net0/ip}\n  hostname=${hostnmae}\n');
    image(dir, 'debian/12', 'auto=true url=${server}/preseed/${mac} arch=${buildarch}\n');
  });
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`${join(assets, 'ubuntu', '24.04', 'cmdline')} line 2, column 12: unknown placeholder \\$\\{hostnmae\\}: did you mean \\$\\{hostname\\}\\?`),
  );
  assert.match(r.stderr, /\[host 52:54:00:12:34:56\] cmdline = "console=\$\{ttyS\}": unknown placeholder \$\{ttyS\}/);
  assert.doesNotMatch(r.stderr, /debian\/12/);
});

test('check-config passes a profile whose cmdline files use only ours and iPXE settings', async () => {
  const file = lab('', (dir) => image(dir, 'ubuntu/24.04', 'autoinstall ip=${ip} m=${mac_hyphen} net=${net0/ip} h=${hostname}\n'));
  const r = await checkConfig(file);
  assert.equal(r.code, 0, r.stderr);
});
