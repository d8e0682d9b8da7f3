// ProxyDhcpService on loopback with unprivileged ports: binding rules, and that no datagram,
// however malformed, stops it answering the next one.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, test } from 'node:test';
import { testProfile } from '../helpers/profile.ts';
import type { Profile } from '../../src/config/profile.ts';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { MessageType } from '../../src/dhcp/options.ts';
import { silentLogger } from '../../src/log.ts';
import { UdpDeviceSocket } from '../../src/net/udp-device.ts';
import { ProxyDhcpService } from '../../src/proxydhcp/service.ts';
import { BindError } from '../../src/service.ts';
import { Store } from '../../src/store/store.ts';
import { waitFor } from '../helpers/netns.ts';
import { dhcpRequest } from '../helpers/dhcp-packets.ts';

/** Two free unprivileged ports on 127.0.0.1 (bound, read, released). */
async function freePorts(): Promise<[number, number]> {
  const a = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1' });
  const b = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1' });
  const ports: [number, number] = [a.port, b.port];
  await a.close();
  await b.close();
  return ports;
}

function loopbackProfile(port: number, proxyPort: number, mode: Profile['dhcp']['mode'] = 'proxy'): Profile {
  return testProfile({ server: { address: '127.0.0.1', interface: 'lo' }, http: { port: 8080 }, dhcp: { mode, port, proxyPort } });
}

describe('ProxyDhcpService on loopback', () => {
  test('answers a REQUEST on the proxy port after malformed datagrams, and records both', async () => {
    const [port, proxyPort] = await freePorts();
    const store = Store.open(':memory:');
    const service = new ProxyDhcpService({ profile: loopbackProfile(port, proxyPort), logger: silentLogger(), store });
    const client = dgram.createSocket('udp4');
    try {
      await service.start();
      assert.deepEqual(
        service.bindings().map((b) => [b.port, b.interface]),
        [
          [port, 'lo'],
          [proxyPort, 'lo'],
        ],
      );
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      const answer = new Promise<Buffer>((resolve) => client.once('message', resolve));
      for (const junk of [Buffer.alloc(0), Buffer.from('not dhcp'), Buffer.alloc(300, 0xff)]) client.send(junk, proxyPort, '127.0.0.1');
      const request = dhcpRequest({ mac: '52:54:00:00:40:11', type: MessageType.REQUEST, arch: 7, ciaddr: '127.0.0.1' });
      client.send(encodeDhcp(request), proxyPort, '127.0.0.1');

      const parsed = parseDhcp(await answer);
      assert.ok(parsed.ok);
      assert.equal(parsed.packet.options.read('messageType'), MessageType.ACK);
      assert.equal(parsed.packet.options.read('bootFile'), 'snponly.efi');
      await waitFor('the events', () => store.events({ protocol: 'proxydhcp' }).length >= 4);
      const events = store.events({ protocol: 'proxydhcp' });
      assert.equal(events.filter((e) => e.kind === `malformed on ${proxyPort}`).length, 3);
      assert.equal(events.at(-1)?.decision, 'ack');
      assert.equal(store.getNode('52:54:00:00:40:11')?.arch, 7);
    } finally {
      client.close();
      await service.stop();
      store.close();
    }
  });

  test('shares port 67 with another listener but reports a taken proxy port with advice', async () => {
    const [port, proxyPort] = await freePorts();
    const neighbour = await UdpDeviceSocket.open({ port, reuseAddr: true });
    const squatter = await UdpDeviceSocket.open({ port: proxyPort });
    const store = Store.open(':memory:');
    const service = new ProxyDhcpService({ profile: loopbackProfile(port, proxyPort), logger: silentLogger(), store });
    try {
      const err = await service.start().then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof BindError, `expected a BindError, got ${String(err)}`);
      assert.equal(err.code, 'EADDRINUSE');
      assert.equal(err.port, proxyPort);
      assert.match(err.message, /\[dhcp\] proxy_port/);
      assert.deepEqual(service.bindings(), [], 'a failed start leaves nothing bound');
      await squatter.close();
      await service.start();
      assert.equal(service.bindings().length, 2);
    } finally {
      await service.stop();
      await neighbour.close();
      await squatter.close();
      store.close();
    }
  });

  test('refuses proxy mode without an interface, and stays off in other modes', async () => {
    const store = Store.open(':memory:');
    const noInterface = testProfile({ dhcp: { mode: 'proxy' } });
    await assert.rejects(new ProxyDhcpService({ profile: noInterface, logger: silentLogger(), store }).start(), /needs \[server\] interface/);
    const off = new ProxyDhcpService({ profile: loopbackProfile(1, 2, 'server'), logger: silentLogger(), store });
    await off.start();
    assert.deepEqual(off.bindings(), []);
    const missing = testProfile({ server: { interface: 'pxp-no-such0' }, dhcp: { mode: 'proxy', port: 0, proxyPort: 0 } });
    await assert.rejects(
      new ProxyDhcpService({ profile: missing, logger: silentLogger(), store }).start(),
      (e: unknown) => e instanceof BindError && e.code === 'ENODEV' && /\[server\] interface/.test(e.message),
    );
    store.close();
  });
});
