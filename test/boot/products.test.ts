// The product table (src/boot/products.ts): every row's install is consumed at its point of the
// lifecycle and said so afterwards, and a new row needs no new branch anywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchesAnswer, nextState, type NodeState } from '../../src/boot/lifecycle.ts';
import { decide } from '../../src/boot/policy.ts';
import {
  consumedWords,
  defaultCmdline,
  PRODUCT_ROWS,
  productDisplayName,
  productRow,
  productRowByShortName,
  type ConsumedAt,
  type ProductRow,
} from '../../src/boot/products.ts';
import { proxmoxProductOfProfile } from '../../src/answers/names.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';

const MAC = '52:54:00:70:00:01';

function pending(profile: string): NodeState {
  return { mac: MAC, state: 'install-pending', profile, localBoot: null, armedAt: 1, armedBy: 'admin', consumedAt: null, installedAt: null };
}

/** Whether the lifecycle consumes an install of `product` when its script is served, as the transports ask it. */
function consumedByScript(product: string, rows: readonly ProductRow[]): boolean {
  const node = pending(`${product}/1`);
  const served = nextState({ kind: 'script-served', profile: `${product}/1`, fetchesAnswer: fetchesAnswer(product, rows) }, node);
  if (served.change) return served.change.kind === 'consume';
  // Past its script the install stays pending, for the answer fetch or the report to end it.
  assert.equal(served.to, 'install-pending');
  assert.equal(nextState({ kind: 'answer-fetched', hostProfile: null }, node).change?.kind, 'consume');
  assert.equal(nextState({ kind: 'install-reported', fqdn: null, bootMode: null, report: null }, node).change?.kind, 'complete');
  return false;
}

test('every row is consumed at its point: Proxmox at the answer fetch, the others when the script is served', () => {
  const expected: Record<string, ConsumedAt> = {
    'proxmox-ve': 'answer',
    'proxmox-bs': 'answer',
    'proxmox-mg': 'answer',
    'ubuntu-server': 'script',
    debian: 'script',
    ubuntu: 'script',
  };
  assert.deepEqual(Object.fromEntries(PRODUCT_ROWS.map((r) => [r.product, r.consumedAt])), expected);
  for (const row of PRODUCT_ROWS) assert.equal(consumedByScript(row.product, PRODUCT_ROWS), expected[row.product] === 'script', row.product);
  assert.equal(consumedByScript('my-own-distro', PRODUCT_ROWS), true, 'a folder of no row is consumed when its script is served');
});

test('after the consumption, decide says how it was consumed: never "answer fetched" for an installer that fetches none', () => {
  for (const row of PRODUCT_ROWS) {
    const profile = testProfile({ hosts: [hostEntry(MAC, { action: 'install', profile: `${row.product}/1` })] });
    const node: NodeState = { ...pending(`${row.product}/1`), state: 'installing', consumedAt: Date.UTC(2026, 0, 1, 9, 30, 5) };
    const d = decide({ mac: MAC, firmware: 'uefi', isIpxe: true }, profile, node);
    assert.equal(d.action, 'local');
    const words = row.consumedAt === 'answer' ? 'answer fetched' : 'its install script was served';
    assert.equal(d.reason, `install consumed: ${words} at 09:30:05; reinstall through the admin API to install again`, row.product);
  }
  assert.equal(consumedWords(null), 'install consumed', 'no profile: the product is not known, so neither is how');
});

test('the table names products for the menu, the kernel line and the answer requests', () => {
  assert.equal(productDisplayName('proxmox-bs'), 'Proxmox Backup Server');
  assert.equal(productDisplayName('debian'), 'Debian');
  assert.equal(productDisplayName('my-own-distro'), 'my-own-distro');
  assert.match(defaultCmdline('proxmox-ve'), /proxmox-start-auto-installer/);
  assert.equal(defaultCmdline('debian'), '');
  assert.equal(productRowByShortName('pmg')?.product, 'proxmox-mg');
  assert.equal(proxmoxProductOfProfile('proxmox-mg/9.0-1'), 'pmg');
  assert.equal(proxmoxProductOfProfile('debian/13'), null);
  assert.equal(new Set(PRODUCT_ROWS.map((r) => r.product)).size, PRODUCT_ROWS.length, 'one row per product');
});

test('a new row is taken as it is: consumed at its point, named and worded, with no new branch', () => {
  const inspector: ProductRow = {
    product: 'inspector',
    kind: 'generic',
    displayName: 'Hardware inspection',
    shortName: null,
    cmdline: 'quiet',
    consumedAt: 'report',
  };
  const answering: ProductRow = { product: 'answering', kind: 'generic', displayName: 'Answering', shortName: 'ans', cmdline: '', consumedAt: 'answer' };
  const rows = [...PRODUCT_ROWS, inspector, answering];
  assert.equal(consumedByScript('inspector', rows), false, 'its script does not consume it; the report completes it');
  assert.equal(consumedByScript('answering', rows), false);
  assert.equal(consumedByScript('inspector', PRODUCT_ROWS), true, 'the same folder without its row: consumed by its script');
  assert.equal(productRow('inspector', rows).displayName, 'Hardware inspection');
  assert.equal(consumedWords('inspector/1', rows), 'install consumed: the installed system reported');
  assert.equal(productRowByShortName('ans', rows)?.product, 'answering');
});
