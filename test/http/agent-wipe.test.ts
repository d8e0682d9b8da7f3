// Release wipe through a real socket (issue 26): `nodes release --wipe` (the CLI, through the admin
// API) arms a wipe; the machine's next boot gets the agent with pxe_pilot.mode=wipe and spends it;
// the agent's POST /agent/<mac>/wipe-result releases the node to seen, unenrolled, its inventory
// kept, a failed disk kept as the reason (explain, nodes show). A refused post (403, 400, 409)
// changes nothing; CLI mistakes exit 2 with what to fix.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { runCommandLine } from '../../src/cli/commands.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { agentAssets } from '../helpers/deploy-assets.ts';
import { testInventory } from '../helpers/inventory.ts';

const GIB = 1024 ** 3;

async function cli(args: string[]): Promise<{ code: number | 'running'; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(args, { out: { write: (s: string) => (stdout += s) }, err: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

describe('releasing and wiping a machine', () => {
  const root = mkdtempSync(join(tmpdir(), 'pxp-wipe-'));
  const sessions = new MemoryAgentSessions();
  const ARMED = '52:54:00:3f:00:01';
  const HOST = '52:54:00:3f:00:02';
  const PLAIN = '52:54:00:3f:00:03';
  let store: Store;
  let service: HttpService;
  let base: string;
  const savedEnv = { url: process.env.PXE_PILOT_URL, token: process.env.PXE_PILOT_TOKEN };

  before(async () => {
    await agentAssets(root);
    store = Store.open(':memory:');
    const profile = testProfile({
      http: { bind: '127.0.0.1', port: 0 },
      assets: { dir: root },
      boot: { defaultAction: 'local' },
      hosts: [hostEntry(HOST, { action: 'wipe' })],
    });
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions });
    await service.start();
    profile.http.port = service.port;
    base = `http://127.0.0.1:${service.port}`;
    process.env.PXE_PILOT_URL = '';
    process.env.PXE_PILOT_TOKEN = '';
    for (const mac of [ARMED, HOST, PLAIN]) await store.setInventory(mac, testInventory(), `inspected-${mac}`);
    await store.setEnrolment(ARMED, { hostname: 'old1', profile: null, action: 'local', bmc: null, enrolledAt: 1, enrolledBy: 'admin' });
    await store.applyChange(ARMED, { kind: 'complete', fqdn: 'old1.lab', bootMode: 'uefi', report: null });
  });
  after(async () => {
    await service.stop();
    store.close();
    rmSync(root, { recursive: true, force: true });
    process.env.PXE_PILOT_URL = savedEnv.url ?? '';
    process.env.PXE_PILOT_TOKEN = savedEnv.token ?? '';
  });

  const boot = async (mac: string): Promise<string> => (await fetch(`${base}/boot?mac=${mac}&arch=x86_64&platform=efi`)).text();
  const tokenIn = (script: string): string => /pxe_pilot\.token=(\S+)/.exec(script)?.[1] ?? '';
  const post = (mac: string, token: string, body: unknown): Promise<Response> =>
    fetch(`${base}/agent/${mac}/wipe-result`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const disk = (name: string, cleared: string, ok = true, reason = '') => ({ name, sizeBytes: 20 * GIB, cleared, ok, reason });

  test('nodes release --wipe arms a wipe; the next boot is the agent in wipe mode, spent; its result releases the node, inventory kept', async () => {
    const armed = await cli(['nodes', 'release', ARMED, '--wipe', '--url', base, '--json']);
    assert.equal(armed.code, 0, armed.stderr);
    assert.equal((JSON.parse(armed.stdout) as { state: string }).state, 'wipe-pending');
    assert.match(store.events({ mac: ARMED }).at(-1)!.reason, /release with wipe asked by admin \(was installed\): wipe armed/);

    const script = await boot(ARMED);
    assert.match(script, /pxe-pilot-agent\/6\.1\.0-57-amd64\/vmlinuz .*pxe_pilot\.mode=wipe/);
    assert.equal(store.getNode(ARMED)?.state, 'wiping');
    assert.doesNotMatch(await boot(ARMED), /pxe_pilot\.mode=wipe/, 'a second boot before the result is local: never a loop');
    const token = tokenIn(script);

    // Refused posts change nothing.
    assert.equal((await post(ARMED, 'not-the-token', { disks: [] })).status, 403);
    const malformed = await post(ARMED, token, { disks: [{ name: 'vda', sizeBytes: 1, cleared: 'shredded', ok: true }] });
    assert.equal(malformed.status, 400);
    assert.match(((await malformed.json()) as { error: string }).error, /disks\[0\]\.cleared must be one of wipefs\+discard, wipefs, zeroed, none/);
    const noReason = await post(ARMED, token, { disks: [disk('vda', 'none', false)] });
    assert.equal(noReason.status, 400);
    assert.match(((await noReason.json()) as { error: string }).error, /disks\[0\]\.reason must say why/);
    assert.equal((await post(ARMED, token, '{not json')).status, 400);
    assert.equal((await post(ARMED, token, { disk: [] })).status, 400);
    assert.equal(store.getNode(ARMED)?.state, 'wiping');

    const r = await post(ARMED, token, { disks: [disk('vda', 'wipefs+discard'), disk('sdb', 'wipefs')] });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { state: string; ok: boolean; reason: string };
    assert.deepEqual([body.state, body.ok], ['seen', true]);
    const node = store.getNode(ARMED)!;
    assert.equal(node.state, 'seen');
    assert.equal(node.enrolment, null, 'unenrolled');
    assert.equal(node.installedAt, null);
    assert.ok(node.inventory, 'inventory kept');
    assert.match(JSON.stringify(node.installReport), /vda \(20\.0 GiB\) wipefs\+discard, sdb \(20\.0 GiB\) wipefs/);
    const event = store.events({ mac: ARMED }).at(-1)!;
    assert.deepEqual([event.protocol, event.kind, event.decision], ['agent', 'wipe-result', 'wiped']);

    const late = await post(ARMED, token, { disks: [] });
    assert.equal(late.status, 409, 'a second result: no wipe is armed');
    assert.match(((await late.json()) as { error: string }).error, /is seen, not wiping: no wipe is armed/);
    assert.equal(store.getNode(ARMED)?.state, 'seen');
    assert.doesNotMatch(await boot(ARMED), /pxe_pilot\.mode=wipe/);
  });

  test('[host] action = wipe: a failed disk is the reason, shown by explain and nodes show, and the machine is not armed again', async () => {
    const script = await boot(HOST);
    assert.match(script, /pxe_pilot\.mode=wipe/);
    const token = tokenIn(script);
    const r = await post(HOST, token, { disks: [disk('vda', 'wipefs+discard'), disk('sdb', 'none', false, 'wipefs -a /dev/sdb: Device or resource busy')] });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { ok: boolean }).ok, false);
    assert.equal(store.getNode(HOST)?.state, 'seen');
    assert.equal(store.events({ mac: HOST }).at(-1)!.decision, 'wipe-failed');
    const explain = await (await fetch(`${base}/nodes/${HOST}/explain`)).text();
    assert.match(explain, /released by a wipe that failed: sdb \(20\.0 GiB\) not cleared: wipefs -a \/dev\/sdb: Device or resource busy/);
    const shown = await cli(['nodes', 'show', HOST, '--url', base]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /last wipe\s+FAILED: sdb \(20\.0 GiB\) not cleared: wipefs -a \/dev\/sdb: Device or resource busy/);
    const again = await boot(HOST);
    assert.doesNotMatch(again, /pxe_pilot\.mode=wipe/, 'no loop');
    assert.match(store.events({ mac: HOST }).at(-1)!.reason, /a wipe is done once/);
  });

  test('nodes release without --wipe unenrols and clears the install state at once; a wipe result then is 409', async () => {
    await store.setEnrolment(PLAIN, { hostname: 'p1', profile: 'debian/12', action: 'install', bmc: null, enrolledAt: 1, enrolledBy: 'admin' });
    await store.applyChange(PLAIN, { kind: 'arm', profile: 'debian/12', by: 'admin' });
    const released = await cli(['nodes', 'release', PLAIN, '--url', base, '--json']);
    assert.equal(released.code, 0, released.stderr);
    const node = JSON.parse(released.stdout) as { state: string; enrolment: unknown; discovered: boolean };
    assert.deepEqual([node.state, node.enrolment, node.discovered], ['seen', null, true]);
    assert.ok(store.getNode(PLAIN)?.inventory);
    const token = sessions.mint(PLAIN).token;
    assert.equal((await post(PLAIN, token, { disks: [] })).status, 409);
    assert.equal(store.getNode(PLAIN)?.state, 'seen');
    const unknown = await cli(['nodes', 'release', '52:54:00:3f:00:99', '--url', base]);
    assert.equal(unknown.code, 2, 'a machine the daemon does not know is a mistake to fix');
    assert.match(unknown.stderr, /no node 52:54:00:3f:00:99/);
  });

  test('CLI mistakes exit 2 with what to fix, and nothing is asked of the daemon', async () => {
    const before = store.events().length;
    const cases: [string[], RegExp][] = [
      [['nodes', 'release', 'not-a-mac', '--url', base], /^pxe-pilot nodes release: "not-a-mac" is not a MAC address/m],
      [['nodes', 'release', '--url', base], /^pxe-pilot nodes release: missing MAC/m],
      [['nodes', 'release', ARMED, 'now', '--url', base], /^pxe-pilot nodes release: unexpected "now"/m],
      [['nodes', 'release', ARMED, '--wipe=yes', '--url', base], /^pxe-pilot nodes release: --wipe takes no value/m],
      [['nodes', 'release', ARMED, '--wipes', '--url', base], /^pxe-pilot nodes release: unknown flag --wipes; did you mean --wipe\?/m],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, argv.join(' '));
    }
    assert.equal(store.events().length, before, 'nothing reached the daemon');
    const refused = await fetch(`${base}/nodes/${ARMED}/release`, {
      method: 'POST',
      body: JSON.stringify({ wipe: 'yes' }),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(refused.status, 400);
    assert.match(((await refused.json()) as { error: string }).error, /release request: wipe must be true or false/);
  });
});
