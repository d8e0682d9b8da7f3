// The interface-bound UDP socket: on loopback for the basics, and in a namespace with two
// interfaces for the property a DHCP server depends on: it hears and answers one link only.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { interfaceIndex, UdpDeviceSocket, type ReceivedDatagram } from '../../src/net/udp-device.ts';
import { NetLab } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { helperArgv, JsonLineChild } from '../helpers/json-lines.ts';

type WireDatagram = Omit<ReceivedDatagram, 'data'> & { data: string };

const hex = (text: string): string => Buffer.from(text).toString('hex');

describe('UdpDeviceSocket on loopback', () => {
  test('receives a datagram with the interface it came in on and answers the sender', async () => {
    const socket = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1', interface: 'lo' });
    const client = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
      const seen = new Promise<ReceivedDatagram>((resolve) => socket.onMessage(resolve));
      socket.onMessage((d) => void socket.send(Buffer.from(`echo ${d.data.toString()}`), d.port, d.address));
      const reply = new Promise<Buffer>((resolve) => client.once('message', resolve));
      client.send('hello', socket.port, '127.0.0.1');
      const d = await seen;
      assert.equal(d.data.toString(), 'hello');
      assert.equal(d.address, '127.0.0.1');
      assert.equal(d.port, client.address().port);
      assert.equal(d.ifindex, interfaceIndex('lo'));
      assert.equal(d.localAddress, '127.0.0.1');
      assert.equal((await reply).toString(), 'echo hello');
    } finally {
      client.close();
      await socket.close();
    }
  });

  test('a handler that throws is reported and the socket keeps receiving', async () => {
    const socket = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1' });
    const client = dgram.createSocket('udp4');
    try {
      const errors: string[] = [];
      const received: string[] = [];
      socket.onMessage((d) => {
        if (d.data.toString() === 'bad') throw new Error('handler failed on purpose');
        received.push(d.data.toString());
      });
      socket.onError((err) => errors.push((err as Error).message));
      const second = new Promise<void>((resolve) => socket.onMessage((d) => d.data.toString() === 'good' && resolve()));
      client.send('bad', socket.port, '127.0.0.1');
      client.send('good', socket.port, '127.0.0.1');
      await second;
      assert.deepEqual(errors, ['handler failed on purpose']);
      assert.deepEqual(received, ['good']);
    } finally {
      client.close();
      await socket.close();
    }
  });

  test('bind failures carry the errno name the service turns into advice', async () => {
    const taken = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1' });
    try {
      await assert.rejects(UdpDeviceSocket.open({ port: taken.port, address: '127.0.0.1' }), { code: 'EADDRINUSE' });
      await assert.rejects(UdpDeviceSocket.open({ port: 0, interface: 'pxp-no-such0' }), { code: 'ENODEV' });
      const shared = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1', reuseAddr: true });
      await assert.doesNotReject(async () => (await UdpDeviceSocket.open({ port: shared.port, address: '127.0.0.1', reuseAddr: true })).close());
      await shared.close();
    } finally {
      await taken.close();
    }
  });

  test('closing from inside a handler stops delivery at once, even with more datagrams queued', async () => {
    const socket = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1' });
    const client = dgram.createSocket('udp4');
    try {
      const seen: string[] = [];
      const closed = new Promise<void>((resolve) =>
        socket.onMessage((d) => {
          seen.push(d.data.toString());
          void socket.close().then(resolve);
        }),
      );
      // Queued before the socket is read, so several are waiting when the first handler closes it.
      await Promise.all(['one', 'two', 'three'].map((m) => new Promise<void>((resolve) => client.send(m, socket.port, '127.0.0.1', () => resolve()))));
      await closed;
      assert.deepEqual(seen, ['one']);
      assert.equal(socket.closed, true);
    } finally {
      client.close();
    }
  });

  test('send after close and unknown interfaces fail cleanly', async () => {
    const socket = await UdpDeviceSocket.open({ port: 0, address: '127.0.0.1' });
    await socket.close();
    await socket.close();
    await assert.rejects(socket.send(Buffer.from('x'), 9, '127.0.0.1'), { code: 'EBADF' });
    assert.equal(interfaceIndex('pxp-no-such0'), null);
    assert.equal(interfaceIndex(''), null);
  });
});

