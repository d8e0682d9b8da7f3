// The dashboard's power in a real browser (Debian's chromium, headless), against the real daemon
// and the Redfish test double: the state in the Machines list and on the machine page, status
// without a confirmation, on/off/cycle/reset each only after one, a declined one changing nothing,
// a BMC that never answers shown as "BMC unreachable since …", and no password anywhere the page got.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';
import { CHROMIUM, openBrowser } from '../helpers/browser.ts';
import { startRedfishDouble, type RedfishDouble } from '../helpers/redfish-double.ts';
import { startPowerDaemon, type PowerDaemon } from '../helpers/power-daemon.ts';

const skip = skipUnless([CHROMIUM, 'openssl']);
const artifacts = join(repoRoot, 'test-artifacts', 'dashboard');
const MAC = '52:54:00:ee:10:01';
const HANGING_MAC = '52:54:00:ee:10:02';
const NO_BMC_MAC = '52:54:00:ee:10:03';
const HANGING_PASSWORD = 'hanging-pw-5e1d-dashboard';

let redfish: RedfishDouble;
let hanging: Server;
const sockets: Socket[] = [];
let power: PowerDaemon;
let browser: { context: BrowserContext; close: () => Promise<void> };
/** Console errors and uncaught exceptions of every page (each test checks its own). */
const errors: string[] = [];

before(async () => {
  if (skip) return;
  mkdirSync(artifacts, { recursive: true });
  redfish = await startRedfishDouble();
  // Accepts the TCP connection, then never says a word.
  hanging = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  const hangingPort = (hanging.address() as { port: number }).port;
  power = await startPowerDaemon({
    power: ['timeout_seconds = 3', 'poll_seconds = 0'],
    credentials: [
      [`127.0.0.1:${redfish.port}`, redfish.user, redfish.password],
      [`127.0.0.1:${hangingPort}`, 'root', HANGING_PASSWORD],
    ],
    hosts: [
      `[host ${MAC}]`,
      'hostname = rack2-node1',
      `bmc = redfish://127.0.0.1:${redfish.port}`,
      `bmc_tls_fingerprint = ${redfish.fingerprint}`,
      `[host ${HANGING_MAC}]`,
      'hostname = rack2-node2',
      `bmc = redfish+http://127.0.0.1:${hangingPort}`,
    ].join('\n'),
  });
  for (const mac of [MAC, HANGING_MAC, NO_BMC_MAC]) await fetch(`${power.daemon.base}/boot?mac=${mac}&platform=efi`);
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
  await power?.stop();
  for (const s of sockets) s.destroy();
  hanging?.close();
  await redfish?.stop();
});

/** A logged-in page that answers confirmations as `answer.accept` says, and keeps what it was asked and every API answer it got. */
async function loggedInPage(): Promise<{ page: Page; asked: string[]; answer: { accept: boolean }; bodies: string[] }> {
  const page = await browser.context.newPage();
  const asked: string[] = [];
  const answer = { accept: true };
  const bodies: string[] = [];
  // A CSP refusal or a script error shows in the console: none is allowed.
  page.on('console', (m) => void (m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text())));
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('dialog', (d) => {
    asked.push(d.message());
    void (answer.accept ? d.accept() : d.dismiss());
  });
  page.on('response', (r) => {
    void r.text().then(
      (t) => bodies.push(t),
      () => undefined,
    );
  });
  await browser.context.clearCookies();
  await page.goto(`${power.daemon.base}/ui/login`);
  await page.fill('#token', power.daemon.token);
  await page.click('button[type=submit]');
  await page.waitForSelector(`tr[data-mac="${MAC}"]`);
  return { page, asked, answer, bodies };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const powerState = (page: Page) => page.textContent('#power-state');
/** Waits until the element's whole text is `text`. */
const waitText = (page: Page, selector: string, text: string) =>
  page.waitForFunction(([sel, want]) => document.querySelector(sel)?.textContent === want, [selector, text] as const);

