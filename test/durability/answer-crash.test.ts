// kill -9 at random points during a storm of answer fetches (loopback HTTP, the daemon in a child
// process): after a restart no consumed install is lost (every machine whose answer was served
// boots from its disk, no machine gets a second installer), and a read right after a write sees it.
// The kill points come from a printed seed; PXE_PILOT_CRASH_SEED=N replays them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { renderIni } from '../helpers/daemon.ts';
import { repoRoot } from '../helpers/standin.ts';
import { replayableRandom } from '../helpers/seeded-random.ts';

const MACHINES = 48;
const ROUNDS = 3;
const CONCURRENCY = 16;
const mac = (i: number): string => `52:54:00:d0:00:${i.toString(16).padStart(2, '0')}`;
const dir = mkdtempSync(join(tmpdir(), 'pxp-answer-crash-'));
// Chosen free (the kernel's pick for port 0) when the daemon starts; picked again if something
// took it in the meantime, since the daemon restarts on it after every kill.
let port = 0;
let base = '';
let daemon: ChildProcess | null = null;

after(() => {
  daemon?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
}

function writeLab(): string {
  mkdirSync(join(dir, 'assets', 'proxmox-ve', '9.1-1'), { recursive: true });
  writeFileSync(join(dir, 'assets', 'proxmox-ve', '9.1-1', 'vmlinuz'), 'kernel');
  writeFileSync(join(dir, 'assets', 'proxmox-ve', '9.1-1', 'initrd'), 'initrd');
  mkdirSync(join(dir, 'answers', 'hosts'), { recursive: true });
  for (let i = 0; i < MACHINES; i++) writeFileSync(join(dir, 'answers', 'hosts', `${mac(i).replace(/:/g, '-')}.toml`), '[global]\nfqdn = "{{hostname}}.lab"\n');
  return join(dir, 'pxe-pilot.ini');
}

function writeConfig(config: string): void {
  writeFileSync(
    config,
    renderIni({
      sections: {
        server: { address: '127.0.0.1', state_dir: join(dir, 'state'), log_level: 'warn' },
        http: { port, bind: '127.0.0.1' },
        // Answers over plain HTTP here: TLS and require_tls are tested in test/http/tls.test.ts.
        https: { enabled: false },
        tftp: { enabled: false },
        assets: { dir: join(dir, 'assets') },
        answers: { dir: join(dir, 'answers') },
      },
      hosts: Array.from({ length: MACHINES }, (_, i) => ({ mac: mac(i), hostname: `pve${i}`, action: 'install' as const, profile: 'proxmox-ve/9.1-1' })),
    }),
  );
}

/** Starts the daemon on the current port, or on a new free one when another process holds it. */
async function startDaemon(config: string): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    if (port === 0) {
      port = await freePort();
      base = `http://127.0.0.1:${port}`;
      writeConfig(config);
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', '--config', config], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = collectOutput(child);
    try {
      await waitFor(
        `pxe-pilot to answer GET /health on port ${port}`,
        async () => {
          if (child.exitCode !== null) throw new Error(`pxe-pilot exited with ${child.exitCode}: ${output.text().slice(-2000)}`);
          return (await fetch(`${base}/health`).catch(() => null))?.status === 200;
        },
        30_000,
        100,
      );
      return child;
    } catch (err) {
      const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
      child.kill('SIGKILL');
      await exited;
      if (attempt >= 3 || !/EADDRINUSE/.test(output.text())) throw err;
      port = 0;
    }
  }
}

async function killDaemon(): Promise<void> {
  const child = daemon!;
  daemon = null;
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  child.kill('SIGKILL');
  await exited;
}

function fetchAnswer(m: string): Promise<Response> {
  const body = { product: { product: 'pve' }, iso: { release: '9.1', isorelease: '1' }, network_interfaces: [{ link: 'eno1', mac: m }] };
  return fetch(`${base}/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function bootScript(m: string): Promise<string> {
  return (await fetch(`${base}/boot?mac=${m}`)).text();
}

async function nodeState(m: string): Promise<string | undefined> {
  const r = await fetch(`${base}/nodes/${m}`);
  return ((await r.json()) as { state?: string }).state;
}

test('kill -9 during answer storms loses no consumed install; a read right after a write sees it', { timeout: 240_000 }, async () => {
  const config = writeLab();
  daemon = await startDaemon(config);
  // The first boot of each machine arms its install ([host] action = install) and serves the installer.
  for (let i = 0; i < MACHINES; i++) assert.match(await bootScript(mac(i)), /kernel /, `${mac(i)} gets its installer on its first boot`);

  const { seed, random } = replayableRandom('PXE_PILOT_CRASH_SEED', 'answer-crash: kill points');
  const served = new Set<string>();
  let next = 0;
  for (let round = 0; round < ROUNDS && next < MACHINES; round++) {
    // A random point: after `target` answers of this round (the storm keeps going until the kill).
    const target = served.size + 1 + Math.floor(random() * Math.max(1, (MACHINES - next) / (ROUNDS - round) - 1));
    const kill: { done: Promise<void> | null } = { done: null };
    const worker = async (): Promise<void> => {
      while (next < MACHINES && daemon) {
        const m = mac(next++);
        const r = await fetchAnswer(m).catch(() => null);
        if (r?.status === 200) {
          await r.text();
          served.add(m);
        }
        if (served.size >= target && !kill.done) kill.done = killDaemon();
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await kill.done;
    daemon = await startDaemon(config);
    for (const m of served) {
      assert.match(await bootScript(m), /local disk/, `${m} had its answer served, so after the restart it boots from its disk`);
      assert.equal(await nodeState(m), 'installing', `${m}'s consumed install survived kill -9`);
    }
  }
  assert.ok(served.size > 0 && served.size < MACHINES, `answers served before the kills: ${served.size} of ${MACHINES} (crash seed ${seed})`);

  // Read right after write, through the daemon: a reinstall, then the boot; an answer, then the node and the boot.
  const again = [...served][0]!;
  assert.equal((await fetch(`${base}/nodes/${again}/reinstall`, { method: 'POST' })).status, 200);
  assert.match(await bootScript(again), /kernel /, 'the boot right after the reinstall serves the installer');
  assert.equal((await fetchAnswer(again)).status, 200);
  assert.equal(await nodeState(again), 'installing', 'the node right after the answer shows it consumed');
  assert.match(await bootScript(again), /local disk/, 'the boot right after the answer is from the disk');
  await killDaemon();
});
