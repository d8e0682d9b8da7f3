// The dashboard's inventory and enrolment in a real browser (Debian's chromium, headless): an
// inventory posted through the real POST /inventory with a session minted by the store's
// AgentSessions (the ones the daemon wires), shown on the Machines list (hardware columns, the
// discovered filter, a placeholder serial flagged) and on the machine page (disks and NICs as
// tables, the switch port); then enrolled and unenrolled through the page, checked through the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';
import { CHROMIUM, openBrowser } from '../helpers/browser.ts';
import { startHttp, type RunningHttp } from '../helpers/http.ts';

const skip = skipUnless([CHROMIUM]);
const artifacts = join(repoRoot, 'test-artifacts', 'dashboard');
const TOKEN = 'dashboard-inventory-token-0123456789';
const MAC = '52:54:00:ee:30:01';
const OEM_MAC = '52:54:00:ee:30:02';
const BARE_MAC = '52:54:00:ee:30:03';
const PROFILE = 'proxmox-ve/9.1-1';
const DOC = JSON.parse(readFileSync(new URL('../fixtures/inventory/acme-rr9.json', import.meta.url), 'utf8')) as {
  system: { serial: string; uuid: string };
};

let assets: string;
let http: RunningHttp;
let browser: { context: BrowserContext; close: () => Promise<void> };
/** Console errors and uncaught exceptions of every page (each test checks its own). */
const errors: string[] = [];

