// End to end behind a DHCP relay (issue 13): a QEMU machine on a far LAN (namespace "far",
// bridge br1, 10.78.0.0/24) whose DHCP is forwarded by Debian's dhcp-helper, running in a
// namespace "relay" that routes between the far LAN and the boot LAN. pxe-pilot, in server mode
// on the boot LAN, hands it an address from [scope far] (chosen by giaddr 10.78.0.1), answers
// through the relay, and serves TFTP and HTTP across the route; the stand-in installs itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { standinIsoTools } from '../helpers/standin-iso.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { encodeDhcp } from '../../src/dhcp/codec.ts';
import { dhcpRequest, T } from '../helpers/dhcp-packets.ts';
import { BootLab, farLan, lan, relayNs, routerNs, type InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk } from './scenarios.ts';
import { expectInstalled, expectLocalBoot } from './expect.ts';

const skip = skipUnless(['root', qemuBinary, 'dhcp-helper', 'dnsmasq', 'curl', ...standinTools, ...standinIsoTools, ...firmwareFiles.bios]);

// Generous bounds for TCG in a busy CI runner (the far LAN has no IPv6 router advertisements,
// so iPXE also waits out its IPv6 autoconfiguration).
const biosInstallMs = 180_000;
const localBootMs = 120_000;

describe('pxe-pilot as the DHCP server for a LAN behind a relay', { skip, timeout: 480_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:e2:e4:01', hostname: 'relayed-node' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;
  let relayLog: (() => string) | undefined;

  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create('rly');
    // IPv6 router advertisements on the boot LAN, as in boot.test.ts; pxe-pilot is the DHCP server.
    await lab.startRouter({ kind: 'router-advertisements-only' });
    pilot = await lab.startPxePilot({
      mode: 'server',
      standin,
      installHosts: [host],
      uefiLoader: 'snponly.efi',
      extraSections: {
        'scope far': { subnet: farLan.subnet, range_start: farLan.rangeStart, range_end: farLan.rangeEnd, router: farLan.relay },
      },
    });
    relayLog = (await lab.addFarLanBehindRelay([lan.server])).log;
  });
  after(async () => {
    await lab?.destroy();
  });

  test('a BIOS machine behind dhcp-helper gets an address of the far scope, installs with its own answer, then boots its local disk', async (t) => {
    assert.ok(lab && pilot, 'the lab started');
    const run = await bootAndInstall(lab, { name: 'rly-bios', firmware: 'bios', mac: host.mac, serial: 'E2E-rly-bios', farLan: true }, biosInstallMs).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}\n--- dhcp-helper ---\n${relayLog?.() ?? ''}`);
      },
    );
    t.diagnostic(`power-on → installed: ${run.seconds.toFixed(0)} s`);
    await expectInstalled(pilot, run, { host, firmware: 'bios', mode: 'server', network: '10.78.0' });
    const events = await pilot.events(host.mac);
    const offers = events.filter((e) => e.protocol === 'dhcp' && e.decision === 'offer');
    assert.ok(offers.length > 0, 'pxe-pilot offered an address');
    for (const offer of offers) {
      assert.equal(offer.detail?.relay, farLan.relay, 'every offer was for a request relayed by 10.78.0.1');
      assert.equal(offer.detail?.scope, '[scope far]');
      assert.match(offer.reason, /offered 10\.78\.0\.\d+ .*unicast to relay 10\.78\.0\.1/);
    }
    const second = await bootToLocalDisk(lab, { name: 'rly-bios-again', firmware: 'bios', mac: host.mac, farLan: true }, localBootMs);
    await expectLocalBoot(pilot, second, host.mac);
  });

  test('a relayed request for a subnet without a scope gets no answer, and explain says which [scope] to add', async () => {
    assert.ok(lab && pilot, 'the lab started');
    // Sent from the relay namespace as a relay of a LAN no [scope] names would forward it.
    const mac = '52:54:00:e2:e4:99';
    const send = `const s = require('node:dgram').createSocket('udp4'); s.send(Buffer.from(process.argv[1], 'base64'), 67, '${lan.server}', () => s.close());`;
    const r = await lab.net.exec(relayNs, [process.execPath, '-e', send, relayedDiscover(mac).toString('base64')], { allowFail: true });
    assert.equal(r.code, 0, r.stderr);
    const deadline = Date.now() + 15_000;
    let explained = '';
    while (Date.now() < deadline) {
      explained = await pilot.explain(mac);
      if (/no pool for that subnet/.test(explained)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.match(explained, /relayed by 10\.99\.0\.1: no pool for that subnet .*add a \[scope\] whose subnet holds 10\.99\.0\.1/);
  });
});

describe('pxe-pilot as ProxyDHCP for a LAN behind a relay that forwards to the router and to pxe-pilot', { skip, timeout: 480_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:e2:e4:11', hostname: 'relayed-proxy-node' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;
  const logs: Record<string, () => string> = {};

  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create('rlp');
    // The router's dnsmasq also serves the far LAN's relayed requests, with the relay as their router.
    logs.dnsmasq = (
      await lab.startRouter({ kind: 'addresses' }, [
        `--dhcp-range=set:far,${farLan.rangeStart},${farLan.rangeEnd},255.255.255.0,10m`,
        `--dhcp-option=tag:far,option:router,${farLan.relay}`,
      ])
    ).log;
    pilot = await lab.startPxePilot({ mode: 'proxy', standin, installHosts: [host], uefiLoader: 'snponly.efi' });
    // dhcp-helper forwards every far DHCP request to both DHCP servers, as a router's helper addresses do.
    logs['dhcp-helper'] = (await lab.addFarLanBehindRelay([lan.router, lan.server])).log;
    await lab.net.exec(routerNs, ['ip', 'route', 'add', farLan.subnet, 'via', farLan.relayOnBootLan]);
  });
  after(async () => {
    await lab?.destroy();
  });

  test("a BIOS machine behind the relay gets its address from the router's scope and its boot instructions from pxe-pilot, and installs", async (t) => {
    assert.ok(lab && pilot, 'the lab started');
    const run = await bootAndInstall(lab, { name: 'rlp-bios', firmware: 'bios', mac: host.mac, serial: 'E2E-rlp-bios', farLan: true }, biosInstallMs).catch(
      (err: unknown) => {
        throw new Error(
          `${(err as Error).message}\n${Object.entries(logs)
            .map(([name, log]) => `--- ${name} ---\n${log().slice(-3000)}`)
            .join('\n')}`,
        );
      },
    );
    t.diagnostic(`power-on → installed: ${run.seconds.toFixed(0)} s`);
    await expectInstalled(pilot, run, { host, firmware: 'bios', mode: 'proxy', network: '10.78.0' });
    const events = await pilot.events(host.mac);
    const offers = events.filter((e) => e.protocol === 'proxydhcp' && e.decision === 'offer');
    assert.ok(offers.length > 0, `pxe-pilot made a proxy offer; it recorded ${events.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`);
    for (const offer of offers) {
      assert.equal(offer.detail?.relay, farLan.relay, 'the proxy offer answered a DISCOVER relayed by 10.78.0.1');
      assert.equal(offer.detail?.to, `${farLan.relay}:67`, 'and went back to the relay');
    }
  });
});

/** A DISCOVER as a relay for 10.99.0.0/24 would forward it (giaddr 10.99.0.1), as bytes. */
function relayedDiscover(mac: string): Buffer {
  return encodeDhcp(dhcpRequest({ mac, type: T.DISCOVER, arch: 0, giaddr: '10.99.0.1' }));
}
