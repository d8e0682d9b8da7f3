// GET /machines' lines (src/http/ui/machines.ts): the hardware in a line from the stored
// inventory, placeholder and shared identities flagged by the server (the page computes none),
// the switch port of a link that is up, and the power state as known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Inventory } from '../../src/agent/inventory.ts';
import type { NodeRecord } from '../../src/boot/ports.ts';
import type { PowerView } from '../../src/power/control.ts';
import { machineLines } from '../../src/http/ui/machines.ts';
import { startHttp } from '../helpers/http.ts';
import { censusOf } from '../../src/boot/settings.ts';

const DOC = JSON.parse(readFileSync(new URL('../fixtures/inventory/acme-rr9.json', import.meta.url), 'utf8')) as Inventory;

function node(mac: string, options: { inventory?: (doc: Inventory) => void; uuid?: string; serial?: string } = {}): NodeRecord {
  let inventory: NodeRecord['inventory'] = null;
  if (options.inventory) {
    const document = structuredClone(DOC);
    options.inventory(document);
    inventory = { document, reportedAt: Date.UTC(2026, 11, 7, 5, 0, 0), session: `s-${mac}` };
  }
  return { mac, state: 'seen', uuid: options.uuid ?? null, serial: options.serial ?? null, inventory, enrolment: null } as unknown as NodeRecord;
}

test('an inspected machine: vendor, model, serial, CPU, memory, disks, and the switch port of the link that is up', () => {
  const [line] = machineLines([node('52:54:00:00:00:01', { inventory: () => undefined })], () => null);
  assert.deepEqual(line, {
    mac: '52:54:00:00:00:01',
    inspected: true,
    reportedAt: '2026-12-07T05:00:00.000Z',
    vendor: 'Acme',
    product: 'Roadrunner-9',
    serial: { value: 'RR-0042', flag: null, reason: null },
    uuid: { value: '12345678-9abc-def0-1122-334455667788', flag: null, reason: null },
    cpu: { model: 'Acme Xeon 6430', sockets: 2, cores: 32, threads: 64 },
    memoryBytes: 137438953472,
    disks: [
      { name: 'nvme0n1', sizeBytes: 960197124096, model: 'Acme NVMe 960', transport: 'nvme' },
      { name: 'sda', sizeBytes: 4000787030016, model: 'Acme HDD 4T', transport: 'sata' },
    ],
    // eno1 has a neighbour too, but its link is down: the port it hangs off now is eno2's.
    switchPort: { nic: 'eno2', chassisId: '00:11:22:33:44:55', portId: 'Ethernet12', systemName: 'leaf-r2-a', portDescription: 'rack2 u7' },
    enrolment: null,
    power: null,
  });
});

test('placeholders and values two machines share are flagged; a machine never inspected has no hardware', () => {
  const lines = machineLines(
    [
      node('52:54:00:00:00:01', {
        inventory: (d) => {
          d.system.serial = 'To be filled by O.E.M.';
          d.system.uuid = '03000200-0400-0500-0006-000700080009';
        },
      }),
      node('52:54:00:00:00:02', { inventory: (d) => (d.system.uuid = '11111111-2222-3333-4444-555555555555') }),
      node('52:54:00:00:00:03', { inventory: (d) => (d.system.uuid = '11111111-2222-3333-4444-666666666666') }),
      // Not inspected: the identity DHCP or iPXE gave, here the all-zero UUID, shown and flagged.
      node('52:54:00:00:00:04', { uuid: '00000000-0000-0000-0000-000000000000', serial: 'PX-77' }),
    ],
    () => null,
  );
  const [oem, first, second, bare] = lines;
  assert.equal(oem!.serial.flag, 'placeholder');
  assert.match(oem!.serial.reason!, /placeholder serial/);
  assert.equal(oem!.uuid.flag, 'placeholder');
  // 01's placeholder serial is not counted as shared; 02 and 03 share RR-0042 (case and spaces aside).
  assert.deepEqual(first!.serial, { value: 'RR-0042', flag: 'shared', reason: '2 machines report this serial: it selects nothing' });
  assert.equal(second!.serial.flag, 'shared');
  assert.equal(first!.uuid.flag, null);
  assert.equal(bare!.inspected, false);
  assert.equal(bare!.vendor, null);
  assert.equal(bare!.cpu, null);
  assert.deepEqual(bare!.disks, []);
  assert.equal(bare!.switchPort, null);
  assert.equal(bare!.uuid.flag, 'placeholder');
  assert.deepEqual(bare!.serial, { value: 'PX-77', flag: null, reason: null });
});

