// The daemon as a tester starts it: the shipped profile with a port changed by --set, machines in
// a conf.d drop-in, and SIGHUP re-reading the drop-in while the command line's override stays.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetLab, collectOutput, waitFor } from './helpers/netns.ts';
import { skipUnless } from './helpers/requirements.ts';

const run = promisify(execFile);
const cli = [process.execPath, '--import', 'tsx', 'src/cli.ts'];
const dir = mkdtempSync(join(tmpdir(), 'pxp-overrides-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function pxePilot(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(cli[0]!, [...cli.slice(1), ...args], { encoding: 'utf8' });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The shipped profile with its state in the test's folder and the drop-ins of conf.d. */
function shippedWithDropIns(): string {
  const file = join(dir, 'pxe-pilot.ini');
  const shipped = readFileSync('etc/pxe-pilot.ini', 'utf8')
    .replace(/^state_dir = .*$/m, `state_dir = ${join(dir, 'state')}`)
    .replace(/^include =$/m, 'include = conf.d/*.ini');
  writeFileSync(file, shipped);
  mkdirSync(join(dir, 'conf.d'), { recursive: true });
  return file;
}

test('check-config and explain take --set; a wrong one is exit 2 naming the flag', async () => {
  const file = shippedWithDropIns();
  writeFileSync(join(dir, 'conf.d/rack1.ini'), '[host 52:54:00:00:00:01]\naction = local\n');
  const ok = await pxePilot(['check-config', '--config', file, '--set', 'http.port=8081', '--set', 'host 52:54:00:00:00:01.hostname=pve1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^\[http\]\nport = 8081$/m);
  assert.ok(ok.stdout.includes(`# with the drop-ins ${join(dir, 'conf.d/rack1.ini')}\n`), ok.stdout);
  assert.match(ok.stdout, /^\[host 52:54:00:00:00:01\]\naction = local\nhostname = pve1$/m);
  const bad = await pxePilot(['check-config', '--config', file, '--set', 'http.port=abc']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^--set http\.port=abc: expected a whole number from 0 to 65535$/m);
  // explain reads the state folder the override names.
  const explained = await pxePilot(['explain', '52:54:00:00:00:01', '--config', file, '--set', `server.state_dir=${join(dir, 'other-state')}`]);
  assert.equal(explained.code, 0, explained.stderr);
  assert.match(explained.stdout, /52:54:00:00:00:01/);
});

test(
  'the daemon: --set changes the HTTP port, conf.d machines are served, SIGHUP re-reads the drop-in and keeps the override',
  { skip: skipUnless(['root', 'curl']), timeout: 90_000 },
  async () => {
    const lab = new NetLab('ovr');
    try {
      await lab.addNamespace('host');
      await lab.addNamespace('peer');
      await lab.addVethPair('host', 'eth0', '10.98.0.1/24', 'peer', 'eth0', '10.98.0.2/24');
      const file = shippedWithDropIns();
      const dropIn = join(dir, 'conf.d/rack1.ini');
      writeFileSync(dropIn, '[host 52:54:00:00:00:01]\naction = local\n');
      const child = lab.spawn('host', [...cli, '--config', file, '--set', 'http.port=8081', '--set', 'tftp.port=6969', '--set', 'https.port=8443'], {
        cwd: process.cwd(),
      });
      const out = collectOutput(child);
      const curl = (path: string) => lab.exec('host', ['curl', '-s', '--max-time', '5', `http://localhost:8081${path}`], { allowFail: true });
      await waitFor('the daemon to answer /health on port 8081', async () => (await curl('/health')).stdout.includes('"status":"ok"'), 30_000, 200);
      assert.match((await curl('/boot?mac=52:54:00:00:00:01')).stdout, /pxe-pilot: local disk/, 'the drop-in machine boots its disk');

      writeFileSync(dropIn, '[host 52:54:00:00:00:01]\naction = menu\n');
      child.kill('SIGHUP');
      await waitFor('the reload to be logged', () => out.text().includes('reloaded'), 10_000);
      assert.match((await curl('/boot?mac=52:54:00:00:00:01')).stdout, /item local Boot from local disk/, 'the changed drop-in is read again');
      assert.match((await curl('/health')).stdout, /"status":"ok"/, 'still on the port of --set');

      // A broken drop-in keeps the running profile and names the file.
      writeFileSync(dropIn, '[dhcp]\nmode = server\n');
      child.kill('SIGHUP');
      await waitFor('the refused reload to be logged', () => out.text().includes('reload refused'), 10_000);
      assert.ok(out.text().includes(`${dropIn}: [dhcp]: a drop-in holds`), out.text().slice(-2000));

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      await lab.destroy();
    }
  },
);
