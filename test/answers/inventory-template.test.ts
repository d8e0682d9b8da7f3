// {{inventory.…}} and {{install_disk}} in answer templates: filled from the machine's inventory and
// its rule's install_disk; a machine not inspected (or a fact it lacks) is refused with the reason,
// never answered with a blank, over HTTP too (400).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inventoryTemplateValues, renderTemplate } from '../../src/answers/template.ts';
import { parseGlob } from '../../src/boot/match.ts';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { makeAnswerTree, post, type AnswerTree } from '../helpers/answer-tree.ts';
import { testDisk, testInventory } from '../helpers/inventory.ts';
import type { NodeRecord } from '../../src/boot/ports.ts';

const TEMPLATE =
  'disk_list = ["{{install_disk}}"]\n# {{inventory.system.vendor}} {{inventory.system.product_short}}, {{inventory.disks.count}} disks, first {{inventory.disks.0.serial}}\n';

test('inventory paths and the install disk fill a template', () => {
  const filled = inventoryTemplateValues(TEMPLATE, { inventory: testInventory(), installDisk: { path: '/dev/nvme0n1' } });
  const rendered = renderTemplate(TEMPLATE, filled.values, filled.missing);
  assert.deepEqual(rendered, { ok: true, text: 'disk_list = ["/dev/nvme0n1"]\n# Acme roadrunner-9, 2 disks, first BIG1\n' });
});

test('a machine not inspected, a null fact, an unknown path or no disk that fits: refused with the reason, never blank', () => {
  const render = (text: string, facts: Parameters<typeof inventoryTemplateValues>[1]) => {
    const { values, missing } = inventoryTemplateValues(text, facts);
    const r = renderTemplate(text, values, missing);
    assert.equal(r.ok, false, `${text} should be refused`);
    return r.ok ? '' : r.errors.map((e) => e.message).join('; ');
  };
  assert.match(render(TEMPLATE, { inventory: null, installDisk: null }), /\{\{install_disk\}\} has no value here: the machine has not been inspected yet/);
  assert.match(render('{{inventory.system.sku}}', { inventory: testInventory(), installDisk: null }), /the inventory has no system\.sku/);
  assert.match(render('{{inventory.system.colour}}', { inventory: testInventory(), installDisk: null }), /the inventory has no system\.colour/);
  assert.match(render('{{install_disk}}', { inventory: testInventory(), installDisk: null }), /no install_disk is set for this machine/);
  assert.match(
    render('{{install_disk}}', {
      inventory: testInventory(),
      installDisk: { problem: 'install_disk = smallest-ssd: none of sda is known to be non-rotational' },
    }),
    /none of sda is known to be non-rotational/,
  );
});

describe('POST /answer with {{install_disk}}', () => {
  const INSPECTED = '52:54:00:ab:00:01';
  const NEW = '52:54:00:ab:00:02';
  let tree: AnswerTree;
  let h: RunningHttp;
  const request = (mac: string) => ({
    $schema: { version: '1.0' },
    product: { fullname: 'Proxmox VE', product: 'pve', enable_btrfs: true },
    iso: { release: '9.1', isorelease: '1' },
    dmi: { system: { serial: 'X', uuid: '11111111-2222-3333-4444-555555555555', sku: '', name: 'x' } },
    network_interfaces: [{ link: 'eno1', mac }],
  });

  before(async () => {
    tree = makeAnswerTree({ 'default.toml': '[disk-setup]\ndisk_list = ["{{install_disk}}"]\n' });
    h = await startHttp({ answers: { dir: tree.answers } });
    const vendor = parseGlob('Acme');
    assert.ok(vendor.ok);
    h.profile.rules.push({ name: 'acme', file: '(test)', when: { vendor: vendor.glob }, installDisk: { kind: 'smallest-ssd' } });
    // Until the store keeps inventories: this machine's node carries one.
    h.store.sawNode(INSPECTED, {}, false);
    const getNode = h.store.getNode.bind(h.store);
    const inventory = testInventory({ disks: [testDisk('vda', { sizeBytes: 2e11, serial: 'A' }), testDisk('vdb', { sizeBytes: 1e11, serial: 'S2' })] });
    h.store.getNode = (mac: string): NodeRecord | undefined => {
      const node = getNode(mac);
      return node && mac === INSPECTED ? { ...node, inventory: { document: inventory, reportedAt: Date.now(), session: 's' } } : node;
    };
  });
  after(async () => {
    await h.stop();
    tree.remove();
  });

  test('an inspected machine matching a rule gets the disk its install_disk chose', async () => {
    const r = await post(h.base, '/answer', request(INSPECTED));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, '[disk-setup]\ndisk_list = ["/dev/vdb"]\n');
  });

  test('a machine not inspected gets a 400 with the reason, not a blank disk', async () => {
    const r = await post(h.base, '/answer', request(NEW));
    assert.equal(r.status, 400);
    assert.match(r.text, /default\.toml line 2, column 15: \{\{install_disk\}\} has no value here: the machine has not been inspected yet/);
  });
});
