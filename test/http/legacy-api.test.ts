// [http] legacy_api on a live daemon (127.0.0.1): the aayusharyan routes in that project's shapes,
// backed by the node lifecycle, with the admin token as its ADMIN_API_KEY; the WisherOps /hosts
// shape; the native API unchanged for the CLI's header and when legacy_api is off; no 500.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startLoopbackDaemon, TOKEN, type LoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { cliArgv } from '../helpers/cli.ts';

const run = promisify(execFile);

const AUTH = { authorization: `Bearer ${TOKEN}` };
const NATIVE = { ...AUTH, 'x-pxe-pilot-api': 'native' };
const MAC = 'aa:bb:cc:dd:ee:01';

async function call(d: LoopbackDaemon, method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}) {
  const res = await fetch(`${d.base}${path}`, {
    method,
    headers: { ...AUTH, ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    // an iPXE script
  }
  return { status: res.status, text, json: json as Record<string, unknown> };
}

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$/;

describe('legacy_api = aayusharyan', () => {
  let d: LoopbackDaemon;
  before(async () => {
    d = await startLoopbackDaemon({ extraHttp: 'legacy_api = aayusharyan', hosts: '[boot]\nunknown = local\n' });
  });
  after(() => d.stop());

  test('/health and /chain answer in its shapes; the native health is there for our own clients', async () => {
    assert.deepEqual((await call(d, 'GET', '/health', { headers: { authorization: '' } })).json, { status: 'OK' });
    assert.equal((await call(d, 'GET', '/health', { headers: NATIVE })).json.status, 'ok');
    const chain = await call(d, 'GET', '/chain');
    assert.equal(chain.status, 200);
    assert.match(
      chain.text,
      /^#!ipxe\nchain http:\/\/127\.0\.0\.1:\d+\/boot\?mac=\$\{mac\} \|\| goto fallback\n:fallback\n(echo .*\n)iseq \$\{platform\} efi && exit 1 \|\| exit\n$/,
    );
  });

  test('reinstall arms the node through the lifecycle and GET /nodes reads the flag from its state, times in ISO 8601', async () => {
    assert.equal((await call(d, 'GET', `/boot?mac=${MAC}`)).status, 200);
    let nodes = (await call(d, 'GET', '/nodes')).json.nodes as Record<string, unknown>[];
    const seen = nodes.find((n) => n.mac === MAC)!;
    assert.deepEqual(Object.keys(seen), ['mac', 'reinstall', 'local_boot_script', 'last_seen', 'created_at']);
    assert.equal(seen.reinstall, false);
    assert.equal(seen.local_boot_script, null);
    assert.match(String(seen.last_seen), ISO_UTC);
    assert.match(String(seen.created_at), ISO_UTC);

    const armed = await call(d, 'POST', `/nodes/${MAC.toUpperCase().replace(/:/g, '-')}/reinstall`);
    assert.deepEqual(armed.json, { mac: MAC, reinstall: true });
    assert.equal((await call(d, 'GET', `/nodes/${MAC}`, { headers: NATIVE })).json.state, 'install-pending');
    nodes = (await call(d, 'GET', '/nodes')).json.nodes as Record<string, unknown>[];
    assert.equal(nodes.find((n) => n.mac === MAC)!.reinstall, true);

    assert.deepEqual((await call(d, 'DELETE', `/nodes/${MAC}/reinstall`)).json, { mac: MAC, reinstall: false });
    assert.equal((await call(d, 'GET', `/nodes/${MAC}`, { headers: NATIVE })).json.state, 'seen');
    // Cleared for a machine it never saw: created, as that project did.
    assert.deepEqual((await call(d, 'DELETE', '/nodes/de:ad:be:ef:00:99/reinstall')).json, { mac: 'de:ad:be:ef:00:99', reinstall: false });
    // The native list keeps its own shape for the CLI.
    const native = await call(d, 'GET', '/nodes', { headers: NATIVE });
    assert.equal(typeof native.json.total, 'number');
  });

  test('local-boot-config takes its scripts (a decimal UEFI drive too) and refuses the rest with 400', async () => {
    const put = (body: string) => call(d, 'PUT', `/nodes/${MAC}/local-boot-config`, { headers: { 'content-type': 'application/json' }, body });
    assert.deepEqual((await put(JSON.stringify({ script: 'sanboot --no-describe --drive 0' }))).json, {
      mac: MAC,
      local_boot_script: 'sanboot --no-describe --drive 0',
    });
    assert.match((await call(d, 'GET', `/boot?mac=${MAC}`)).text, /\nsanboot --no-describe --drive 0\n/);
    for (const bad of ['kernel http://198.51.100.1/linux', 'sanboot --unknown-flag', 'sanboot --drive ../../etc/passwd', '', 'exit\nshell']) {
      const r = await put(JSON.stringify({ script: bad }));
      assert.equal(r.status, 400, bad);
      assert.equal(typeof r.json.error, 'string');
    }
    const missing = await put(JSON.stringify({ command: 'exit' }));
    assert.equal(missing.status, 400);
    assert.match(String(missing.json.error), /script/);
    assert.deepEqual((await call(d, 'DELETE', `/nodes/${MAC}/local-boot-config`)).json, { mac: MAC, local_boot_script: null });
    assert.doesNotMatch((await call(d, 'GET', `/boot?mac=${MAC}`)).text, /sanboot/);
  });

  test("pxe-pilot's own CLI still gets the native shapes on the shared paths", async () => {
    await call(d, 'POST', '/nodes/52:54:00:cc:00:01/reinstall');
    const [node, ...args] = cliArgv(['nodes', '--config', d.configFile, '--json']);
    const { stdout } = await run(node!, args, { encoding: 'utf8', env: { ...process.env, PXE_PILOT_URL: '', PXE_PILOT_TOKEN: '' } });
    const listed = JSON.parse(stdout) as { total: number; nodes: { mac: string; state: string }[] };
    assert.equal(typeof listed.total, 'number');
    assert.equal(listed.nodes.find((n) => n.mac === '52:54:00:cc:00:01')?.state, 'install-pending');
  });

  test('bad MACs are 400 with an error, a missing or wrong token 401, and hostile bodies never a 500', async () => {
    for (const [method, path] of [
      ['POST', '/nodes/invalid/reinstall'],
      ['DELETE', '/nodes/invalid/reinstall'],
      ['PUT', '/nodes/aa:bb:cc/local-boot-config'],
      ['DELETE', '/nodes/zz:zz:zz:zz:zz:zz/local-boot-config'],
    ]) {
      const r = await call(d, method!, path!, { body: '{"script":"exit"}' });
      assert.equal(r.status, 400, `${method} ${path}`);
      assert.equal(typeof r.json.error, 'string');
    }
    assert.equal((await call(d, 'GET', '/nodes', { headers: { authorization: '' } })).status, 401);
    assert.equal((await call(d, 'GET', '/nodes', { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.equal((await call(d, 'POST', `/nodes/${MAC}/reinstall`, { headers: { authorization: '' } })).status, 401);
    for (const body of ['', 'null', '[]', '"x"', '{"script": 7}', '{"script": null}', '{', '\u0000\u00ff', JSON.stringify({ script: 'x'.repeat(10_000) })]) {
      const r = await call(d, 'PUT', `/nodes/${MAC}/local-boot-config`, { headers: { 'content-type': 'application/json' }, body });
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 40));
    }
  });
});

describe('legacy_api = wisherops, and off', () => {
  let wisherops: LoopbackDaemon;
  let off: LoopbackDaemon;
  let answers: string;
  before(async () => {
    answers = mkdtempSync(join(tmpdir(), 'pxp-legacy-answers-'));
    mkdirSync(join(answers, 'hosts'), { recursive: true });
    writeFileSync(join(answers, 'default.toml'), '[global]\nfqdn = "default"\n');
    writeFileSync(join(answers, 'hosts', 'cc-cc-cc-cc-cc-cc.toml'), '[global]\nfqdn = "c"\n');
    writeFileSync(join(answers, 'hosts', 'aa-aa-aa-aa-aa-aa.toml'), '[global]\nfqdn = "a"\n');
    writeFileSync(join(answers, 'hosts', 'notes.txt'), 'x');
    wisherops = await startLoopbackDaemon({ extraHttp: 'legacy_api = wisherops', hosts: `[answers]\ndir = ${answers}\n` });
    off = await startLoopbackDaemon();
  });
  after(async () => {
    await wisherops?.stop();
    await off?.stop();
    rmSync(answers, { recursive: true, force: true });
  });

  test('GET /hosts in its shape, /hosts/<mac> with its source header, admin token needed', async () => {
    const hosts = await call(wisherops, 'GET', '/hosts');
    assert.equal(hosts.status, 200, hosts.text);
    assert.deepEqual(hosts.json, { default_exists: true, host_count: 2, hosts: ['aa-aa-aa-aa-aa-aa', 'cc-cc-cc-cc-cc-cc'] });
    const res = await fetch(`${wisherops.base}/hosts/AA:AA:AA:AA:AA:AA`, { headers: AUTH });
    assert.equal(res.headers.get('x-pxe-pilot-source'), 'hosts/aa-aa-aa-aa-aa-aa.toml');
    assert.equal(await res.text(), '[global]\nfqdn = "a"\n');
    assert.equal((await call(wisherops, 'GET', '/hosts/not-a-mac')).status, 400);
    assert.equal((await call(wisherops, 'GET', '/hosts', { headers: { authorization: '' } })).status, 401);
    assert.equal((await call(wisherops, 'GET', '/hosts', { headers: NATIVE })).json.dir !== undefined, true);
  });

  test('with legacy_api off, the paths answer natively', async () => {
    assert.equal((await call(off, 'GET', '/health')).json.status, 'ok');
    assert.equal(typeof (await call(off, 'GET', '/nodes')).json.total, 'number');
    assert.equal((await call(off, 'PUT', `/nodes/${MAC}/local-boot-config`, { body: '{"script":"exit"}' })).status, 404);
  });
});
