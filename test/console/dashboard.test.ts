// The dashboard in a real browser (Debian's chromium, headless): login and logout, the live page,
// a re-arm from the machine page, refusals. Screenshots of each page go to test-artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startLoopbackDaemon, type LoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';
import { CHROMIUM, openBrowser } from '../helpers/browser.ts';
import { slowTftpDownload } from '../helpers/slow-tftp.ts';

const skip = skipUnless([CHROMIUM]);
const artifacts = join(repoRoot, 'test-artifacts', 'dashboard');
const MAC = '52:54:00:ee:00:01';
let daemon: LoopbackDaemon;
let browser: { context: BrowserContext; close: () => Promise<void> };

before(async () => {
  if (skip) return;
  mkdirSync(artifacts, { recursive: true });
  daemon = await startLoopbackDaemon({ hosts: `[host ${MAC}]\nhostname = rack1-node1\n` });
  await fetch(`${daemon.base}/boot?mac=${MAC}&platform=efi`);
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
  await daemon?.stop();
});

async function logIn(page: Page, token: string): Promise<void> {
  await browser.context.clearCookies();
  await page.goto(`${daemon.base}/ui/`);
  await page.waitForURL('**/ui/login');
  await page.fill('#token', token);
  await page.click('button[type=submit]');
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`) });

test('a page without a session redirects to login; a bad token is refused', { skip }, async () => {
  const page = await browser.context.newPage();
  await page.goto(`${daemon.base}/ui/`);
  assert.match(page.url(), /\/ui\/login$/);
  await shot(page, 'login');
  await logIn(page, 'wrong-token-wrong-token');
  assert.match((await page.textContent('.error')) ?? '', /Wrong token/);
  const api = await page.evaluate(async () => (await fetch('/nodes')).status);
  assert.equal(api, 401, 'no session was given');
  await page.close();
});

test('login, machines, re-arm from the machine page, logout', { skip }, async () => {
  const page = await browser.context.newPage();
  page.on('dialog', (d) => void d.accept());
  await logIn(page, daemon.token);
  await page.waitForSelector(`tr[data-mac="${MAC}"]`);
  assert.match((await page.textContent('.count[data-state="seen"] b')) ?? '', /^1$/);
  const cookies = await browser.context.cookies(daemon.base);
  const session = cookies.find((c) => c.name === 'pxe_pilot_session');
  assert.ok(session, 'a session cookie was set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(session.expires > Date.now() / 1000, 'the cookie expires');
  await shot(page, 'machines');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'machines-dark');
  await page.emulateMedia({ colorScheme: null });
  // The first page, everything it loads included, stays small (no framework, no CDN).
  const weight = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .reduce(
        (n, r) => n + (r as PerformanceResourceTiming).encodedBodySize,
        (performance.getEntriesByType('navigation')[0] as PerformanceResourceTiming).encodedBodySize,
      ),
  );
  assert.ok(weight > 0 && weight < 200 * 1024, `first page is ${weight} bytes`);
  assert.ok(
    !(await page.evaluate(() => performance.getEntriesByType('resource').some((r) => !r.name.startsWith(location.origin)))),
    'nothing comes from another origin',
  );

  await page.click(`tr[data-mac="${MAC}"]`);
  await page.waitForSelector('#rearm');
  await page.selectOption('#rearm-profile', 'proxmox-ve/9.1-1');
  await page.click('#rearm');
  await page.waitForSelector('.state-install-pending', { timeout: 10_000 }).catch(async (err: Error) => {
    await shot(page, 'machine-failed');
    throw new Error(`${err.message}; page says: ${await page.textContent('#problem')}`);
  });
  await shot(page, 'machine');
  const node = (await (await fetch(`${daemon.base}/nodes/${MAC}`, { headers: { authorization: `Bearer ${daemon.token}` } })).json()) as {
    state: string;
    profile: string;
  };
  assert.equal(node.state, 'install-pending');
  assert.equal(node.profile, 'proxmox-ve/9.1-1');

  // A change without the CSRF header is refused even with the session cookie.
  const forged = await page.evaluate(async (mac) => (await fetch(`/nodes/${mac}/reinstall`, { method: 'DELETE' })).status, MAC);
  assert.equal(forged, 403);

  // The Images page says, as `assets ls` does, whether each image matches its manifest.
  await page.click('nav a[data-page="images"]');
  await page.waitForSelector('main table');
  assert.deepEqual(await page.$$eval('main table thead th', (ths) => ths.map((th) => th.textContent)), ['Profile', 'Verified', 'Kernel', 'Initrds', 'Used by']);
  assert.equal(await page.textContent('main table tbody tr:first-child td:nth-child(2)'), 'unverified', 'the lab image has no image.json');

  for (const [name, selector] of [
    ['images', 'table'],
    ['leases', 'h1'],
    ['health', 'table'],
  ] as const) {
    await page.click(`nav a[data-page="${name}"]`);
    await page.waitForSelector(`main ${selector}`);
    await shot(page, name);
  }

  await page.click('#logout');
  await page.waitForURL('**/ui/login');
  await page.goto(`${daemon.base}/ui/`);
  assert.match(page.url(), /\/ui\/login$/, 'after logout the session is gone');
  await page.close();
});

test('live: a /boot request appears at once; a TFTP download shows progress, then completes', { skip }, async () => {
  const page = await browser.context.newPage();
  await logIn(page, daemon.token);
  await page.waitForSelector('#view table, #view p');
  await page.click('nav a[data-page="live"]');
  await page.waitForFunction(() => document.getElementById('stream-state')?.textContent === 'connected');

  const mac = '52:54:00:ee:00:77';
  await fetch(`${daemon.base}/boot?mac=${mac}`);
  // Pushed, not polled: it shows without a reload (a bound for a loaded CI machine, not a speed test).
  await page.waitForSelector(`#live-events li:has-text("${mac}")`, { timeout: 5000 });

  const download = slowTftpDownload(daemon.tftpPort, 'ipxe.efi', 20);
  await page.waitForSelector('#transfers tr[data-file="ipxe.efi"]', { timeout: 10_000 });
  await page.waitForFunction(() => {
    const bar = document.querySelector('#transfers tr[data-file="ipxe.efi"] [role=progressbar]');
    const v = Number(bar?.getAttribute('aria-valuenow'));
    return v > 0 && v < 100;
  });
  await shot(page, 'live');
  assert.equal(await download.done, 64 * 1024);
  await page.waitForSelector('#transfers tr[data-file="ipxe.efi"]', { state: 'detached', timeout: 10_000 });
  await page.waitForSelector('#live-events li:has-text("RRQ ipxe.efi"):has-text("served")', { timeout: 5000 });
  await page.close();
});
