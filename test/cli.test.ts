// The daemon as a user starts it: exit codes, the shipped profile, reload and stop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetLab, collectOutput, waitFor } from './helpers/netns.ts';
import { skipUnless } from './helpers/requirements.ts';
import { BindError } from '../src/service.ts';

const run = promisify(execFile);
const cli = [process.execPath, '--import', 'tsx', 'src/cli.ts'];
const dir = mkdtempSync(join(tmpdir(), 'pxp-cli-'));
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

test('check-config: exit 2 with file, section, key and value for a bad profile', async () => {
  const file = join(dir, 'bad.ini');
  writeFileSync(
    file,
    '[server]\naddress = 10.0.0.1\n[dhcp]\nmode = server\nrange_start = 10.0.1.10\nrange_end = 10.0.1.20\nnetmask = 255.255.255.0\n[host 52:54:00:12:34:5z]\nhostname = x\n',
  );
  const r = await pxePilot(['check-config', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    new RegExp(`${file}: \\[dhcp\\] range_start = "10\\.0\\.1\\.10": outside the subnet of \\[server\\] address 10\\.0\\.0\\.1/255\\.255\\.255\\.0`),
  );
  assert.match(r.stderr, /\[host 52:54:00:12:34:5z\]: "52:54:00:12:34:5z" is not a MAC address/);
  assert.match(r.stderr, /\[server\] interface = "": \[dhcp\] mode = server answers on one interface only/);
});

test('check-config: exit 0 prints the effective profile; a missing file is exit 2; bad usage is exit 2', async () => {
  const file = join(dir, 'ok.ini');
  writeFileSync(file, '[server]\naddress = 10.0.0.1\nstate_dir = state\n');
  const ok = await pxePilot(['check-config', '--config', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^address = 10\.0\.0\.1 {3}; from the profile$/m);
  assert.match(ok.stdout, new RegExp(`^state_dir = ${join(dir, 'state')}$`, 'm'), 'relative paths are relative to the profile');
  assert.match(ok.stderr, /warning: \[answers\] dir .* does not exist: create it/);
  const missing = await pxePilot(['check-config', '--config', join(dir, 'nope.ini')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.ini.*cannot read the profile: ENOENT/);
  assert.equal((await pxePilot(['frobnicate'])).code, 2);
  assert.equal((await pxePilot(['--bogus'])).code, 2);
});

test('bind failures tell the user what to do', () => {
  assert.match(
    new BindError('http', 'tcp', '0.0.0.0', 80, 'EACCES', '[http] port').message,
    /need root or CAP_NET_BIND_SERVICE; run as root, use the systemd unit .*or set \[http\] port to a port above 1023/,
  );
  assert.match(
    new BindError('tftp', 'udp', '0.0.0.0', 69, 'EADDRINUSE', '[tftp] port').message,
    /another program already listens there .*set \[tftp\] port to another port/,
  );
});

test(
  'the shipped profile brings up HTTP and TFTP, reloads on SIGHUP, refuses a broken reload, stops on SIGTERM',
  { skip: skipUnless(['root', 'curl']), timeout: 90_000 },
  async () => {
    const lab = new NetLab('cli');
    try {
      // A namespace of its own with one veth: the shipped profile's ports 80 and 69 are bound there only.
      await lab.addNamespace('host');
      await lab.addNamespace('peer');
      await lab.addVethPair('host', 'eth0', '10.99.0.1/24', 'peer', 'eth0', '10.99.0.2/24');
      const shipped = readFileSync('etc/pxe-pilot.ini', 'utf8');
      const file = join(dir, 'shipped.ini');
      // Only the state folder moves, so the test leaves nothing in /var/lib.
      writeFileSync(file, shipped.replace(/^state_dir = .*$/m, `state_dir = ${join(dir, 'state')}`));
      const child = lab.spawn('host', [...cli, '--config', file], { cwd: process.cwd() });
      const out = collectOutput(child);
      const curl = (path: string) => lab.exec('host', ['curl', '-s', '--max-time', '5', `http://localhost${path}`], { allowFail: true });
      await waitFor('the daemon to answer /health', async () => (await curl('/health')).stdout.includes('"status":"ok"'), 30_000, 200);

      const health = JSON.parse((await curl('/health')).stdout);
      assert.equal(health.address, '10.99.0.1', 'the address comes from the first non-loopback interface');
      assert.deepEqual(
        health.services.filter((s: { enabled: boolean }) => s.enabled).map((s: { name: string }) => s.name),
        ['http', 'tftp'],
      );
      assert.match((await curl('/boot.ipxe')).stdout, /chain --autofree http:\/\/10\.99\.0\.1\/boot\?mac=/);
      assert.match((await curl('/menu.ipxe')).stdout, /item local Boot from local disk/);
      assert.match(out.text(), /\[assets\] dir \/var\/lib\/pxe-pilot\/assets does not exist: create it/);
      if (skipUnless(['/usr/lib/ipxe/undionly.kpxe']) === false) {
        const got = await lab.exec('host', ['curl', '-s', '--max-time', '10', '-o', join(dir, 'undionly.kpxe'), 'tftp://127.0.0.1/undionly.kpxe']);
        assert.equal(got.code, 0);
        assert.deepEqual(readFileSync(join(dir, 'undionly.kpxe')), readFileSync('/usr/lib/ipxe/undionly.kpxe'));
      }

      // A broken profile on SIGHUP keeps the old one running and says why.
      writeFileSync(file, shipped.replace(/^mode = off$/m, 'mode = sometimes').replace(/^state_dir = .*$/m, `state_dir = ${join(dir, 'state')}`));
      child.kill('SIGHUP');
      await waitFor('the refused reload to be logged', () => /reload refused, the running profile stays:.*mode = \\"sometimes\\"/.test(out.text()), 10_000);
      assert.match((await curl('/health')).stdout, /"status":"ok"/);
      // A good one is taken: the menu timeout changes without a restart.
      writeFileSync(file, shipped.replace(/^menu_timeout = 10$/m, 'menu_timeout = 3').replace(/^state_dir = .*$/m, `state_dir = ${join(dir, 'state')}`));
      child.kill('SIGHUP');
      await waitFor('the reload to be logged', () => out.text().includes('reloaded'), 10_000);
      assert.match((await curl('/boot?mac=52:54:00:00:00:99')).stdout, /--timeout 3000/);

      // A second daemon on the same ports fails with advice and exit 1.
      const second = await lab.exec('host', [...cli, '--config', file], { allowFail: true, timeoutMs: 30_000 });
      assert.equal(second.code, 1);
      assert.match(second.stderr, /cannot bind tcp 0\.0\.0\.0:80 \(EADDRINUSE\): another program already listens there/);

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      await lab.destroy();
    }
  },
);

test('the systemd unit passes systemd-analyze verify', { skip: skipUnless(['systemd-analyze', '/usr/bin/node']) }, async () => {
  const r = await run('systemd-analyze', ['verify', 'systemd/pxe-pilot.service'], { encoding: 'utf8' }).catch((e: { stderr: string; code: number }) => ({
    stderr: e.stderr,
    code: e.code,
    stdout: '',
  }));
  assert.equal('code' in r ? r.code : 0, 0, r.stderr);
  const unit = readFileSync('systemd/pxe-pilot.service', 'utf8');
  assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW$/m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  assert.match(unit, /^User=pxe-pilot$/m);
});
