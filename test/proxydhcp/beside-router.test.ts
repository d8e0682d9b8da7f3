// pxe-pilot in proxy mode beside a router whose dnsmasq hands out addresses only, on one bridge:
// PXE clients get their address from dnsmasq and their boot instructions from pxe-pilot;
// everything else gets nothing from pxe-pilot. All inside namespaces this test makes.
import { dnsmasqArgv } from '../helpers/dnsmasq.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { collectOutput, NetLab, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { helperArgv, JsonLineChild } from '../helpers/json-lines.ts';
import type { RequestShape } from '../helpers/dhcp-packets.ts';
import type { RunDhcpServiceArgs } from '../helpers/run-dhcp-service.ts';
import { MessageType } from '../../src/dhcp/options.ts';
import { detailOf, type BootEvent } from '../../src/boot/events.ts';
import type { ReplySummary, SendCommand } from '../helpers/pxe-client.ts';

const ROUTER = '10.79.0.1';
const PXE = '10.79.0.2';
const CLIENT = '10.79.0.50';
const HTTP = `http://${PXE}:8080`;
const stdio = { stdio: ['pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe'] };

let nextXid = 0x50780000;

describe('ProxyDHCP beside a dnsmasq router', { skip: skipUnless(['root', 'dnsmasq', 'busybox']) }, () => {
  let lab: NetLab;
  let dir: string;
  let proxy: JsonLineChild;
  let client: JsonLineChild;
  let rogue: JsonLineChild;

  before(async () => {
    lab = new NetLab('proxy');
    dir = mkdtempSync(join(tmpdir(), 'pxp-proxy-'));
    for (const ns of ['router', 'pxe', 'client', 'rogue']) await lab.addNamespace(ns);
    await lab.addBridge('router', 'br0', `${ROUTER}/24`);
    await lab.attachToBridge('router', 'br0', 'p-pxe', 'pxe', 'eth0', `${PXE}/24`);
    await lab.attachToBridge('router', 'br0', 'p-client', 'client', 'eth0', `${CLIENT}/24`);
    // A second LAN on the appliance that it must never answer.
    await lab.addVethPair('pxe', 'other0', '10.80.0.1/24', 'rogue', 'eth0', '10.80.0.50/24');
    // Plain sockets need a route to send to 255.255.255.255.
    await lab.exec('client', ['ip', 'route', 'add', 'default', 'via', ROUTER]);
    await lab.exec('rogue', ['ip', 'route', 'add', 'default', 'via', '10.80.0.1']);

    const dnsmasq = lab.spawn('router', [
      ...dnsmasqArgv('br0'),
      '--no-ping',
      '--log-dhcp',
      '--dhcp-range=10.79.0.100,10.79.0.150,255.255.255.0,10m',
      `--dhcp-option=option:router,${ROUTER}`,
      `--dhcp-leasefile=${join(dir, 'dnsmasq.leases')}`,
    ]);
    const dnsmasqLog = collectOutput(dnsmasq);
    await waitFor('dnsmasq to start', () => dnsmasqLog.text().includes('DHCP, IP range') || dnsmasq.exitCode !== null);
    assert.equal(dnsmasq.exitCode, null, `dnsmasq exited: ${dnsmasqLog.text()}`);

    const args: RunDhcpServiceArgs = {
      service: 'proxydhcp',
      stateDir: join(dir, 'state'),
      profile: { server: { address: PXE, interface: 'eth0' }, http: { port: 8080 }, dhcp: { mode: 'proxy' } },
      printEvents: true,
    };
    proxy = new JsonLineChild(lab.spawn('pxe', helperArgv('run-dhcp-service.ts', JSON.stringify(args)), stdio));
    client = new JsonLineChild(lab.spawn('client', helperArgv('pxe-client.ts'), stdio));
    rogue = new JsonLineChild(lab.spawn('rogue', helperArgv('pxe-client.ts'), stdio));
    await Promise.all([proxy.waitFor('ready', () => true, 20_000), client.waitFor('ready', () => true, 20_000), rogue.waitFor('ready', () => true, 20_000)]);
  });

  after(async () => {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  function send(from: JsonLineChild, command: SendCommand): number {
    const xid = command.shape.xid ?? ++nextXid;
    from.send({ send: { ...command, shape: { broadcast: true, ...command.shape, xid } } });
    return xid;
  }

  const discover = (shape: Omit<RequestShape, 'type'>, extra: Partial<SendCommand> = {}): number =>
    send(client, { shape: { ...shape, type: MessageType.DISCOVER }, address: '255.255.255.255', port: 67, ...extra });

  const reply = (xid: number, from: string, type?: string): Promise<ReplySummary> =>
    client.waitFor<ReplySummary>('reply', (r) => r.xid === xid && r.from === from && (type === undefined || r.type === type));

  const proxyEvent = (mac: string, kind: string): Promise<BootEvent> => proxy.waitFor<BootEvent>('event', (e) => e.mac === mac && e.kind === kind);

  const proxyReplies = (xid: number): ReplySummary[] => client.values<ReplySummary>('reply').filter((r) => r.xid === xid && r.from === PXE);

  /** The router's 4-way exchange, as the firmware does it after choosing the router's offer. */
  async function leaseFromRouter(mac: string, arch: number | undefined, xid: number): Promise<string> {
    const offer = await reply(xid, ROUTER, 'OFFER');
    send(client, { shape: { mac, arch, xid, type: MessageType.REQUEST, serverId: ROUTER, requested: offer.yiaddr }, address: '255.255.255.255', port: 67 });
    const ack = await reply(xid, ROUTER, 'ACK');
    assert.equal(ack.yiaddr, offer.yiaddr);
    return ack.yiaddr;
  }

  test('BIOS (arch 0): address from dnsmasq, undionly.kpxe with discovery control 8 from pxe-pilot', async () => {
    const mac = '52:54:00:79:00:01';
    const xid = discover({ mac, arch: 0 });
    const offer = await reply(xid, PXE, 'OFFER');
    assert.equal(offer.yiaddr, '0.0.0.0', 'a proxy never offers an address');
    assert.equal(offer.siaddr, PXE);
    assert.equal(offer.serverId, PXE);
    assert.equal(offer.vendorClass, 'PXEClient');
    assert.equal(offer.file, 'undionly.kpxe');
    assert.equal(offer.bootFile, 'undionly.kpxe');
    assert.equal(offer.vendorOptionsHex, '060108ff');
    assert.equal(offer.uuidHex, `00${'5a'.repeat(16)}`);
    assert.equal(offer.leaseTime, null);

    const ip = await leaseFromRouter(mac, 0, xid);
    assert.match(ip, /^10\.79\.0\.1\d\d$/);
    // The REQUEST naming the router is the router's business: pxe-pilot records why it kept quiet.
    const quiet = await proxyEvent(mac, 'REQUEST on 67');
    assert.equal(quiet.decision, 'silence');
    assert.match(quiet.reason, new RegExp(`REQUEST for server ${ROUTER.replace(/\./g, '\\.')}`));
    assert.deepEqual(
      proxyReplies(xid).map((r) => r.type),
      ['OFFER'],
    );
  });

  for (const arch of [7, 9]) {
    test(`UEFI x64 (arch ${arch}): offer without option 43, then the boot file again on 4011`, async () => {
      const mac = `52:54:00:79:00:0${arch}`;
      const xid = discover({ mac, arch });
      const offer = await reply(xid, PXE, 'OFFER');
      assert.equal(offer.yiaddr, '0.0.0.0');
      assert.equal(offer.bootFile, 'snponly.efi');
      assert.equal(offer.vendorOptionsHex, null, 'no PXE discovery options: EDK2 then asks on 4011');
      const ip = await leaseFromRouter(mac, arch, xid);

      // EDK2 "ProxyBinl": a REQUEST unicast to the proxy's port 4011 from the leased address.
      send(client, { shape: { mac, arch, xid, type: MessageType.REQUEST, ciaddr: ip, broadcast: false }, address: PXE, port: 4011 });
      const ack = await reply(xid, PXE, 'ACK');
      assert.equal(ack.sourcePort, 4011);
      assert.equal(ack.atPort, 68);
      assert.equal(ack.yiaddr, '0.0.0.0');
      assert.equal(ack.ciaddr, ip);
      assert.equal(ack.bootFile, 'snponly.efi');
      assert.equal(ack.serverId, PXE);
      assert.equal(ack.vendorClass, 'PXEClient');
      const event = await proxyEvent(mac, 'REQUEST on 4011');
      assert.equal(event.decision, 'ack');
      assert.equal(detailOf(event, 'proxydhcp')?.ip, ip);
    });
  }

  test('UEFI HTTP boot (arch 16): HTTPClient and the URL of the EFI binary', async () => {
    const xid = discover({ mac: '52:54:00:79:00:16', arch: 16 });
    const offer = await reply(xid, PXE, 'OFFER');
    assert.equal(offer.vendorClass, 'HTTPClient');
    assert.equal(offer.bootFile, `${HTTP}/ipxe/snponly.efi`);
    assert.equal(offer.yiaddr, '0.0.0.0');
    await reply(xid, ROUTER, 'OFFER');
  });

  test('a client already running iPXE gets the HTTP bootstrap script, not iPXE again', async () => {
    const xid = discover({ mac: '52:54:00:79:00:20', arch: 7, ipxe: true });
    const offer = await reply(xid, PXE, 'OFFER');
    assert.equal(offer.bootFile, `${HTTP}/boot.ipxe`);
    assert.equal(offer.file, `${HTTP}/boot.ipxe`);
  });

  test('a ROM without option 97 is answered, and nothing is echoed', async () => {
    const mac = '52:54:00:79:00:97';
    const xid = discover({ mac, arch: 7 }, { uuidHex: null });
    const offer = await reply(xid, PXE, 'OFFER');
    assert.equal(offer.uuidHex, null);
    assert.equal(offer.bootFile, 'snponly.efi');
    assert.equal(detailOf(await proxyEvent(mac, 'DISCOVER on 67'), 'proxydhcp')?.uuid, 'no option 97');
  });

  test('a non-PXE DISCOVER gets an address from dnsmasq and nothing from pxe-pilot', async () => {
    const mac = '52:54:00:79:00:60';
    const xid = discover({ mac, vendorClass: 'udhcp 1.35.0' });
    await reply(xid, ROUTER, 'OFFER');
    const event = await proxyEvent(mac, 'DISCOVER on 67');
    assert.equal(event.decision, 'silence');
    assert.equal(event.reason, "vendor class 'udhcp 1.35.0': not a PXE client");
    assert.deepEqual(proxyReplies(xid), []);
  });

  test('real udhcpc leases from dnsmasq; pxe-pilot stays silent and says why', async () => {
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "bound ip=$ip router=$router"\nexit 0\n');
    chmodSync(script, 0o755);
    const mac = await lab.macOf('client', 'eth0');
    const run = await lab.exec('client', ['busybox', 'udhcpc', '-f', '-q', '-n', '-t', '3', '-T', '1', '-i', 'eth0', '-s', script], { timeoutMs: 15_000 });
    assert.match(run.stdout, /bound ip=10\.79\.0\.1\d\d router=10\.79\.0\.1/);
    const event = await proxyEvent(mac, 'DISCOVER on 67');
    assert.equal(event.decision, 'silence');
    assert.match(event.reason, /^vendor class 'udhcp [\d.]+': not a PXE client$/);
    const answered = proxy.values<BootEvent>('event').filter((e) => e.mac === mac && e.decision !== 'silence');
    assert.deepEqual(answered, []);
  });

  test('a relayed DISCOVER is answered to the relay on port 67', async () => {
    const mac = '52:54:00:79:00:82';
    const xid = send(client, { shape: { mac, arch: 0, type: MessageType.DISCOVER, giaddr: CLIENT, broadcast: false }, address: PXE, port: 67, from: 67 });
    const offer = await reply(xid, PXE, 'OFFER');
    assert.equal(offer.atPort, 67);
    assert.equal(offer.giaddr, CLIENT);
    assert.equal(offer.bootFile, 'undionly.kpxe');
  });

  test('a PXE DISCOVER on another LAN of the appliance is never answered', async () => {
    const rogueMac = '52:54:00:80:00:01';
    const rogueXid = send(rogue, { shape: { mac: rogueMac, arch: 0, type: MessageType.DISCOVER }, address: '255.255.255.255', port: 67 });
    await rogue.waitFor('sent', (s) => s.xid === rogueXid);
    // A DISCOVER on the boot LAN, sent after it, shows the proxy has read past the rogue one.
    const xid = discover({ mac: '52:54:00:79:00:99', arch: 0 });
    await reply(xid, PXE, 'OFFER');
    await proxyEvent('52:54:00:79:00:99', 'DISCOVER on 67');
    assert.deepEqual(
      proxy.values<BootEvent>('event').filter((e) => e.mac === rogueMac),
      [],
    );
    assert.deepEqual(rogue.values<ReplySummary>('reply'), []);
  });
});
