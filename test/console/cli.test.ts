// The CLI against a running daemon on loopback: tables for people, JSON for scripts, exit codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startLoopbackDaemon, type LoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { repoRoot } from '../helpers/standin.ts';
import { waitFor } from '../helpers/netns.ts';
import { runCommandLine } from '../../src/cli/commands.ts';
import { cliArgv } from '../helpers/cli.ts';

/** spawn()'s command and arguments for `pxe-pilot <args>`. */
function spawnArgs(args: string[]): [string, string[]] {
  const [node, ...rest] = cliArgv(args);
  return [node!, rest];
}

let daemon: LoopbackDaemon;
const MAC = '52:54:00:cc:00:01';

before(async () => {
  daemon = await startLoopbackDaemon();
  assert.equal((await fetch(`${daemon.base}/boot?mac=${MAC}&platform=efi`)).status, 200);
});
after(async () => {
  await daemon?.stop();
});

/** The client commands in this process, as the CLI runs them (spawning tsx per call is slow on a shared machine). */
async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  if (args[0] === '--help') return spawned(args, env);
  const saved = { url: process.env.PXE_PILOT_URL, token: process.env.PXE_PILOT_TOKEN };
  process.env.PXE_PILOT_URL = env.PXE_PILOT_URL ?? '';
  process.env.PXE_PILOT_TOKEN = env.PXE_PILOT_TOKEN ?? '';
  let stdout = '';
  let stderr = '';
  try {
    const code = await runCommandLine(args, { out: { write: (s: string) => (stdout += s) }, err: { write: (s: string) => (stderr += s) } });
    assert.notEqual(code, 'running');
    return { code: code as number, stdout, stderr };
  } finally {
    process.env.PXE_PILOT_URL = saved.url ?? '';
    process.env.PXE_PILOT_TOKEN = saved.token ?? '';
  }
}

function spawned(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(...spawnArgs(args), { cwd: repoRoot, env: { ...process.env, PXE_PILOT_URL: '', PXE_PILOT_TOKEN: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('nodes lists machines in an aligned table, read from the profile named by --config', async () => {
  const r = await cli(['nodes', '--config', daemon.configFile]);
  assert.equal(r.code, 0, r.stderr);
  const [header, row] = r.stdout.split('\n');
  assert.match(header!, /^MAC\s+STATE\s+HOSTNAME\s+LAST IP\s+FIRMWARE\s+PROFILE\s+LAST SEEN$/);
  assert.match(row!, new RegExp(`^${MAC}\\s+seen\\s+-\\s+127\\.0\\.0\\.1\\s+uefi\\s+-\\s+\\d+ s ago$`));
  assert.equal(header!.indexOf('STATE'), row!.indexOf('seen'), 'columns line up');
  assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour into a pipe');
});

test('reinstall, show, cancel and local-boot change the node, with --url and PXE_PILOT_TOKEN', async () => {
  const env = { PXE_PILOT_TOKEN: daemon.token };
  const armed = await cli(['nodes', 'reinstall', MAC, '--profile', 'proxmox-ve/9.1-1', '--url', daemon.base, '--json'], env);
  assert.equal(armed.code, 0, armed.stderr);
  assert.equal((JSON.parse(armed.stdout) as { state: string }).state, 'install-pending');
  const shown = await cli(['nodes', 'show', MAC.replaceAll(':', '-'), '--url', daemon.base], env);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /install-pending/);
  assert.match(shown.stdout, /profile\s+proxmox-ve\/9\.1-1/);
  const filtered = await cli(['nodes', '--state', 'install-pending', '--url', daemon.base, '--json'], env);
  assert.deepEqual(
    (JSON.parse(filtered.stdout) as { nodes: { mac: string }[] }).nodes.map((n) => n.mac),
    [MAC],
  );
  const cancelled = await cli(['nodes', 'cancel', MAC, '--url', daemon.base, '--json'], env);
  assert.equal((JSON.parse(cancelled.stdout) as { state: string }).state, 'seen');
  const local = await cli(['nodes', 'local-boot', MAC, 'sanboot --no-describe --drive 0x80', '--url', daemon.base, '--json'], env);
  assert.equal((JSON.parse(local.stdout) as { localBoot: string }).localBoot, 'sanboot --no-describe --drive 0x80');
  const cleared = await cli(['nodes', 'local-boot', MAC, '--clear', '--url', daemon.base, '--json'], env);
  assert.equal((JSON.parse(cleared.stdout) as { localBoot: string | null }).localBoot, null);
});

test('bad input exits 2 with what to fix; an unknown image is refused by the daemon with the list', async () => {
  const env = { PXE_PILOT_URL: daemon.base, PXE_PILOT_TOKEN: daemon.token };
  const badMac = await spawned(['nodes', 'show', 'not-a-mac'], env);
  assert.equal(badMac.code, 2);
  assert.match(badMac.stderr, /"not-a-mac" is not a MAC address/);
  const badState = await cli(['nodes', '--state', 'sleeping'], env);
  assert.equal(badState.code, 2);
  assert.match(badState.stderr, /--state must be one of seen, install-pending/);
  const badImage = await cli(['nodes', 'reinstall', MAC, '--profile', 'debian/13'], env);
  assert.equal(badImage.code, 2);
  assert.match(badImage.stderr, /no install image debian\/13 .*available: proxmox-ve\/9\.1-1/);
  const badFlag = await cli(['leases', '--bogus'], env);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /^pxe-pilot leases: unknown flag --bogus$/m);
});

test('an unreachable daemon exits 1 naming the URL tried; a wrong token exits 1', async () => {
  const down = await spawned(['status', '--url', 'http://127.0.0.1:9']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /unreachable at http:\/\/127\.0\.0\.1:9\/status/);
  const wrong = await cli(['status', '--url', daemon.base], { PXE_PILOT_TOKEN: 'wrong-token-wrong-token' });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /refused: admin API: wrong token/);
});

test('status, images, leases and events answer; --help lists every command', async () => {
  const env = { PXE_PILOT_URL: daemon.base, PXE_PILOT_TOKEN: daemon.token };
  const status = await cli(['status'], env);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^http\s+running\s+tcp 127\.0\.0\.1:\d+$/m);
  assert.match(status.stdout, /^tftp\s+running\s+udp 127\.0\.0\.1:\d+$/m);
  const images = await cli(['images'], env);
  assert.match(images.stdout, /^proxmox-ve\/9\.1-1\s+2\s+/m);
  const leases = await cli(['leases'], env);
  assert.equal(leases.code, 0);
  assert.match(leases.stdout, /mode = off/);
  const events = await cli(['events', '--mac', MAC], env);
  assert.match(events.stdout, /GET \/boot\s+menu: /);
  const help = await cli(['--help']);
  for (const c of ['nodes', 'leases', 'events', 'images', 'status', 'explain', 'check-config', '--log-format'])
    assert.ok(help.stdout.includes(c), `--help mentions ${c}`);
  const nodesHelp = await cli(['nodes', '--help']);
  for (const c of ['show', 'reinstall', 'cancel', 'local-boot', '--state', '--profile', '--clear', '--json', '--url'])
    assert.ok(nodesHelp.stdout.includes(c), `nodes --help mentions ${c}`);
});

