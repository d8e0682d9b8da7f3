// debian/postinst's store step, run as dpkg runs it but with every command it calls replaced by a
// stand-in on PATH that records its arguments: nothing on this host is installed, created or started.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'pxp-postinst-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `postinst configure` with stand-ins; pxe-pilot check-config prints `profile`. Returns stderr and the calls made. */
async function postinst(profile: string): Promise<{ stderr: string; calls: string[] }> {
  const bin = mkdtempSync(join(dir, 'bin-'));
  const log = join(bin, 'calls.log');
  const standIn = (name: string, body: string): void => {
    writeFileSync(join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  writeFileSync(join(bin, 'profile.txt'), profile);
  standIn('pxe-pilot', `[ "$1" = check-config ] && cat ${join(bin, 'profile.txt')}; exit 0`);
  for (const name of ['getent', 'dpkg-statoverride', 'install', 'runuser', 'systemctl', 'deb-systemd-invoke', 'adduser']) standIn(name, 'exit 0');
  standIn('deb-systemd-helper', '[ "$2" = was-enabled ] && exit 1; exit 0');
  standIn('md5sum', 'echo 0 -');
  const r = await run('sh', ['debian/postinst', 'configure', ''], { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:/usr/bin:/bin` } });
  return { stderr: r.stderr, calls: readFileSync(log, 'utf8').trim().split('\n') };
}

test('postinst offers store migrate, and does not run it, when the profile keeps its state in PostgreSQL', async () => {
  const { stderr, calls } = await postinst('[server]\nstate_dir = /var/lib/pxe-pilot\n[dhcp]\nmode = off\n[store]\nbackend = postgresql\nurl = (set)\n');
  assert.match(stderr, /keeps its state in PostgreSQL/);
  assert.match(stderr, /^ {2}runuser -u pxe-pilot -- pxe-pilot store migrate --config \/etc\/pxe-pilot\/pxe-pilot\.ini$/m);
  assert.ok(!calls.some((c) => c.includes('store migrate')), calls.join('\n'));
});

test('postinst migrates a SQLite store as the service user, as before', async () => {
  const { stderr, calls } = await postinst('[server]\nstate_dir = /var/lib/pxe-pilot\n[dhcp]\nmode = off\n[store]\nbackend = sqlite\n');
  assert.doesNotMatch(stderr, /PostgreSQL/);
  assert.ok(calls.includes('runuser -u pxe-pilot -- pxe-pilot store migrate --config /etc/pxe-pilot/pxe-pilot.ini'), calls.join('\n'));
});
