// pxe-pilot must never become a second DHCP server by accident. A dnsmasq on the same bridge
// (all inside namespaces this test makes): the server refuses to start, naming dnsmasq's address
// and MAC; it starts once dnsmasq is gone; and a dnsmasq appearing later raises a warning event.
import { dnsmasqArgv } from '../helpers/dnsmasq.ts';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { DhcpLab, labServerProfile } from '../helpers/dhcp-lab.ts';

const OTHER_IP = '10.77.0.2';

describe('another DHCP server on the LAN', { skip: skipUnless(['root', 'ip', 'dnsmasq']) }, () => {
  const lab = new DhcpLab();
  let otherMac = '';
  let dnsmasq: ChildProcess | null = null;

  async function startDnsmasq(): Promise<void> {
    const child = lab.net.spawn('other', [
      ...dnsmasqArgv('eth0'),
      '--no-ping',
      '--log-dhcp',
      '--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,10m',
      `--dhcp-leasefile=${lab.path('dnsmasq.leases')}`,
    ]);
    const out = collectOutput(child);
    await waitFor('dnsmasq to start', () => out.text().includes('DHCP, IP range') || child.exitCode !== null, 10_000);
    assert.equal(child.exitCode, null, `dnsmasq exited: ${out.text()}`);
    dnsmasq = child;
  }

  async function stopDnsmasq(): Promise<void> {
    if (dnsmasq) await lab.net.stop(dnsmasq);
    dnsmasq = null;
  }

  before(async () => {
    await lab.build(['other'], { addressed: { other: `${OTHER_IP}/24` } });
    otherMac = await lab.net.macOf('other', 'eth0');
  });
  after(async () => {
    await stopDnsmasq();
    await lab.destroy();
  });

  test('with dnsmasq answering, the server refuses to start and names its address and MAC', async () => {
    await startDnsmasq();
    await assert.rejects(lab.startServer(labServerProfile()), (err: Error) => {
      assert.match(err.message, /another DHCP server answers on br0: 10\.77\.0\.2/);
      assert.ok(err.message.includes(`MAC ${otherMac}`), err.message);
      assert.match(err.message, /allow_other_servers/);
      return true;
    });
    const refused = lab.events().find((e) => e.kind === 'other-server');
    assert.equal(refused?.decision, 'refused');
  });

  test('allow_other_servers = true starts anyway, saying so in an event', async () => {
    // A longer listen than the 5 s default: on a loaded machine dnsmasq may answer late.
    await lab.startServer(labServerProfile({ dhcp: { allowOtherServers: true } }), { listenMs: 8000 });
    await lab.stopServer();
    assert.ok(lab.events().some((e) => e.kind === 'other-server' && e.decision === 'allowed'));
  });

  test('once dnsmasq is gone the server starts; when it comes back, a warning event names it', async () => {
    await stopDnsmasq();
    await lab.startServer(labServerProfile(), { intervalMs: 1500, listenMs: 1000 });
    const warningsBefore = lab.events().filter((e) => e.decision === 'warning').length;
    await startDnsmasq();
    await waitFor(
      'a warning about the new server',
      () => lab.events().filter((e) => e.kind === 'other-server' && e.decision === 'warning').length > warningsBefore,
      20_000,
      200,
    );
    const warning = lab
      .events()
      .filter((e) => e.decision === 'warning')
      .pop()!;
    assert.match(warning.reason, /10\.77\.0\.2/);
    assert.ok(warning.reason.includes(otherMac), warning.reason);
    // The server kept running and never answered its own probe.
    assert.equal(lab.server?.exitCode, null);
    assert.ok(!lab.events().some((e) => e.decision === 'offer'), 'pxe-pilot offered to its own probe (no client runs here)');
  });
});
