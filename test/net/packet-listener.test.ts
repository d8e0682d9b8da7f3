// The packet listener (native/packet_listener.c, src/net/packet-listener.ts) between two
// namespaces: it hears a UDP datagram to its port that comes to its MAC but is addressed to an
// IP it does not have (what no UDP socket can hear), with the sender's MAC; and it does not hear
// other ports, its own host's sends, or anything while muted. "Not heard" is shown by order: a
// marker sent after it arrives, and nothing before it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { helperArgv, JsonLineChild } from '../helpers/json-lines.ts';
import { NetLab } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';

const A = '10.99.0.1';
const B = '10.99.0.2';
/** An address nobody has: the frames to it go to a's MAC through a static neighbour entry in b. */
const ELSEWHERE = '10.99.0.77';

interface Heard {
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  payload: string;
  sourceMac: string;
}

describe('PacketListener between two namespaces', { skip: skipUnless(['root', 'ip']) }, () => {
  const lab = new NetLab('pkt');
  let listener: JsonLineChild;
  let sender: JsonLineChild;
  let macB = '';

  before(async () => {
    await lab.addNamespace('a');
    await lab.addNamespace('b');
    await lab.addVethPair('a', 'eth0', `${A}/24`, 'b', 'eth0', `${B}/24`);
    macB = await lab.macOf('b', 'eth0');
    await lab.exec('b', ['ip', 'neigh', 'replace', ELSEWHERE, 'lladdr', await lab.macOf('a', 'eth0'), 'dev', 'eth0', 'nud', 'permanent']);
    listener = new JsonLineChild(lab.spawn('a', helperArgv('packet-listener-child.ts', 'eth0'), { stdio: ['pipe', 'pipe', 'pipe'] }));
    await listener.waitFor('ready');
    // The sender is the same helper in b; only its ordinary UDP sends are used.
    sender = new JsonLineChild(lab.spawn('b', helperArgv('packet-listener-child.ts', 'eth0'), { stdio: ['pipe', 'pipe', 'pipe'] }));
    await sender.waitFor('ready');
  });
  after(() => lab.destroy());

  const heard = (): Heard[] => listener.values<Heard>('heard');

  async function send(from: JsonLineChild, address: string, port: number, text: string): Promise<void> {
    from.send({ send: { address, port, text } });
    await from.waitFor<string>('sent', (t) => t === text);
  }

  async function command(c: { listen?: number; mute?: true }, ack: string): Promise<void> {
    const before = listener.values(ack).length;
    listener.send(c);
    await listener.waitFor(ack, () => listener.values(ack).length > before);
  }

  test('hears a datagram to its port sent to its MAC but to an address it does not have, naming the sender and its MAC', async () => {
    await command({ listen: 68 }, 'listening');
    await send(sender, ELSEWHERE, 68, 'unicast to an address a does not have');
    const got = await listener.waitFor<Heard>('heard', (h) => h.payload === 'unicast to an address a does not have');
    assert.equal(got.source, B);
    assert.equal(got.destination, ELSEWHERE);
    assert.equal(got.destinationPort, 68);
    assert.equal(got.sourceMac, macB);
  });

  test('does not hear other ports or its own host sending to its port', async () => {
    await command({ listen: 68 }, 'listening');
    const already = heard().length;
    await send(sender, ELSEWHERE, 69, 'to port 69');
    await send(listener, B, 68, 'sent by the listening host');
    await send(sender, A, 68, 'marker 1');
    await listener.waitFor<Heard>('heard', (h) => h.payload === 'marker 1');
    assert.deepEqual(
      heard()
        .slice(already)
        .map((h) => h.payload),
      ['marker 1'],
    );
  });

  test('muted, it hears nothing; listening again, it hears', async () => {
    await command({ mute: true }, 'muted');
    const already = heard().length;
    await send(sender, ELSEWHERE, 68, 'while muted');
    await command({ listen: 68 }, 'listening');
    await send(sender, ELSEWHERE, 68, 'marker 2');
    await listener.waitFor<Heard>('heard', (h) => h.payload === 'marker 2');
    assert.deepEqual(
      heard()
        .slice(already)
        .map((h) => h.payload),
      ['marker 2'],
    );
  });
});