test('events --follow prints a new event as it happens', async () => {
  const child = spawn(...spawnArgs(['events', '--follow', '--limit', '1', '--url', daemon.base]), {
    cwd: repoRoot,
    env: { ...process.env, PXE_PILOT_TOKEN: daemon.token },
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  try {
    const follower = '52:54:00:cc:00:99';
    const deadline = Date.now() + 20_000;
    while (!stdout.includes(follower) && Date.now() < deadline) {
      // Retry: the first request may land before the follower has subscribed.
      await fetch(`${daemon.base}/boot?mac=${follower}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.match(stdout, new RegExp(`${follower}\\s+http\\s+GET /boot\\s+menu:`));
  } finally {
    child.kill('SIGTERM');
  }
});

test('GET /transfers lists a TFTP download in flight with its progress, and drops it when done', async () => {
  const { slowTftpDownload } = await import('../helpers/slow-tftp.ts');
  const download = slowTftpDownload(daemon.tftpPort, 'ipxe.efi', 15);
  const headers = { authorization: `Bearer ${daemon.token}` };
  type T = { protocol: string; file: string; bytes: number; size: number; client: string };
  let seen: T | undefined;
  const deadline = Date.now() + 20_000;
  while (!(seen && seen.bytes > 0) && Date.now() < deadline) {
    const r = (await (await fetch(`${daemon.base}/transfers`, { headers })).json()) as { transfers: T[] };
    seen = r.transfers.find((t) => t.file === 'ipxe.efi');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(seen, 'the download was listed');
  assert.equal(seen.protocol, 'tftp');
  assert.equal(seen.size, 64 * 1024);
  assert.equal(seen.client, '127.0.0.1');
  assert.ok(seen.bytes > 0 && seen.bytes < seen.size, `progress part-way: ${seen.bytes}`);
  assert.equal(await download.done, 64 * 1024);
  await waitFor(
    'the finished transfer to leave the table',
    async () => ((await (await fetch(`${daemon.base}/transfers`, { headers })).json()) as { transfers: T[] }).transfers.length === 0,
    5000,
  );
});