describe('UdpDeviceSocket between two links', { skip: skipUnless(['root']) }, () => {
  // srv has a0 (10.61.1.1) towards namespace ca and b0 (10.61.2.1) towards namespace cb.
  let lab: NetLab;
  let onA: JsonLineChild;
  let onB: JsonLineChild;
  let peerA: JsonLineChild;
  let peerB: JsonLineChild;
  let indexA = 0;
  let indexB = 0;

  before(async () => {
    lab = new NetLab('udpdev');
    for (const ns of ['srv', 'ca', 'cb']) await lab.addNamespace(ns);
    await lab.addVethPair('srv', 'a0', '10.61.1.1/24', 'ca', 'ca0', '10.61.1.2/24');
    await lab.addVethPair('srv', 'b0', '10.61.2.1/24', 'cb', 'cb0', '10.61.2.2/24');
    // Default routes let the plain dgram peers send to 255.255.255.255; cb's also sends a unicast
    // for a0's address in through b0.
    await lab.exec('ca', ['ip', 'route', 'add', 'default', 'via', '10.61.1.1']);
    await lab.exec('cb', ['ip', 'route', 'add', 'default', 'via', '10.61.2.1']);
    const stdio = { stdio: ['pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe'] };
    // Both on port 67, neither with SO_REUSEADDR: sockets tied to different devices share a port.
    onA = new JsonLineChild(lab.spawn('srv', helperArgv('device-socket.ts', JSON.stringify({ port: 67, interface: 'a0' })), stdio));
    onB = new JsonLineChild(lab.spawn('srv', helperArgv('device-socket.ts', JSON.stringify({ port: 67, interface: 'b0' })), stdio));
    peerA = new JsonLineChild(lab.spawn('ca', helperArgv('dgram-peer.ts', '0.0.0.0', '68'), stdio));
    peerB = new JsonLineChild(lab.spawn('cb', helperArgv('dgram-peer.ts', '0.0.0.0', '68'), stdio));
    indexA = (await onA.waitFor<{ interfaceIndex: number }>('ready')).interfaceIndex;
    indexB = (await onB.waitFor<{ interfaceIndex: number }>('ready')).interfaceIndex;
    await peerA.waitFor('ready');
    await peerB.waitFor('ready');
  });

  after(async () => {
    await lab.destroy();
  });

  test('a socket bound to a0 never sees what arrives on b0, broadcast or unicast', async () => {
    peerB.send({ hex: hex('broadcast on b'), port: 67, address: '255.255.255.255' });
    peerB.send({ hex: hex('unicast to a0 address via b'), port: 67, address: '10.61.1.1' });
    // b0's own socket proves both datagrams reached the server before we look at a0's.
    await onB.waitFor<WireDatagram>('datagram', (d) => d.data === hex('broadcast on b'));
    await onB.waitFor<WireDatagram>('datagram', (d) => d.data === hex('unicast to a0 address via b'));
    peerA.send({ hex: hex('broadcast on a'), port: 67, address: '255.255.255.255' });
    const onAFirst = await onA.waitFor<WireDatagram>('datagram');

    assert.deepEqual(
      onA.values<WireDatagram>('datagram').map((d) => Buffer.from(d.data, 'hex').toString()),
      ['broadcast on a'],
    );
    assert.equal(onAFirst.ifindex, indexA);
    assert.equal(onAFirst.address, '10.61.1.2');
    assert.equal(onAFirst.localAddress, '10.61.1.1');
    assert.equal(onAFirst.destination, '255.255.255.255');
    for (const d of onB.values<WireDatagram>('datagram')) assert.equal(d.ifindex, indexB);
  });

  test('a broadcast reply from the a0 socket leaves through a0 only', async () => {
    onA.send({ send: { hex: hex('reply from a'), port: 68, address: '255.255.255.255' } });
    await onA.waitFor('sent');
    await peerA.waitFor<WireDatagram>('datagram', (d) => d.data === hex('reply from a'));
    onB.send({ send: { hex: hex('reply from b'), port: 68, address: '255.255.255.255' } });
    await peerB.waitFor<WireDatagram>('datagram', (d) => d.data === hex('reply from b'));

    const text = (c: JsonLineChild): string[] => c.values<WireDatagram>('datagram').map((d) => Buffer.from(d.data, 'hex').toString());
    assert.deepEqual(text(peerA), ['reply from a']);
    assert.deepEqual(text(peerB), ['reply from b']);
    assert.equal(peerA.values<WireDatagram>('datagram')[0]?.address, '10.61.1.1');
  });
});
