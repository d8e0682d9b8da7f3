// A deploy's progress on the dashboard, in a real browser (Debian's chromium, headless): a machine
// with action = deploy boots the agent (its session token from the boot script), fetches its plan
// and reports progress through the real agent routes; the Live page and the machine page draw it as
// a bar with the phase, bytes and rate, the next report moves it, and the result takes it away.
// GET /deploys is the read-out both pages poll.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';
import { CHROMIUM, openBrowser } from '../helpers/browser.ts';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { hostEntry } from '../helpers/profile.ts';
import { testInventory } from '../helpers/inventory.ts';
import { deployAssets, DISK_IMAGE, GIB } from '../helpers/deploy-assets.ts';

const skip = skipUnless([CHROMIUM]);
const artifacts = join(repoRoot, 'test-artifacts', 'dashboard');
const TOKEN = 'dashboard-deploy-token-0123456789ab';
const MAC = '52:54:00:ee:40:01';
const TOTAL = 40 * GIB;

let assets: string;
let http: RunningHttp;
let browser: { context: BrowserContext; close: () => Promise<void> };
let agentToken = '';
let digest = '';
const errors: string[] = [];

const asAgent = (body?: unknown): RequestInit => ({
  headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
  ...(body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }),
});
async function progress(phase: string, bytes: number, mbps: number): Promise<void> {
  const res = await fetch(`${http.base}/agent/${MAC}/progress`, asAgent({ phase, bytes, total: TOTAL, mbps }));
  assert.equal(res.status, 202, await res.text());
}
async function deploys(query = ''): Promise<{ status: number; body: { deploys?: { mac: string; phase: string; bytes: number }[]; error?: string } }> {
  const res = await fetch(`${http.base}/deploys${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, body: (await res.json()) as { deploys?: { mac: string; phase: string; bytes: number }[]; error?: string } };
}

before(async () => {
  if (skip) return;
  mkdirSync(artifacts, { recursive: true });
  assets = mkdtempSync(join(tmpdir(), 'pxe-dash-deploy-'));
  digest = (await deployAssets(assets)).sha256;
  http = await startHttp({
    http: { adminToken: TOKEN },
    assets: { dir: assets },
    hosts: [hostEntry(MAC, { hostname: 'web1', action: 'deploy', profile: DISK_IMAGE })],
  });
  await http.store.setInventory(MAC, testInventory(), 'inspected-before');
  // The boot hands out the agent in deploy mode with its session token; the plan consumes the install.
  const script = await (await fetch(`${http.base}/boot?mac=${MAC}&arch=x86_64&platform=efi`)).text();
  agentToken = /pxe_pilot\.token=(\S+)/.exec(script)?.[1] ?? '';
  assert.ok(agentToken, `no agent token in the boot script:\n${script}`);
  const plan = await fetch(`${http.base}/agent/${MAC}/deploy`, asAgent());
  assert.equal(plan.status, 200, await plan.text());
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
  await http?.stop();
  if (assets) rmSync(assets, { recursive: true, force: true });
});

async function loggedIn(path: string): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('console', (m) => void (m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text())));
  page.on('pageerror', (err) => errors.push(err.message));
  await browser.context.clearCookies();
  await page.goto(`${http.base}/ui/login`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.waitForSelector('#view table, #view p');
  await page.goto(`${http.base}/ui/${path}`);
  return page;
}

const barOf = (page: Page, root: string): Promise<number> =>
  page.$eval(`${root} tr[data-mac="${MAC}"] [role=progressbar]`, (el) => Number(el.getAttribute('aria-valuenow')));

test('GET /deploys: nothing before the first report; a bad mac is a 400', { skip }, async () => {
  assert.deepEqual((await deploys()).body, { deploys: [] });
  const bad = await deploys('?mac=not-a-mac');
  assert.equal(bad.status, 400);
  assert.match(bad.body.error ?? '', /is not a MAC address/);
});

test('a deploy under way: the Live page and the machine page draw its progress; the result takes it away', { skip, timeout: 90_000 }, async () => {
  await progress('download', 0.4 * TOTAL, 312.5);
  const read = await deploys(`?mac=${MAC}`);
  assert.equal(read.status, 200);
  assert.deepEqual(
    read.body.deploys?.map((d) => [d.mac, d.phase, d.bytes]),
    [[MAC, 'download', 0.4 * TOTAL]],
  );

  const live = await loggedIn('#/live');
  await live.waitForSelector(`#deploys tr[data-mac="${MAC}"]`, { timeout: 10_000 });
  assert.equal(await barOf(live, '#deploys'), 40);
  const cells = (await live.textContent(`#deploys tr[data-mac="${MAC}"]`)) ?? '';
  for (const fact of [DISK_IMAGE, 'download', '312.5 MB/s']) assert.ok(cells.includes(fact), `the row shows ${fact}: ${cells}`);
  await live.screenshot({ path: join(artifacts, 'live-deploy.png'), fullPage: true });

  const machine = await loggedIn(`#/machine/${encodeURIComponent(MAC)}`);
  await machine.waitForSelector(`#deploy-progress tr[data-mac="${MAC}"]`, { timeout: 10_000 });
  assert.equal(await barOf(machine, '#deploy-progress'), 40);

  // The next phase moves both bars without a reload (they poll).
  await progress('verify', TOTAL, 298.1);
  await live.waitForFunction((m) => document.querySelector(`#deploys tr[data-mac="${m}"] .phase`)?.textContent === 'verify', MAC, { timeout: 10_000 });
  assert.equal(await barOf(live, '#deploys'), 100);
  await machine.waitForFunction((m) => document.querySelector(`#deploy-progress tr[data-mac="${m}"] .phase`)?.textContent === 'verify', MAC, {
    timeout: 10_000,
  });
  await machine.screenshot({ path: join(artifacts, 'machine-deploy.png'), fullPage: true });

  const result = await fetch(`${http.base}/agent/${MAC}/deploy-result`, asAgent({ ok: true, sha256: digest, reason: 'written and verified' }));
  assert.equal(result.status, 200, await result.text());
  await live.waitForSelector(`#deploys tr[data-mac="${MAC}"]`, { state: 'detached', timeout: 10_000 });
  assert.match((await live.textContent('#deploys')) ?? '', /No deploy under way/);
  await machine.waitForSelector('#deploy', { state: 'hidden', timeout: 10_000 });
  assert.deepEqual((await deploys()).body, { deploys: [] });
  assert.deepEqual(errors, [], 'no script error or CSP refusal on the pages');
});
