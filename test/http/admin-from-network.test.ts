// The shipped profile has no [http] admin_token: then the loopback rule alone keeps the admin
// API, the console and /metrics from the network. The daemon runs with etc/pxe-pilot.ini (paths
// moved to a temporary folder, nothing else changed) in a namespace "srv"; a second namespace
// "cli" reaches it over a veth, as another machine on the LAN would. Every admin route comes from
// the router itself (test/helpers/admin-routes.ts), so a new one cannot be left out.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import ini from 'ini';
import { adminRoutes, concretePath, README_ADMIN_ROUTES } from '../helpers/admin-routes.ts';
import { PxePilot, renderIni, type ProfileSpec } from '../helpers/daemon.ts';
import { lan } from '../helpers/lab-addresses.ts';
import { NetLab, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';

// openssl: HTTPS is on in the shipped profile, and the daemon makes its certificate with it.
const skip = skipUnless(['root', 'ip', 'curl', 'openssl']);

const CLIENT = '10.77.0.50';
const MAC = '52:54:00:ad:00:01';
const IMAGE = 'proxmox-ve/9.1-1';
const NETWORK = [`http://${lan.server}`, `https://${lan.server}`];
const LOOPBACK = ['http://127.0.0.1', 'https://127.0.0.1'];
/** A proxy's headers claiming loopback: the rule reads the socket's peer, never these. */
const SPOOFED = ['X-Forwarded-For: 127.0.0.1', 'X-Real-IP: 127.0.0.1', 'Forwarded: for=127.0.0.1'];
const NO_TOKEN_REASON = /admin API: no \[http\] admin_token is configured, so it answers on loopback only/;

/** What each changing route is sent: from loopback it must then succeed, so the refusal is the address rule. */
const BODIES: Record<string, string> = {
  'POST /nodes/:mac/reinstall': JSON.stringify({ profile: IMAGE }),
  'PUT /nodes/:mac/local-boot': JSON.stringify({ script: 'sanboot --no-describe --drive 0x80' }),
  // Wake-on-LAN (the machine's bmc below): the magic packet stays on the lab's veth.
  'POST /nodes/:mac/power': JSON.stringify({ action: 'on' }),
  // Arms and sends the magic packet (bmc = wol), in the background: 202.
  'POST /nodes/reinstall': JSON.stringify({ macs: [MAC], now: true }),
  'PUT /nodes/:mac/enrolment': JSON.stringify({ hostname: 'web1', action: 'local' }),
};
/** Routes whose success is not 200. */
const ACCEPTED: Record<string, number> = { 'POST /nodes/reinstall': 202 };

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe('the shipped profile without an admin token, reached from another machine', { skip, timeout: 240_000 }, () => {
  let lab: NetLab;
  let dir: string;
  let spec: ProfileSpec;
  let pilot: PxePilot | undefined;
  const routes = adminRoutes();

  /** curl in a namespace: status, response headers (lower-case names) and body; `streamMs` bounds an event stream. */
  async function request(
    ns: 'srv' | 'cli',
    url: string,
    opts: { method?: string; body?: string; headers?: string[]; streamMs?: number } = {},
  ): Promise<Answer> {
    const argv = ['curl', '-s', '-k', '--max-time', String((opts.streamMs ?? 10_000) / 1000), '-D', '-', '-X', opts.method ?? 'GET'];
    for (const h of opts.headers ?? []) argv.push('-H', h);
    if (opts.body !== undefined) argv.push('-H', 'content-type: application/json', '--data-binary', opts.body);
    argv.push('-w', '\n--pxp-status--%{http_code}', url);
    const r = await lab.exec(ns, argv, { allowFail: true, timeoutMs: 20_000 });
    const cut = r.stdout.lastIndexOf('\n--pxp-status--');
    const status = Number(r.stdout.slice(cut + '\n--pxp-status--'.length));
    const raw = r.stdout.slice(0, cut);
    const end = raw.indexOf('\r\n\r\n');
    const headers: Record<string, string> = {};
    for (const line of raw.slice(0, end).split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body: end < 0 ? '' : raw.slice(end + 4) };
  }

  const fromNetwork = (base: string, path: string, opts: { method?: string; body?: string } = {}) => request('cli', base + path, { ...opts, headers: SPOOFED });
  const fromLoopback = (base: string, path: string, opts: { method?: string; body?: string; headers?: string[]; streamMs?: number } = {}) =>
    request('srv', base + path, opts);
  const json = (a: Answer): Record<string, unknown> => JSON.parse(a.body) as Record<string, unknown>;

  /** What the daemon knows, read from loopback: the machine, its history and the whole event log. */
  async function snapshot(): Promise<{ node: unknown; events: unknown }> {
    const node = await fromLoopback(LOOPBACK[0]!, `/nodes/${MAC}`);
    const events = await fromLoopback(LOOPBACK[0]!, '/events?limit=10000');
    assert.equal(node.status, 200, node.body);
    assert.equal(events.status, 200, events.body);
    return { node: json(node), events: json(events) };
  }

  async function reload(http: Record<string, string>): Promise<void> {
    const reloads = (): number =>
      pilot!
        .logText()
        .split('\n')
        .filter((l) => l.includes('reloaded ')).length;
    const before = reloads();
    writeFileSync(pilot!.configFile, renderIni({ ...spec, sections: { ...spec.sections, http: { ...spec.sections.http!, ...http } } }));
    pilot!.child.kill('SIGHUP');
    await waitFor('the daemon to log the reload', () => reloads() > before, 20_000);
  }

  before(async () => {
    lab = new NetLab('adm');
    dir = mkdtempSync(join(tmpdir(), 'pxp-admin-net-'));
    // Readable as /etc/pxe-pilot is: started as root with `user =` empty, the daemon becomes the
    // pxe-pilot account when one exists, and must still read its profile on SIGHUP.
    chmodSync(dir, 0o755);
    await lab.addNamespace('srv');
    await lab.addNamespace('cli');
    await lab.addVethPair('srv', 'eth0', `${lan.server}/${lan.prefix}`, 'cli', 'eth0', `${CLIENT}/${lan.prefix}`);

    const shipped = ini.parse(readFileSync(join(repoRoot, 'etc', 'pxe-pilot.ini'), 'utf8')) as Record<string, Record<string, string | boolean>>;
    // What this test is about: if the shipped profile changes these, the test must be rethought.
    assert.equal(shipped.http?.admin_token, '', 'the shipped profile has no admin token');
    assert.equal(shipped.http?.metrics_allow, '', 'the shipped profile opens /metrics to no network');
    assert.equal(shipped.dhcp?.mode, 'off', 'the shipped profile serves no DHCP');
    for (const sub of ['tftp', 'answers', join('assets', IMAGE)]) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'assets', IMAGE, 'vmlinuz'), Buffer.alloc(4096, 1));
    writeFileSync(join(dir, 'assets', IMAGE, 'initrd'), Buffer.alloc(8192, 2));
    writeFileSync(join(dir, 'answers', 'default.toml'), '[global]\nkeyboard = "en-us"\n');
    spec = {
      sections: {
        ...shipped,
        // The interface only for Wake-on-LAN, which the power routes send on; DHCP stays off.
        server: { ...shipped.server, address: lan.server, interface: 'eth0', state_dir: join(dir, 'state') },
        tftp: { ...shipped.tftp, root: join(dir, 'tftp') },
        answers: { ...shipped.answers, dir: join(dir, 'answers') },
        assets: { ...shipped.assets, dir: join(dir, 'assets') },
      },
      // A power control with no credentials to set up, so the power routes answer too.
      hosts: [{ mac: MAC, hostname: 'web1', action: 'local', bmc: 'wol' }],
    };
    pilot = await PxePilot.start(lab, 'srv', { configFile: join(dir, 'pxe-pilot.ini'), spec, baseUrl: LOOPBACK[0]!, adminToken: '' });
    // The machine boots once from the network, so there is a node the refused requests could change.
    const boot = await request('cli', `http://${lan.server}/boot?mac=${MAC}`);
    assert.equal(boot.status, 200, boot.body);
    assert.match(boot.body, /action=local\nexit\n$/);
  });

  after(async () => {
    await pilot?.stop();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the admin routes are read from the router, and include every one README lists', () => {
    const found = routes.map((r) => `${r.method} ${r.pattern}`);
    for (const route of README_ADMIN_ROUTES) assert.ok(found.includes(route), `${route} is behind the admin guard (found: ${found.join(', ')})`);
  });

  test('every admin route answers the network 403 with the reason, over HTTP and HTTPS, and changes nothing', async () => {
    const before = await snapshot();
    for (const base of NETWORK) {
      for (const route of routes) {
        const name = `${route.method} ${base}${route.pattern}`;
        const body = BODIES[`${route.method} ${route.pattern}`];
        const r = await fromNetwork(base, concretePath(route.pattern, MAC), { method: route.method, ...(body ? { body } : {}) });
        assert.equal(r.status, 403, `${name}: ${r.body}`);
        assert.match(String(json(r).error), NO_TOKEN_REASON, name);
      }
    }
    // The reinstall did not arm, the local-boot line was not set, no admin event was written.
    assert.deepEqual(await snapshot(), before);
    const node = before.node as { state: string; localBoot: string | null };
    assert.deepEqual([node.state, node.localBoot], ['seen', null]);
  });

  test('the console sends the network to its login page, which will not log in; /metrics is 403 with the reason', async () => {
    for (const base of NETWORK) {
      const page = await fromNetwork(base, '/ui/');
      assert.equal(page.status, 302, `${base}/ui/: ${page.body}`);
      assert.equal(page.headers.location, '/ui/login');
      assert.doesNotMatch(page.body, /app\.js|Machines/, 'no dashboard in the redirect');
      const login = await fromNetwork(base, '/ui/login');
      assert.equal(login.status, 403);
      assert.match(login.body, /No admin token is configured, so the console answers on loopback only\./);
      const post = await fromNetwork(base, '/ui/login', { method: 'POST', body: '' });
      assert.equal(post.status, 403);
      assert.equal(post.headers['set-cookie'], undefined, 'no session for the network');
      assert.equal((await fromNetwork(base, '/ui/session')).status, 401);

      const metrics = await fromNetwork(base, '/metrics');
      assert.equal(metrics.status, 403, metrics.body);
      assert.match(String(json(metrics).error), /\/metrics answers loopback, the \[http\] metrics_allow blocks, or Authorization: Bearer/);
      assert.doesNotMatch(metrics.body, /# HELP/);
    }
  });

  test('a console session logged in on loopback is refused from the network, the cookie copied as it is', async () => {
    for (const [index, base] of NETWORK.entries()) {
      const login = await fromLoopback(LOOPBACK[index]!, '/ui/login', { method: 'POST', body: '' });
      assert.equal(login.status, 303, login.body);
      const cookie = /pxe_pilot_session=[^;]+/.exec(login.headers['set-cookie'] ?? '')?.[0];
      assert.ok(cookie, `a session cookie on loopback (${login.headers['set-cookie']})`);
      const session = await fromLoopback(LOOPBACK[index]!, '/ui/session', { headers: [`Cookie: ${cookie}`] });
      assert.equal(session.status, 200, `the session works on loopback: ${session.body}`);
      const csrf = String(json(session).csrf);

      const before = await snapshot();
      const page = await request('cli', `${base}/ui/`, { headers: [`Cookie: ${cookie}`, ...SPOOFED] });
      assert.equal(page.status, 302, `${base}/ui/ with the loopback cookie: ${page.body}`);
      assert.equal(page.headers.location, '/ui/login');
      assert.equal((await request('cli', `${base}/ui/session`, { headers: [`Cookie: ${cookie}`] })).status, 401);
      const nodes = await request('cli', `${base}/nodes`, { headers: [`Cookie: ${cookie}`] });
      assert.equal(nodes.status, 403, nodes.body);
      assert.match(String(json(nodes).error), NO_TOKEN_REASON);
      const arm = await request('cli', `${base}/nodes/${MAC}/reinstall`, {
        method: 'POST',
        body: BODIES['POST /nodes/:mac/reinstall']!,
        headers: [`Cookie: ${cookie}`, `X-CSRF-Token: ${csrf}`],
      });
      assert.equal(arm.status, 403, arm.body);
      assert.deepEqual(await snapshot(), before, 'nothing changed');
    }
  });

  test('from loopback in the same namespace every admin route, the console and /metrics answer', async () => {
    // The same reinstall the network could not send arms from here: the test above could fail.
    const armed = await fromLoopback(LOOPBACK[0]!, `/nodes/${MAC}/reinstall`, { method: 'POST', body: BODIES['POST /nodes/:mac/reinstall']! });
    assert.equal(armed.status, 200, armed.body);
    assert.equal(json(armed).state, 'install-pending');
    assert.equal(json(armed).profile, IMAGE);
    for (const base of LOOPBACK) {
      for (const route of routes) {
        const name = `${route.method} ${base}${route.pattern}`;
        const body = BODIES[`${route.method} ${route.pattern}`];
        const stream = route.pattern === '/events/stream';
        // The stream never ends by itself: curl stops it after a second, with what came so far.
        const r = await fromLoopback(base, concretePath(route.pattern, MAC), {
          method: route.method,
          ...(body ? { body } : {}),
          ...(stream ? { streamMs: 1000 } : {}),
        });
        assert.equal(r.status, ACCEPTED[`${route.method} ${route.pattern}`] ?? 200, `${name}: ${r.body.slice(0, 300)}`);
        if (stream) assert.match(r.body, /^: pxe-pilot event stream\n/);
      }
      const metrics = await fromLoopback(base, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.body, /^# HELP /m);
      assert.equal((await fromLoopback(base, '/ui/login')).status, 200);
      const login = await fromLoopback(base, '/ui/login', { method: 'POST', body: '' });
      assert.equal(login.status, 303);
      const cookie = login.headers['set-cookie']?.split(';')[0];
      assert.match(String(cookie), /^pxe_pilot_session=/);
      const page = await fromLoopback(base, '/ui/', { headers: [`Cookie: ${cookie}`] });
      assert.equal(page.status, 200);
      assert.match(page.body, /<script src="\/ui\/app\.js"/);
    }
  });

  test('[http] metrics_allow opens /metrics to that network after a reload, and nothing else', async () => {
    await reload({ metrics_allow: `${lan.server.replace(/\.\d+$/, '.0')}/${lan.prefix}` });
    try {
      const metrics = await fromNetwork(NETWORK[0]!, '/metrics');
      assert.equal(metrics.status, 200, metrics.body);
      assert.match(metrics.body, /^# HELP /m);
      for (const route of routes) {
        const body = BODIES[`${route.method} ${route.pattern}`];
        const r = await fromNetwork(NETWORK[0]!, concretePath(route.pattern, MAC), { method: route.method, ...(body ? { body } : {}) });
        assert.equal(r.status, 403, `${route.method} ${route.pattern} after metrics_allow: ${r.body}`);
      }
      assert.equal((await fromNetwork(NETWORK[0]!, '/ui/login')).status, 403);
    } finally {
      await reload({ metrics_allow: '' });
    }
    assert.equal((await fromNetwork(NETWORK[0]!, '/metrics')).status, 403, 'closed again once the profile says so');
  });
});