async function postInventory(mac: string, doc: unknown): Promise<number> {
  const { token } = http.store.agentSessions.mint(mac);
  const res = await fetch(`${http.base}/inventory/${mac}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(doc),
  });
  await res.arrayBuffer();
  return res.status;
}

async function nodeJson(mac: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${http.base}/nodes/${mac}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

before(async () => {
  if (skip) return;
  mkdirSync(artifacts, { recursive: true });
  assets = mkdtempSync(join(tmpdir(), 'pxe-dash-assets-'));
  mkdirSync(join(assets, PROFILE), { recursive: true });
  writeFileSync(join(assets, PROFILE, 'vmlinuz'), Buffer.alloc(4096, 1));
  writeFileSync(join(assets, PROFILE, 'initrd'), Buffer.alloc(8192, 2));
  http = await startHttp({ http: { adminToken: TOKEN }, assets: { dir: assets } });
  for (const mac of [MAC, OEM_MAC, BARE_MAC]) await (await fetch(`${http.base}/boot?mac=${mac}&platform=efi`)).arrayBuffer();
  assert.equal(await postInventory(MAC, DOC), 201);
  const oem = structuredClone(DOC);
  oem.system.serial = 'To be filled by O.E.M.';
  oem.system.uuid = '0f0e0d0c-0b0a-0908-0706-050403020100';
  assert.equal(await postInventory(OEM_MAC, oem), 201);
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
  await http?.stop();
  if (assets) rmSync(assets, { recursive: true, force: true });
});

async function loggedInPage(): Promise<{ page: Page; asked: string[]; answer: { accept: boolean } }> {
  const page = await browser.context.newPage();
  const asked: string[] = [];
  const answer = { accept: true };
  // A CSP refusal or a script error shows in the console: none is allowed.
  page.on('console', (m) => void (m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text())));
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('dialog', (d) => {
    asked.push(d.message());
    void (answer.accept ? d.accept() : d.dismiss());
  });
  await browser.context.clearCookies();
  await page.goto(`${http.base}/ui/login`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForSelector(`tr[data-mac="${MAC}"]`);
  return { page, asked, answer };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
/** The texts of a row's cells, by column heading. */
async function row(page: Page, mac: string): Promise<Record<string, string>> {
  return page.evaluate((m) => {
    const heads = [...document.querySelectorAll('main table thead th')].map((th) => th.textContent ?? '');
    const cells = [...document.querySelectorAll(`tr[data-mac="${m}"] td`)].map((td) => td.textContent ?? '');
    return Object.fromEntries(heads.map((hd, i) => [hd, cells[i] ?? '']).filter(([hd]) => hd !== ''));
  }, mac);
}

test(
  'an inventory posted by the agent: hardware columns, a placeholder flagged, the discovered filter, the machine page tables',
  { skip, timeout: 90_000 },
  async () => {
    const { page, asked } = await loggedInPage();
    const line = await row(page, MAC);
    assert.equal(line['Vendor'], 'Acme');
    assert.equal(line['Model'], 'Roadrunner-9');
    assert.equal(line['Serial'], 'RR-0042');
    assert.equal(line['CPU'], '64 threads');
    assert.equal(line['Memory'], '128.00 GiB');
    assert.equal(line['Disks'], '2, 4.51 TiB');
    assert.equal(line['Switch port'], 'leaf-r2-a Ethernet12', 'the neighbour of the NIC whose link is up');
    assert.match(line['State']!, /discovered/);
    // The placeholder serial is flagged, with the server's reason; the machine never inspected has no hardware.
    const flag = `tr[data-mac="${OEM_MAC}"] .serial [data-flag]`;
    assert.equal(await page.getAttribute(flag, 'data-flag'), 'placeholder');
    assert.match((await page.getAttribute(flag, 'title')) ?? '', /placeholder serial/);
    assert.equal(await page.$(`tr[data-mac="${MAC}"] .serial [data-flag]`), null);
    assert.equal((await row(page, BARE_MAC))['Vendor'], '-');

    assert.equal(await page.textContent('.count[data-state="discovered"] b'), '2');
    await page.selectOption('#state-filter', 'discovered');
    await page.waitForSelector(`tr[data-mac="${BARE_MAC}"]`, { state: 'detached' });
    assert.deepEqual(await page.$$eval('tr[data-mac]', (trs) => trs.map((tr) => tr.getAttribute('data-mac')).sort()), [MAC, OEM_MAC]);
    await shot(page, 'machines-discovered');
    await page.selectOption('#state-filter', '');

    await page.click(`tr[data-mac="${MAC}"] td:nth-child(3)`);
    await page.waitForSelector('#inventory-disks');
    assert.deepEqual(await page.$$eval('#inventory-disks tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-disk'))), ['nvme0n1', 'sda']);
    const sda = (await page.textContent('#inventory-disks tr[data-disk="sda"]')) ?? '';
    for (const fact of ['4000787030016', 'Acme HDD 4T', 'HDD-S2', 'HDD', 'sata']) assert.ok(sda.includes(fact), `sda row has ${fact}: ${sda}`);
    const uplink = (await page.textContent('#inventory-nics tr[data-nic="52:54:00:ee:20:02"]')) ?? '';
    for (const fact of ['eno2', 'ice', '0000:3b:00.1', 'up', '25 Gb/s', 'leaf-r2-a', 'Ethernet12', 'rack2 u7'])
      assert.ok(uplink.includes(fact), `eno2 row has ${fact}: ${uplink}`);
    assert.equal(await page.textContent('#boot-mode'), 'UEFI');
    assert.match((await page.textContent('#memory-total')) ?? '', /137438953472 bytes/);
    const platform = (await page.textContent('#inventory-platform')) ?? '';
    assert.ok(platform.includes('10.0.1.107') && platform.includes('2 / 32 / 64'), platform);
    assert.match((await page.textContent('main')) ?? '', /firmware qed\/qed_init_values_zipped-8\.59\.1\.0\.bin: not in the agent/);
    assert.equal(await page.textContent('#identity-serial'), 'RR-0042');
    assert.equal(await page.getAttribute('#settings-from', 'data-source'), 'none', 'nothing gives a discovered machine settings');
    await shot(page, 'machine-inventory');
    assert.deepEqual(asked, [], 'reading asks nothing');
    await page.close();
    assert.deepEqual(errors.splice(0), [], 'no console error (CSP refusal, script error)');
  },
);

test('enrol from the Machines list and the machine page, a refusal shown, unenrol; the API says the same', { skip, timeout: 90_000 }, async () => {
  const { page, asked, answer } = await loggedInPage();
  await page.click(`tr[data-mac="${MAC}"] button.enrol`);
  await page.waitForSelector('#enrol-dialog[open] #enrol-form');
  await page.fill('#enrol-hostname', 'rack3-node1');
  await page.selectOption('#enrol-profile', PROFILE);
  await page.selectOption('#enrol-action', 'install');
  await page.check('#enrol-install');
  await page.click('#enrol-submit');
  await page.waitForSelector(`tr[data-mac="${MAC}"] button.unenrol`);
  assert.deepEqual(asked, [`Enrol ${MAC} as rack3-node1: install of ${PROFILE}, and arm its install now?`]);
  let node = await nodeJson(MAC);
  assert.deepEqual(
    { ...(node.enrolment as Record<string, unknown>), enrolledAt: typeof (node.enrolment as { enrolledAt: unknown }).enrolledAt },
    { hostname: 'rack3-node1', profile: PROFILE, action: 'install', bmc: null, enrolledAt: 'number', enrolledBy: 'admin' },
  );
  assert.equal(node.state, 'install-pending', 'install: true armed it');
  assert.equal(node.discovered, false);
  assert.doesNotMatch((await row(page, MAC))['State']!, /discovered/);

  await page.click(`tr[data-mac="${MAC}"] td:nth-child(3)`);
  await page.waitForSelector('#enrolment #unenrol');
  assert.match((await page.textContent('#enrolment')) ?? '', /rack3-node1/);
  assert.equal(await page.getAttribute('#settings-from', 'data-source'), 'enrolment');
  await page.click('#unenrol');
  await page.waitForSelector('#not-enrolled');
  assert.equal(asked.at(-1), 'Unenrol rack3-node1? Its settings then come from a [host] section or a rule, if any.');
  node = await nodeJson(MAC);
  assert.equal(node.enrolment, null);

  // Declined: nothing is sent. Refused by the server: its reason is shown, nothing changes.
  answer.accept = false;
  await page.fill('#enrol-hostname', 'rack3-node9');
  await page.selectOption('#enrol-profile', PROFILE);
  await page.click('#enrol-submit');
  assert.equal(asked.at(-1), `Enrol ${MAC} as rack3-node9: install of ${PROFILE}?`);
  answer.accept = true;
  await page.fill('#enrol-hostname', 'not a host name');
  await page.click('#enrol-submit');
  await page.waitForSelector('#problem:not([hidden])');
  assert.match((await page.textContent('#problem')) ?? '', /hostname must be a host name/);
  assert.equal((await nodeJson(MAC)).enrolment, null);

  // Enrolled from the machine page, with the action local (no install armed).
  await page.fill('#enrol-hostname', 'rack3-node1');
  await page.selectOption('#enrol-action', 'local');
  await page.click('#enrol-submit');
  await page.waitForSelector('#enrolment #unenrol');
  node = await nodeJson(MAC);
  assert.equal((node.enrolment as { action: string }).action, 'local');
  await shot(page, 'machine-enrolled');
  await page.close();
  assert.deepEqual(errors.splice(0), [], 'no console error (CSP refusal, script error)');
});
