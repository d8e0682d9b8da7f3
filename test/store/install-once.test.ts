// Install exactly once, with the daemon as users run it (`pxe-pilot --config <file>`, reloaded by
// SIGHUP, restarted by SIGTERM and a new start), on SQLite and on a private PostgreSQL:
// - a machine first seen with no [host], whose [host] then gains action = install: it installs
//   once, its installer fetches the answer, and from then on its network boots go to local disk;
// - a [host] with action = install whose install an operator cancels through the admin API: its
//   later network boots get the menu, with the reason, not the installer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeAnswerTree, post, type AnswerTree } from '../helpers/answer-tree.ts';
import { cliArgv } from '../helpers/cli.ts';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { freePort, skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { repoRoot } from '../helpers/standin.ts';

const skipPostgres = skipUnlessPostgres();
const JOINS_LATER = '52:54:00:f4:00:01';
const CANCELLED = '52:54:00:f4:00:02';
const IMAGE = 'proxmox-ve/9.1-1';
const TOKEN = 'install-once-admin-token-0123456789';

let server: TestPostgres | undefined;
let tree: AnswerTree;
const dirs: string[] = [];

before(async () => {
  tree = makeAnswerTree({ 'default.toml': '[global]\nfqdn = "{{mac}}.lab.example"\n' }, [IMAGE]);
  if (!skipPostgres) server = await startPostgres();
});
after(() => {
  server?.destroy();
  tree.remove();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** One appliance: its profile file, its state folder, and the daemon process while it runs. */
class Appliance {
  private child: ChildProcess | null = null;
  private output: { text: () => string } = { text: () => '' };
  readonly base: string;

  private constructor(
    private readonly configFile: string,
    private readonly settings: string[],
    port: number,
  ) {
    this.base = `http://127.0.0.1:${port}`;
  }

  static async create(store: string[]): Promise<Appliance> {
    const dir = mkdtempSync(join(tmpdir(), 'pxp-install-once-'));
    dirs.push(dir);
    const port = await freePort();
    const settings = [
      '[server]',
      'address = 127.0.0.1',
      `state_dir = ${join(dir, 'state')}`,
      '[http]',
      'bind = 127.0.0.1',
      `port = ${port}`,
      `admin_token = ${TOKEN}`,
      '[https]',
      'enabled = false',
      '[tftp]',
      'enabled = false',
      '[dhcp]',
      'mode = off',
      '[assets]',
      `dir = ${tree.assets}`,
      '[answers]',
      `dir = ${tree.answers}`,
      ...store,
    ];
    return new Appliance(join(dir, 'pxe-pilot.ini'), settings, port);
  }

  /** Writes the profile with these machines' [host] sections, action = install. */
  writeProfile(installs: string[]): void {
    const hosts = installs.flatMap((mac) => [`[host ${mac}]`, 'action = install', `profile = ${IMAGE}`]);
    writeFileSync(this.configFile, [...this.settings, ...hosts, ''].join('\n'));
  }

  async start(): Promise<void> {
    const [node, ...args] = cliArgv(['--config', this.configFile, '--log-format', 'json']);
    const child = spawn(node!, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = collectOutput(child);
    await waitFor(
      'the daemon to answer /health',
      async () => {
        if (child.exitCode !== null) throw new Error(`pxe-pilot exited with ${child.exitCode}:\n${this.output.text()}`);
        return fetch(`${this.base}/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      100,
    );
  }

  /** SIGHUP, as `systemctl reload` sends it; resolves once the daemon says it reloaded. */
  async reload(): Promise<void> {
    const reloads = (): number =>
      this.output
        .text()
        .split('\n')
        .filter((line) => line.includes('"msg":"reloaded ')).length;
    const before = reloads();
    this.child!.kill('SIGHUP');
    await waitFor('the daemon to reload its profile', () => reloads() > before, 20_000);
  }

  /** SIGTERM to the daemon this test started; resolves once it exited. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }

  async boot(mac: string): Promise<string> {
    const r = await fetch(`${this.base}/boot?mac=${mac}`);
    assert.equal(r.status, 200);
    return r.text();
  }

  admin(method: string, path: string): Promise<Response> {
    return fetch(`${this.base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  }
}

function answerRequest(mac: string): Record<string, unknown> {
  return { $schema: { version: '1.0' }, product: { product: 'pve' }, iso: { release: '9.1', isorelease: '1' }, network_interfaces: [{ link: 'eno1', mac }] };
}

const INSTALLER = /kernel http:\/\/127\.0\.0\.1:\d+\/assets\/proxmox-ve\/9\.1-1\/vmlinuz/;

async function installOnce(store: () => Promise<string[]>): Promise<void> {
  const appliance = await Appliance.create(await store());
  appliance.writeProfile([CANCELLED]);
  await appliance.start();
  try {
    // A: first seen with no [host] section.
    assert.match(await appliance.boot(JOINS_LATER), /^menu pxe-pilot/m);
    // B: its [host] arms it on first sight; the operator cancels it.
    assert.match(await appliance.boot(CANCELLED), INSTALLER);
    const cancel = await appliance.admin('DELETE', `/nodes/${CANCELLED}/reinstall`);
    assert.equal(cancel.status, 200, await cancel.text());

    // A: its [host] section gains action = install; the profile is reloaded.
    appliance.writeProfile([CANCELLED, JOINS_LATER]);
    await appliance.reload();
    assert.match(await appliance.boot(JOINS_LATER), INSTALLER, 'the next network boot installs');
    const answer = await post(appliance.base, '/answer', answerRequest(JOINS_LATER));
    assert.equal(answer.status, 200, answer.text);
    assert.match(answer.text, /fqdn = "52:54:00:f4:00:01\.lab\.example"/);

    for (let i = 0; i < 3; i++) {
      const later = await appliance.boot(JOINS_LATER);
      assert.doesNotMatch(later, INSTALLER, `boot ${i + 1} after the answer was fetched`);
      assert.match(later, /local disk: install consumed/);
      const cancelled = await appliance.boot(CANCELLED);
      assert.doesNotMatch(cancelled, INSTALLER, `boot ${i + 1} after the cancel`);
      assert.match(cancelled, /^menu pxe-pilot/m);
      assert.match(cancelled, /install was cancelled through the admin API/);
    }

    await appliance.stop();
    await appliance.start();
    for (let i = 0; i < 2; i++) {
      const later = await appliance.boot(JOINS_LATER);
      assert.doesNotMatch(later, INSTALLER, `boot ${i + 1} after the restart`);
      assert.match(later, /local disk: install consumed/);
      const cancelled = await appliance.boot(CANCELLED);
      assert.doesNotMatch(cancelled, INSTALLER, `boot ${i + 1} of the cancelled machine after the restart`);
      assert.match(cancelled, /install was cancelled through the admin API/);
    }
    const node = (await (await appliance.admin('GET', `/nodes/${JOINS_LATER}`)).json()) as { state: string; installs: unknown[] };
    assert.equal(node.state, 'installing');
    assert.equal(node.installs.length, 1, 'armed and consumed once');
  } finally {
    await appliance.stop();
  }
}

test('SQLite: a machine whose [host] gains action = install installs once; a cancelled install stays cancelled, also after a restart', () =>
  installOnce(() => Promise.resolve([])));

test(
  'PostgreSQL: a machine whose [host] gains action = install installs once; a cancelled install stays cancelled, also after a restart',
  { skip: skipPostgres },
  () => installOnce(async () => ['[store]', 'backend = postgresql', `url = ${await server!.createDatabase('install_once')}`, 'appliance = boot-a']),
);