test(
  'machine page: power status without a confirmation, on/off/cycle/reset each after one; a declined one does nothing',
  { skip, timeout: 120_000 },
  async () => {
    const { page, asked, answer, bodies } = await loggedInPage();
    // Never polled yet (poll_seconds = 0): the list says so, it does not ask the BMC.
    assert.equal(await page.textContent(`tr[data-mac="${MAC}"] .power-cell`), 'unknown');
    assert.equal(await page.textContent(`tr[data-mac="${NO_BMC_MAC}"] .power-cell`), 'no BMC');

    await page.click(`tr[data-mac="${MAC}"]`);
    // Not read yet: the page reads it once, by itself, without asking anyone.
    await waitText(page, '#power-state', 'off');
    assert.deepEqual(asked, [], 'reading the state asks nothing');
    await page.click('#power-status');
    await page.waitForSelector('#power-message:text-matches("power is off")');
    assert.deepEqual(asked, [], 'status asks nothing');

    await page.click('#power-on');
    await waitText(page, '#power-state', 'on');
    assert.deepEqual(asked, ['Power on rack2-node1?']);
    assert.equal(redfish.state.power, 'On');

    answer.accept = false;
    await page.click('#power-off');
    assert.equal(asked.at(-1), 'Power off rack2-node1?');
    assert.equal(await powerState(page), 'on', 'declined: nothing sent');
    assert.equal(redfish.state.power, 'On');
    assert.deepEqual(redfish.state.resets, ['On']);

    answer.accept = true;
    await page.click('#power-off');
    await waitText(page, '#power-state', 'off');
    await page.click('#power-cycle');
    await page.waitForSelector('#power-message:text-matches("power on \\\\(it was off\\\\); power is on")');
    await page.click('#power-reset');
    await page.waitForSelector('#power-message:text-matches("^power reset; power is on$")');
    assert.deepEqual(asked.slice(-3), ['Power off rack2-node1?', 'Power cycle rack2-node1?', 'Power reset rack2-node1?']);
    assert.deepEqual(redfish.state.resets, ['On', 'ForceOff', 'On', 'ForceRestart']);
    await shot(page, 'machine-power');

    // The list shows what is known now, still without asking the BMC.
    await page.click('nav a[data-page="machines"]');
    await waitText(page, `tr[data-mac="${MAC}"] .power-cell`, 'on');
    for (const body of [...bodies, await page.content()]) assert.ok(!body.includes(redfish.password), 'the BMC password reached the page');
    await page.close();
    assert.deepEqual(errors.splice(0), [], 'no console error (CSP refusal, script error)');
  },
);

test('a BMC that never answers: "BMC unreachable since …" on the machine page and in the list, within the timeout', { skip, timeout: 60_000 }, async () => {
  const { page, asked, bodies } = await loggedInPage();
  await page.click(`tr[data-mac="${HANGING_MAC}"]`);
  const started = Date.now();
  await page.waitForSelector('#power-error', { timeout: 10_000 });
  assert.ok(Date.now() - started < 8000, `shown after ${Date.now() - started} ms`);
  assert.match((await page.textContent('#power-error')) ?? '', /^BMC unreachable since \d{4}-\d\d-\d\dT/);
  assert.equal(await powerState(page), 'unknown');
  assert.deepEqual(asked, []);
  // The machine without a BMC says how to name one, and offers no power action.
  await page.goto(`${power.daemon.base}/ui/#/machine/${NO_BMC_MAC}`);
  await page.waitForSelector('#power p:text-matches("No BMC")');
  assert.equal(await page.$('#power-on'), null);
  assert.equal(await page.isDisabled('#reinstall-now'), true, 'reinstall now needs a BMC');

  await page.goto(`${power.daemon.base}/ui/#/machines`);
  await waitText(page, `tr[data-mac="${HANGING_MAC}"] .power-cell`, 'unreachable');
  const title = await page.getAttribute(`tr[data-mac="${HANGING_MAC}"] .power-cell span`, 'title');
  assert.match(title ?? '', /^BMC unreachable since /);
  await shot(page, 'machines-power');
  for (const body of [...bodies, await page.content()]) assert.ok(!body.includes(HANGING_PASSWORD), 'the BMC password reached the page');
  await page.close();
  assert.deepEqual(errors.splice(0), [], 'no console error (CSP refusal, script error)');
});
