// Wake-on-LAN: the magic packet is well formed (property), and in namespaces the test creates the
// daemon, asked through its admin API, sends it on the boot VLAN's interface only: tshark's wol
// dissector reads the MAC on lab0, and a capture on the namespace's other interface sees only
// what the test sent there on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { magicPacket, magicPacketTarget } from '../../src/power/wol.ts';
import { NetLab, collectOutput, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { PxePilot } from '../helpers/daemon.ts';

const TOKEN = 'wol-test-admin-token-4c1f9a';
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
  'the daemon sends the magic packet on the boot VLAN interface only, decoded by tshark',
  { skip: skipUnless(['root', 'ip', 'tshark', 'curl']), timeout: 90_000 },
  async () => {
    const lab = new NetLab('wol');
    const dir = mkdtempSync(join(tmpdir(), 'pxe-wol-'));
    const MAC = '52:54:00:dd:00:01';
    const SENTINEL = '02:00:00:00:00:99';
    let daemon: PxePilot | undefined;
    try {
      for (const ns of ['pilot', 'machine', 'other']) await lab.addNamespace(ns);
      await lab.addVethPair('pilot', 'lab0', '10.97.0.1/24', 'machine', 'eth0', '10.97.0.50/24');
      await lab.addVethPair('pilot', 'other0', '10.98.0.1/24', 'other', 'eth0', '10.98.0.50/24');
      // The daemon as users run it: boot VLAN lab0, the machine's [host] naming bmc = wol.
      daemon = await PxePilot.start(lab, 'pilot', {
        configFile: join(dir, 'pxe-pilot.ini'),
        baseUrl: 'http://10.97.0.1:8080',
        adminToken: TOKEN,
        spec: {
          sections: {
            server: { address: '10.97.0.1', interface: 'lab0', state_dir: join(dir, 'state') },
            http: { bind: '10.97.0.1', port: 8080, admin_token: TOKEN },
            https: { enabled: false },
            tftp: { enabled: false },
            dhcp: { mode: 'off' },
            power: { credentials_dir: join(dir, 'bmc') },
          },
          hosts: [{ mac: MAC, bmc: 'wol' }],
        },
      });
      const power = (action: string) =>
        lab.exec('pilot', [
          'curl',
          '-s',
          '--max-time',
          '10',
          '-H',
          `Authorization: Bearer ${TOKEN}`,
          '-d',
          JSON.stringify({ action }),
          `http://10.97.0.1:8080/nodes/${MAC}/power`,
        ]);
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
      const on = JSON.parse((await power('on')).stdout) as { ok: boolean; message: string };
      assert.equal(on.ok, true, on.message);
      assert.equal(on.message, 'power on; power is unknown');
      // Anything but on is not for Wake-on-LAN, and it says what is.
      assert.match((await power('off')).stdout, /Wake-on-LAN can only power on/);
      // The other interface's capture works: it sees what the test sends there on purpose.
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
      await daemon?.stop();
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
