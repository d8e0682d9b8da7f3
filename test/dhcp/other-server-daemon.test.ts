// The other-DHCP-server check as users meet it: the pxe-pilot daemon started with a profile in
// server mode, default allow_other_servers (false), on a lab bridge br0 at 10.96.0.1 (pool
// .100-.150), with a router namespace joined to the bridge by a veth at 10.96.0.254, and a
// client namespace on the same bridge. All inside namespaces this test creates and removes.
// - Debian's dnsmasq as is (its ping check makes its OFFER leave ~3 s after the DISCOVER);
// - a router that answers by unicast to the address it offers, ignoring the broadcast flag;
// - a dnsmasq that answers the probe only after 2 s (dhcp-reply-delay).
// Each time the daemon must refuse to serve, naming 10.96.0.254 and the router's MAC, and the
// client must never get an OFFER from it. The control: with no other server, it serves.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { dnsmasqArgv } from '../helpers/dnsmasq.ts';
import { PxePilot, pxePilotArgv, renderIni, type ProfileSpec } from '../helpers/daemon.ts';
import { T } from '../helpers/dhcp-packets.ts';
import { helperArgv, JsonLineChild } from '../helpers/json-lines.ts';
import { collectOutput, NetLab, waitFor } from '../helpers/netns.ts';
import type { ReplySummary } from '../helpers/pxe-client.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';

const SERVER_IP = '10.96.0.1';
const ROUTER_IP = '10.96.0.254';
const CLIENT_MAC = '52:54:00:96:00:42';
const ADMIN_TOKEN = 'other-server-daemon-token-0123';

function profile(dir: string): ProfileSpec {
  return {
    sections: {
      server: { address: SERVER_IP, interface: 'br0', state_dir: join(dir, 'state') },
      http: { port: 8080, admin_token: ADMIN_TOKEN },
      https: { enabled: false },
      tftp: { enabled: false },
      // allow_other_servers is left out on purpose: the default is what users get.
      dhcp: {
        mode: 'server',
        range_start: '10.96.0.100',
        range_end: '10.96.0.150',
        netmask: '255.255.255.0',
        router: SERVER_IP,
        dns: SERVER_IP,
      },
      answers: { dir: join(dir, 'answers') },
      assets: { dir: join(dir, 'assets') },
    },
  };
}

