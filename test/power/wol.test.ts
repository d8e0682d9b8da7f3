// Wake-on-LAN: the magic packet is well formed (property), and in namespaces the test creates it
// leaves on the boot VLAN's interface only: tshark's wol dissector reads the MAC on lab0, and a
// capture on the namespace's other interface sees only what was sent there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { magicPacket, magicPacketTarget } from '../../src/power/wol.ts';
import { NetLab, collectOutput, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';

const SEND_WOL = fileURLToPath(new URL('../fixtures/power/send-wol.ts', import.meta.url));

test('property: a magic packet is 6 × 0xff and 16 × the MAC, and reads back as that MAC', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.constantFrom(':', '-'), fc.boolean(), (bytes, sep, upper) => {
      const text = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(sep);
      const packet = magicPacket(upper ? text.toUpperCase() : text)!;
      assert.equal(packet.length, 102);
      assert.ok(packet.subarray(0, 6).equals(Buffer.alloc(6, 0xff)));
      for (let i = 0; i < 16; i++) assert.ok(packet.subarray(6 + 6 * i, 12 + 6 * i).equals(Buffer.from(bytes)));
      assert.equal(magicPacketTarget(packet), text.replace(/-/g, ':'));
    }),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (text) => {
      const packet = magicPacket(text);
      if (packet) assert.equal(packet.length, 102);
    }),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => void magicPacketTarget(Buffer.from(bytes))));
});

test(
  'the magic packet leaves on the boot VLAN interface only, decoded by tshark',
  { skip: skipUnless(['root', 'ip', 'tshark']), timeout: 90_000 },
  async () => {
    const lab = new NetLab('wol');
    const MAC = '52:54:00:dd:00:01';
    const SENTINEL = '02:00:00:00:00:99';
    try {
      for (const ns of ['pilot', 'machine', 'other']) await lab.addNamespace(ns);
      await lab.addVethPair('pilot', 'lab0', '10.97.0.1/24', 'machine', 'eth0', '10.97.0.50/24');
      await lab.addVethPair('pilot', 'other0', '10.98.0.1/24', 'other', 'eth0', '10.98.0.50/24');
      const capture = (iface: string) => {
        const child = lab.spawn('pilot', [
          'tshark',
          '-i',
          iface,
          '-l',
          '-n',
          '-f',
          'udp port 9',
          '-Y',
          'wol',
          '-T',
          'fields',
          '-e',
          'eth.dst',
          '-e',
          'ip.dst',
          '-e',
          'wol.mac',
        ]);
        return { child, out: collectOutput(child) };
      };
      const onLab = capture('lab0');
      const onOther = capture('other0');
      await waitFor('tshark to capture on lab0 and other0', () => /Capturing on/.test(onLab.out.text()) && /Capturing on/.test(onOther.out.text()), 20_000);
      const sent = await lab.exec('pilot', [process.execPath, '--import', 'tsx', SEND_WOL, MAC, 'lab0']);
      assert.match(sent.stdout, /sent 52:54:00:dd:00:01 on lab0/);
      // The other interface's capture works: it sees what is sent there on purpose, the sentinel.
      await lab.exec('pilot', [process.execPath, '--import', 'tsx', SEND_WOL, SENTINEL, 'other0']);
      const rows = (text: string) => text.split('\n').filter((l) => /^[0-9a-f:]{17}\t/.test(l));
      await waitFor('tshark to decode both packets', () => rows(onLab.out.text()).length >= 1 && rows(onOther.out.text()).length >= 1, 20_000);
      await lab.stop(onLab.child);
      await lab.stop(onOther.child);
      // The dissector lists the MAC once per repetition: 16 of them, all the machine's.
      const sixteen = (mac: string) => Array<string>(16).fill(mac).join(',');
      assert.deepEqual(rows(onLab.out.text()), [`ff:ff:ff:ff:ff:ff\t255.255.255.255\t${sixteen(MAC)}`]);
      assert.deepEqual(
        rows(onOther.out.text()),
        [`ff:ff:ff:ff:ff:ff\t255.255.255.255\t${sixteen(SENTINEL)}`],
        'the machine’s magic packet left through another interface',
      );
    } finally {
      await lab.destroy();
    }
  },
);