test('the same UUID reported by two machines is shared; the power state is what is known, with the BMC URL only', () => {
  const view: PowerView = {
    mac: '52:54:00:00:00:02',
    bmc: 'ipmi://10.0.1.102',
    state: 'on',
    checkedAt: '2026-12-07T05:01:00.000Z',
    error: null,
  };
  const lines = machineLines(
    [node('52:54:00:00:00:01', { inventory: (d) => (d.system.serial = 'A-1') }), node('52:54:00:00:00:02', { inventory: (d) => (d.system.serial = 'A-2') })],
    (mac) => (mac === view.mac ? view : null),
  );
  assert.equal(lines[0]!.uuid.flag, 'shared');
  assert.equal(lines[0]!.serial.flag, null);
  assert.equal(lines[0]!.power, null);
  assert.deepEqual(lines[1]!.power, { bmc: 'ipmi://10.0.1.102', state: 'on', checkedAt: '2026-12-07T05:01:00.000Z', error: null });
});

test('GET /machines: admin only, every node or one with ?mac=, a bad MAC refused with a reason', async () => {
  const token = 'machines-readout-token-0123456789';
  const http = await startHttp({ http: { adminToken: token } });
  try {
    for (const mac of ['52:54:00:00:00:0a', '52:54:00:00:00:0b']) await (await fetch(`${http.base}/boot?mac=${mac}`)).arrayBuffer();
    const get = async (path: string, auth = true) => {
      const res = await fetch(`${http.base}${path}`, { headers: auth ? { authorization: `Bearer ${token}` } : {} });
      return { status: res.status, body: (await res.json()) as { machines?: { mac: string; inspected: boolean }[]; error?: string } };
    };
    assert.equal((await get('/machines', false)).status, 401);
    const all = await get('/machines');
    assert.deepEqual(all.body.machines?.map((m) => m.mac).sort(), ['52:54:00:00:00:0a', '52:54:00:00:00:0b']);
    assert.ok(all.body.machines?.every((m) => !m.inspected));
    const one = await get('/machines?mac=52-54-00-00-00-0B');
    assert.deepEqual(
      one.body.machines?.map((m) => m.mac),
      ['52:54:00:00:00:0b'],
    );
    const bad = await get('/machines?mac=52:54:00:zz');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error ?? '', /mac/i);
  } finally {
    await http.stop();
  }
});

test('shared is said as the selection counts it (censusOf); a UUID seen in DHCP is shown in the normal form', () => {
  // The fixture's inventory lists NICs 52:54:00:ee:20:01 and :02; the second NIC's node only has what DHCP and iPXE said.
  const nodes = [
    node('52:54:00:ee:20:01', { inventory: () => undefined }),
    node('52:54:00:ee:20:02', { uuid: '78563412-bc9a-f0de-1122-334455667788', serial: 'RR-0042' }),
    node('52:54:00:ee:20:03', { inventory: (d) => ((d.system.serial = 'OTHER-1'), (d.nics = [])) }),
  ];
  const lines = machineLines(nodes, () => null);
  const census = censusOf(() => nodes);
  for (const line of lines)
    for (const kind of ['serial', 'uuid'] as const) {
      const fact = line[kind];
      if (fact.value === null || fact.flag === 'placeholder') continue;
      assert.equal(fact.flag === 'shared', census.macsWith(kind, fact.value, line.mac).length > 0, `${line.mac} ${kind} ${fact.value}`);
    }
  // Option 97 carries the stored bytes: swapped back to the normal form; the serial is the first machine's own (its
  // inventory names this MAC), so not another machine's.
  assert.equal(lines[1]!.uuid.value, '12345678-9abc-def0-1122-334455667788');
  assert.equal(lines[1]!.serial.flag, null);
  // The third machine reports the same UUID as the first: a UUID two machines share.
  assert.equal(lines[2]!.uuid.flag, 'shared');
});