describe('the daemon in server mode beside another DHCP server', { skip: skipUnless(['root', 'ip', 'dnsmasq', 'curl']) }, () => {
  let lab: NetLab;
  let dir: string;
  let routerMac: string;
  let bridgeMac: string;
  let client: JsonLineChild;
  let discovering: NodeJS.Timeout | null = null;

  beforeEach(async () => {
    lab = new NetLab('rogue');
    dir = await mkdtemp(join(tmpdir(), 'pxp-rogue-'));
    await lab.addNamespace('srv');
    await lab.addBridge('srv', 'br0', `${SERVER_IP}/24`);
    await lab.addNamespace('router');
    await lab.attachToBridge('srv', 'br0', 'p1', 'router', 'eth0', `${ROUTER_IP}/24`);
    await lab.addNamespace('client');
    await lab.attachToBridge('srv', 'br0', 'p2', 'client', 'eth0', null);
    await lab.exec('client', ['ip', 'link', 'set', 'eth0', 'address', CLIENT_MAC]);
    // An unaddressed client has no route at all; the kernel needs one to send to 255.255.255.255.
    await lab.exec('client', ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
    routerMac = await lab.macOf('router', 'eth0');
    // The probe's chaddr; fixed now that every port is on the bridge.
    bridgeMac = await lab.macOf('srv', 'br0');
    client = new JsonLineChild(lab.spawn('client', helperArgv('pxe-client.ts'), { stdio: ['pipe', 'pipe', 'pipe'] }));
    await client.waitFor('ready');
  });

  afterEach(async () => {
    if (discovering) clearInterval(discovering);
    discovering = null;
    await lab.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  /** A machine on the LAN asking for an address every 500 ms, as a PXE ROM does, until the test ends. */
  function keepDiscovering(): void {
    let n = 0;
    const send = (): void =>
      client.send({ send: { shape: { mac: CLIENT_MAC, type: T.DISCOVER, xid: 0x960000 + ++n, broadcast: true }, address: '255.255.255.255', port: 67 } });
    send();
    discovering = setInterval(send, 500);
  }

  const offers = (): ReplySummary[] => client.values<ReplySummary>('reply').filter((r) => r.type === 'OFFER');
  const offersFromPxePilot = (): ReplySummary[] => offers().filter((r) => r.from === SERVER_IP || r.serverId === SERVER_IP);

  async function startDnsmasq(extra: string[]): Promise<void> {
    const child = lab.spawn('router', [
      ...dnsmasqArgv('eth0'),
      '--log-dhcp',
      '--dhcp-range=10.96.0.160,10.96.0.199',
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
      ...extra,
    ]);
    const out = collectOutput(child);
    await waitFor('dnsmasq to start', () => out.text().includes('DHCP, IP range') || child.exitCode !== null, 10_000);
    assert.equal(child.exitCode, null, `dnsmasq exited: ${out.text()}`);
  }

  /**
   * Starts the daemon as a user does and waits until it has either exited or bound its DHCP
   * server; returns its exit code (null: still running) and everything it printed.
   */
  async function runDaemon(): Promise<{ child: ChildProcess; exitCode: number | null; output: string }> {
    const configFile = join(dir, 'pxe-pilot.ini');
    await writeFile(configFile, renderIni(profile(dir)));
    const child = lab.spawn('srv', pxePilotArgv(configFile), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = collectOutput(child);
    await waitFor('the daemon to exit or to serve DHCP', () => child.exitCode !== null || out.text().includes('DHCP server on br0'), 30_000, 100);
    return { child, exitCode: child.exitCode, output: out.text() };
  }

  function assertRefused(run: { exitCode: number | null; output: string }): void {
    assert.ok(run.exitCode !== null && run.exitCode !== 0, `the daemon served beside another DHCP server (exit ${run.exitCode}):\n${run.output}`);
    assert.ok(!run.output.includes('DHCP server on br0'), run.output);
    const refusal = run.output.split('\n').find((l) => l.startsWith('pxe-pilot: '));
    assert.ok(refusal, `no refusal on stderr:\n${run.output}`);
    assert.match(refusal, /another DHCP server answers on br0: 10\.96\.0\.254 /);
    assert.ok(refusal.includes(`MAC ${routerMac}`), `the refusal does not name the router's MAC ${routerMac}: ${refusal}`);
    assert.match(refusal, /allow_other_servers/);
    assert.deepEqual(offersFromPxePilot(), [], 'a client on the LAN got an OFFER from the refusing daemon');
  }

  test("Debian's dnsmasq as is (ping check on, broadcast OFFER): the daemon refuses, naming 10.96.0.254 and its MAC", async () => {
    await startDnsmasq([]);
    keepDiscovering();
    // The client hears the LAN: dnsmasq's OFFER reaches it (and dnsmasq has pinged its address).
    await waitFor('dnsmasq to offer the client an address', () => offers().some((o) => o.serverId === ROUTER_IP), 15_000, 100);
    const run = await runDaemon();
    assertRefused(run);
    assert.match(run.output, /which offered 10\.96\.0\.(1[6-9]\d)/);
  });

  test('a router that answers by unicast to the offered address: the daemon refuses, naming 10.96.0.254 and its MAC', async () => {
    const router = new JsonLineChild(
      lab.spawn('router', helperArgv('unicast-dhcp-router.ts', JSON.stringify({ iface: 'eth0', serverId: ROUTER_IP, offer: '10.96.0.162' })), {
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    await router.waitFor('ready');
    keepDiscovering();
    const run = await runDaemon();
    assertRefused(run);
    // The router did answer the daemon's probe by unicast, and that OFFER is the one named.
    const toProbe = router.values<{ to: string; mac: string }>('offered').find((o) => o.mac === bridgeMac);
    assert.ok(toProbe, `the router never answered the probe from ${bridgeMac}: ${JSON.stringify(router.lines)}`);
    assert.ok(run.output.includes(`which offered ${toProbe.to}`), run.output);
  });

  test('a dnsmasq that answers the probe only after 2 s: the daemon refuses, naming 10.96.0.254 and its MAC', async () => {
    // The delay for the probe's MAC only: the client's DISCOVERs must not queue ahead of it.
    await startDnsmasq(['--no-ping', `--dhcp-mac=set:probe,${bridgeMac}`, '--dhcp-reply-delay=tag:probe,2']);
    keepDiscovering();
    await waitFor('dnsmasq to offer the client an address', () => offers().some((o) => o.serverId === ROUTER_IP), 15_000, 100);
    const run = await runDaemon();
    assertRefused(run);
  });

  test('control: with no other DHCP server the daemon serves, and the client gets its OFFER', async () => {
    const daemon = await PxePilot.start(lab, 'srv', {
      configFile: join(dir, 'pxe-pilot.ini'),
      spec: profile(dir),
      baseUrl: `http://${SERVER_IP}:8080`,
      adminToken: ADMIN_TOKEN,
    });
    try {
      keepDiscovering();
      await waitFor('an OFFER from pxe-pilot', () => offersFromPxePilot().length > 0, 15_000, 100);
      const offer = offersFromPxePilot()[0]!;
      assert.match(offer.yiaddr, /^10\.96\.0\.(1[0-4]\d|150)$/);
      assert.equal(offer.mac, CLIENT_MAC);
      assert.ok(!daemon.logText().includes('another DHCP server'), daemon.logText());
    } finally {
      await daemon.stop();
    }
  });
});
