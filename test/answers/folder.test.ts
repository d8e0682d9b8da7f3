import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { findAnswer, listAnswers, nocloudLayout, PRESEED_LAYOUT, PROXMOX_LAYOUT } from '../../src/answers/folder.ts';
import { answerCandidates } from '../../src/answers/selection.ts';

let base: string;
let dir: string;

function put(rel: string, text: string): void {
  const path = join(dir, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

describe('answers folder', () => {
  before(() => {
    base = mkdtempSync(join(tmpdir(), 'pxe-answers-'));
    dir = join(base, 'answers');
    writeFileSync(join(base, 'secret.toml'), 'root-password = "outside"\n');
    put('hosts/52-54-00-00-00-01.toml', 'canonical\n');
    put('hosts/52:54:00:00:00:01.toml', 'colon spelling\n');
    put('hosts/5254.0000.0002.toml', 'dot spelling\n');
    put('hosts/README.txt', 'not an answer\n');
    put('hosts/not-a-mac.toml', 'ignored\n');
    put('serial/CZJ2340F1K.toml', 'by serial\n');
    put('uuid/4c4c4544-0051-3510-8057-b7c04f4b4e32.toml', 'by uuid\n');
    put('pve.toml', 'pve default\n');
    put('default.toml', 'default\n');
    symlinkSync(join(base, 'secret.toml'), join(dir, 'hosts', '52-54-00-00-00-66.toml'));
    symlinkSync('../default.toml', join(dir, 'hosts', '52-54-00-00-00-77.toml'));
    put('nocloud/hosts/52-54-00-00-00-01/meta-data', 'instance-id: one\n');
    put('nocloud/default/user-data', '#cloud-config\n');
    put('preseed/default.cfg', 'd-i debconf/priority string critical\n');
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  const find = (macs: string[], serial: string | null = null, uuid: string | null = null, product: string | null = null) =>
    findAnswer(dir, PROXMOX_LAYOUT, answerCandidates({ macs, serial, uuid, product }, PROXMOX_LAYOUT.rules));

  test('the canonical spelling wins when two spellings name one MAC; other spellings still match', async () => {
    const one = await find(['52:54:00:00:00:01']);
    assert.equal(one.status === 'found' && one.answer.rel, 'hosts/52-54-00-00-00-01.toml');
    const two = await find(['52-54-00-00-00-02']);
    assert.equal(two.status === 'found' && two.answer.text, 'dot spelling\n');
  });

  test('serial (any case), UUID, product, default, in that order', async () => {
    const serial = await find(['52:54:00:00:00:09'], 'czj2340f1k', '4c4c4544-0051-3510-8057-b7c04f4b4e32', 'pve');
    assert.equal(serial.status === 'found' && serial.answer.rel, 'serial/CZJ2340F1K.toml');
    const uuid = await find([], null, '4C4C4544-0051-3510-8057-B7C04F4B4E32', 'pve');
    assert.equal(uuid.status === 'found' && uuid.answer.rel, 'uuid/4c4c4544-0051-3510-8057-b7c04f4b4e32.toml');
    const product = await find([], null, null, 'pve');
    assert.equal(product.status === 'found' && product.answer.rel, 'pve.toml');
    const fallback = await find([], null, null, 'pmg');
    assert.equal(fallback.status === 'found' && fallback.answer.rel, 'default.toml');
  });

  test('a symlink pointing outside the folder is refused, not followed and not skipped', async () => {
    const r = await find(['52:54:00:00:00:66']);
    assert.equal(r.status, 'refused');
    assert.match(r.status === 'refused' ? r.reason : '', /outside \[answers\] dir/);
    const inside = await find(['52:54:00:00:00:77']);
    assert.equal(inside.status === 'found' && inside.answer.text, 'default\n');
  });

  test('hostile keys never read anything outside the folder', async () => {
    const hostile = ['../secret', '../../secret.toml', '/etc/passwd', '..%2fsecret', 'a\0b', '%2e%2e%2fsecret', '..', '.', ''];
    for (const h of hostile) {
      const r = await find([h], h, h, h);
      assert.ok(r.status !== 'refused' && !(r.status === 'found' && r.answer.text.includes('outside')), h);
      assert.equal(r.status === 'found' && r.answer.rel, 'default.toml');
    }
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), async (a, b) => {
        const r = await find([a], b, a, b);
        assert.ok(r.status === 'found' && !r.answer.text.includes('outside'));
      }),
      { numRuns: 200 },
    );
  });

  test('nocloud files are chosen one by one; preseed has its own folder', async () => {
    const meta = await findAnswer(
      dir,
      nocloudLayout('meta-data'),
      answerCandidates({ macs: ['52:54:00:00:00:01'], serial: null, uuid: null, product: null }, nocloudLayout('meta-data').rules),
    );
    assert.equal(meta.status === 'found' && meta.answer.rel, 'nocloud/hosts/52-54-00-00-00-01/meta-data');
    const user = await findAnswer(
      dir,
      nocloudLayout('user-data'),
      answerCandidates({ macs: ['52:54:00:00:00:01'], serial: null, uuid: null, product: null }, nocloudLayout('user-data').rules),
    );
    assert.equal(user.status === 'found' && user.answer.rel, 'nocloud/default/user-data');
    const vendor = await findAnswer(
      dir,
      nocloudLayout('vendor-data'),
      answerCandidates({ macs: ['52:54:00:00:00:01'], serial: null, uuid: null, product: null }, nocloudLayout('vendor-data').rules),
    );
    assert.equal(vendor.status, 'none');
    const preseed = await findAnswer(
      dir,
      PRESEED_LAYOUT,
      answerCandidates({ macs: ['52:54:00:00:00:01'], serial: null, uuid: null, product: 'pve' }, PRESEED_LAYOUT.rules),
    );
    assert.equal(preseed.status === 'found' && preseed.answer.rel, 'preseed/default.cfg');
  });

  test('a missing folder finds nothing and says so', async () => {
    const r = await findAnswer(join(base, 'nope'), PROXMOX_LAYOUT, answerCandidates({ macs: [], serial: null, uuid: null, product: null }));
    assert.equal(r.status, 'none');
    assert.match(r.status === 'none' ? r.tried.join() : '', /does not exist/);
  });

  test('the inventory lists keys by rule and the names that will never be served', async () => {
    const inv = await listAnswers(dir, PROXMOX_LAYOUT);
    assert.deepEqual(inv.macs.map((m) => m.mac).sort(), [
      '52:54:00:00:00:01',
      '52:54:00:00:00:01',
      '52:54:00:00:00:02',
      '52:54:00:00:00:66',
      '52:54:00:00:00:77',
    ]);
    assert.deepEqual(inv.serials, [{ serial: 'CZJ2340F1K', file: 'serial/CZJ2340F1K.toml' }]);
    assert.deepEqual(
      inv.uuids.map((u) => u.uuid),
      ['4c4c4544-0051-3510-8057-b7c04f4b4e32'],
    );
    assert.deepEqual(inv.products, [{ product: 'pve', file: 'pve.toml' }]);
    assert.equal(inv.default, 'default.toml');
    assert.deepEqual(inv.ignored.sort(), [
      'hosts/README.txt: not a MAC address followed by .toml',
      'hosts/not-a-mac.toml: not a MAC address followed by .toml',
    ]);
    const nocloud = await listAnswers(dir, nocloudLayout('user-data'));
    assert.deepEqual(nocloud.macs, [{ mac: '52:54:00:00:00:01', file: 'nocloud/hosts/52-54-00-00-00-01/' }]);
    assert.equal(nocloud.default, 'nocloud/default/');
  });
});
