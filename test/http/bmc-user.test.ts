// BMC users created by the inspection agent, through a real socket: the enrolment asks
// (createBmcUser, refused without [power] create_bmc_user or an in-band BMC), /agent/<mac>/next
// says "bmc-user" until the agent posted, the post needs this boot's agent session, and the daemon
// writes the credentials file (mode 600, atomically) and sets the enrolment's bmc. The password
// is in that file and nowhere else.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { testProfile } from '../helpers/profile.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { testInventory } from '../helpers/inventory.ts';
import { cliArgv } from '../helpers/cli.ts';
import { repoRoot } from '../helpers/standin.ts';

const MAC = '52:54:00:bc:00:01';
const FAILING = '52:54:00:bc:00:02';
const NO_BMC = '52:54:00:bc:00:03';
const UNASKED = '52:54:00:bc:00:04';
const ADMIN = 'admin-token-bmc-user-http-0123';
const PASSWORD = 'Zq7Kp2Lm9Xw4Rt8V';
const BMC_IP = '10.0.9.101';

describe('BMC users created by the inspection agent', () => {
  let service: HttpService;
  let store: Store;
  let base: string;
  let dir: string;
  let credentialsDir: string;
  let logText = '';
  const shown: string[] = [];
  const sessions = new MemoryAgentSessions();
  const profile = testProfile({ http: { bind: '127.0.0.1', port: 0, adminToken: ADMIN }, boot: { afterInspect: 'poweroff' } });

  const call = async (method: string, path: string, body?: unknown, token = ADMIN) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    shown.push(text);
    return { status: res.status, text, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const next = async (mac: string, token: string) => (await call('GET', `/agent/${mac}/next`, undefined, token)).json;
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const [node, ...rest] = cliArgv([...args, '--url', base]);
      execFile(node!, rest, { cwd: repoRoot, env: { ...process.env, PXE_PILOT_TOKEN: ADMIN } }, (err, stdout, stderr) => {
        shown.push(stdout, stderr);
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pxe-bmc-user-http-'));
    credentialsDir = join(dir, 'bmc');
    profile.power.createBmcUser = true;
    profile.power.credentialsDir = credentialsDir;
    store = Store.open(':memory:');
    const withBmc = { ...testInventory(), bmc: { ip: BMC_IP, mac: '52:54:00:b3:c0:01' } };
    for (const mac of [MAC, FAILING, NO_BMC, UNASKED]) {
      store.sawNode(mac, {}, false);
      await store.setInventory(mac, mac === NO_BMC ? testInventory() : withBmc, `s-${mac}`);
    }
    const logger = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => ((logText += c.toString()), cb()) }));
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions, logger });
    await service.start();
    base = `http://127.0.0.1:${service.port}`;
  });
  after(async () => {
    await service.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an enrolment asking for a BMC user is refused, with the reason, without create_bmc_user or an in-band BMC; the CLI exits 2', async () => {
    profile.power.createBmcUser = false;
    const off = await call('PUT', `/nodes/${MAC}/enrolment`, { hostname: 'rr1', action: 'local', createBmcUser: true });
    assert.equal(off.status, 400, off.text);
    assert.match(off.text, /create_bmc_user = false/);
    const offCli = await cli(['nodes', 'enrol', MAC, '--hostname', 'rr1', '--action', 'local', '--create-bmc-user']);
    assert.equal(offCli.code, 2, offCli.stderr);
    assert.match(offCli.stderr, /create_bmc_user = false/);
    profile.power.createBmcUser = true;

    const noBmc = await call('PUT', `/nodes/${NO_BMC}/enrolment`, { hostname: 'rr3', action: 'local', createBmcUser: true });
    assert.equal(noBmc.status, 400, noBmc.text);
    assert.match(noBmc.text, /no in-band BMC \(bmc: null\)/);
    const both = await call('PUT', `/nodes/${MAC}/enrolment`, { hostname: 'rr1', action: 'local', createBmcUser: true, bmc: 'ipmi://10.0.0.5' });
    assert.equal(both.status, 400, both.text);
    const notBool = await call('PUT', `/nodes/${MAC}/enrolment`, { hostname: 'rr1', action: 'local', createBmcUser: 'yes' });
    assert.equal(notBool.status, 400);
    assert.match(notBool.text, /createBmcUser must be true or false/);
    for (const mac of [MAC, NO_BMC]) assert.equal(store.getNode(mac)?.enrolment ?? null, null, 'a refused enrolment changes nothing');
  });

  test('enrolled with --create-bmc-user, /agent/next asks for the user until the agent posted it', async () => {
    const { token } = sessions.mint(MAC);
    assert.equal((await next(MAC, token)).next, 'poweroff', 'not asked before the enrolment');
    const enrolled = await cli(['nodes', 'enrol', MAC, '--hostname', 'rr1', '--action', 'local', '--create-bmc-user']);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    assert.equal(store.getNode(MAC)?.enrolment?.createBmcUser, true);
    const asked = await next(MAC, token);
    assert.equal(asked.next, 'bmc-user');
    assert.match(String(asked.reason), /asks for a BMC user and \[power\] create_bmc_user = true/);
    // Turned off in the profile since: not asked.
    profile.power.createBmcUser = false;
    assert.notEqual((await next(MAC, token)).next, 'bmc-user');
    profile.power.createBmcUser = true;
  });

  test("the post needs this boot's agent session, a well-formed body and an enrolment that asks; a refusal writes nothing", async () => {
    const body = { username: 'pxe-pilot', password: PASSWORD, ip: BMC_IP, channel: 1, userId: 3 };
    const path = `/agent/${MAC}/bmc-user`;
    assert.equal((await call('POST', path, body, '')).status, 403);
    assert.equal((await call('POST', path, body, 'not-a-session')).status, 403);
    assert.equal((await call('POST', path, body, ADMIN)).status, 403, 'not the admin token');
    const other = sessions.mint('52:54:00:bc:00:99').token;
    assert.equal((await call('POST', path, body, other)).status, 403, "another machine's session");
    const { token } = sessions.mint(MAC);
    const short = await call('POST', path, { ...body, password: 'short' }, token);
    assert.equal(short.status, 400);
    assert.match(short.text, /password must be 8 to 20 printable ASCII/);
    const badIp = await call('POST', path, { ...body, ip: '10.0.9' }, token);
    assert.equal(badIp.status, 400);
    assert.match(badIp.text, /ip must be/);
    assert.equal((await call('POST', path, '{"username":', token)).status, 400);
    const unasked = await call('POST', `/agent/${UNASKED}/bmc-user`, body, sessions.mint(UNASKED).token);
    assert.equal(unasked.status, 409);
    assert.match(unasked.text, /does not ask for a BMC user/);
    assert.equal(existsSync(credentialsDir), false, 'no refused post wrote anything');
  });

  test('the daemon writes the credentials file (mode 600, atomically over an old one), sets the bmc, and the agent is no longer asked', async () => {
    // An old, too-open file for the same BMC is replaced whole.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(credentialsDir, { mode: 0o700 });
    writeFileSync(join(credentialsDir, BMC_IP), 'username = old\npassword = old-password-1\n');
    chmodSync(join(credentialsDir, BMC_IP), 0o644);
    const { token } = sessions.mint(MAC);
    const posted = await call('POST', `/agent/${MAC}/bmc-user`, { username: 'pxe-pilot', password: PASSWORD, ip: BMC_IP, channel: 1, userId: 3 }, token);
    assert.equal(posted.status, 201, posted.text);
    assert.deepEqual(posted.json.bmc, `ipmi://${BMC_IP}`);
    const file = join(credentialsDir, BMC_IP);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(file).uid, process.getuid!());
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^username = pxe-pilot$/m);
    assert.match(text, new RegExp(`^password = ${PASSWORD}$`, 'm'));
    assert.deepEqual(readdirSync(credentialsDir), [BMC_IP], 'no temporary file left');
    const enrolment = store.getNode(MAC)?.enrolment;
    assert.equal(enrolment?.bmc, `ipmi://${BMC_IP}`);
    assert.equal(enrolment?.bmcUser?.error, null);
    const event = store.events({ mac: MAC }).find((e) => e.decision === 'bmc-user-created');
    assert.match(
      event?.reason ?? '',
      /BMC user pxe-pilot \(user id 3 on LAN channel 1\) created by the inspection agent; credentials written to .*10\.0\.9\.101 \(mode 600\); bmc = ipmi:\/\/10\.0\.9\.101/,
    );
    assert.notEqual((await next(MAC, token)).next, 'bmc-user');
    // A second post in the same enrolment is refused and changes nothing.
    const again = await call('POST', `/agent/${MAC}/bmc-user`, { username: 'pxe-pilot', password: 'An0ther-Passw0rd', ip: BMC_IP }, token);
    assert.equal(again.status, 409);
    assert.equal(readFileSync(file, 'utf8'), text);
    // nodes show names the bmc, not the password.
    const showCli = await cli(['nodes', 'show', MAC]);
    assert.match(showCli.stdout, /BMC ipmi:\/\/10\.0\.9\.101/);
    assert.match(showCli.stdout, /bmc user {4}created /);
  });

  test('an agent that could not create the user says why; recorded, and not asked again', async () => {
    const { token } = sessions.mint(FAILING);
    assert.equal((await call('PUT', `/nodes/${FAILING}/enrolment`, { hostname: 'rr2', action: 'local', createBmcUser: true })).status, 200);
    assert.equal((await next(FAILING, token)).next, 'bmc-user');
    const failed = await call('POST', `/agent/${FAILING}/bmc-user`, { error: 'ipmitool user set name 3 pxe-pilot failed: Invalid data field' }, token);
    assert.equal(failed.status, 200, failed.text);
    assert.equal(failed.json.stored, false);
    assert.match(store.events({ mac: FAILING }).at(-1)?.reason ?? '', /could not create a BMC user: ipmitool user set name 3 pxe-pilot failed/);
    assert.notEqual((await next(FAILING, token)).next, 'bmc-user');
    assert.equal(store.getNode(FAILING)?.enrolment?.bmc, null);
  });

  test('a credentials folder that cannot be written: 503 with the reason, recorded, nothing half-written', async () => {
    const mac = UNASKED;
    const blocked = join(dir, 'not-a-folder');
    writeFileSync(blocked, '');
    profile.power.credentialsDir = blocked;
    try {
      assert.equal((await call('PUT', `/nodes/${mac}/enrolment`, { hostname: 'rr4', action: 'local', createBmcUser: true })).status, 200);
      const { token } = sessions.mint(mac);
      const r = await call('POST', `/agent/${mac}/bmc-user`, { username: 'pxe-pilot', password: PASSWORD, ip: '10.0.9.104' }, token);
      assert.equal(r.status, 503, r.text);
      assert.match(r.text, /could not be written to .*not-a-folder\/10\.0\.9\.104 \(E\w+\)/);
      assert.equal(readFileSync(blocked, 'utf8'), '');
      assert.equal(store.events({ mac }).at(-1)?.decision, 'bmc-user-failed');
    } finally {
      profile.power.credentialsDir = credentialsDir;
    }
  });

  test('the password is nowhere: answers, CLI output, events, explain, nodes, /metrics, the log', async () => {
    for (const path of [`/nodes/${MAC}`, `/nodes/${MAC}/explain`, '/events?limit=10000', '/metrics', '/nodes']) await call('GET', path);
    const everything = [...shown, logText, JSON.stringify(store.events({ limit: 10_000 }))].join('\n');
    assert.ok(everything.includes('bmc-user-created'), 'the grep sees the events');
    assert.match(logText, /created by the inspection agent/, 'the grep sees the log');
    assert.ok(!everything.includes(PASSWORD), 'the password was shown');
  });
});
