// "Reinstall now" from the dashboard in a real browser (Debian's chromium, headless), against the
// real daemon and the Redfish test double: from the machine page and for a selection on the
// Machines list, each only after a confirmation that names the machines (and how many), the steps
// shown as they happen, a BMC that never answers shown failed and its install disarmed.
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
const MAC = '52:54:00:ee:40:01';
const HANGING_MAC = '52:54:00:ee:40:02';
const PROFILE = 'proxmox-ve/9.1-1';

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
  hanging = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  const hangingPort = (hanging.address() as { port: number }).port;
  power = await startPowerDaemon({
    power: ['timeout_seconds = 3', 'poll_seconds = 0'],
    credentials: [
      [`127.0.0.1:${redfish.port}`, redfish.user, redfish.password],
      [`127.0.0.1:${hangingPort}`, 'root', 'hanging-pw-3b7a-reinstall'],
    ],
    hosts: [
      `[host ${MAC}]`,
      'hostname = rack4-node1',
      `bmc = redfish://127.0.0.1:${redfish.port}`,
      `bmc_tls_fingerprint = ${redfish.fingerprint}`,
      `[host ${HANGING_MAC}]`,
      'hostname = rack4-node2',
      `bmc = redfish+http://127.0.0.1:${hangingPort}`,
    ].join('\n'),
  });
  for (const mac of [MAC, HANGING_MAC]) await (await fetch(`${power.daemon.base}/boot?mac=${mac}&platform=efi`)).arrayBuffer();
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
  await power?.stop();
  for (const s of sockets) s.destroy();
  hanging?.close();
  await redfish?.stop();
});

/** Every answer any page got, to grep for the BMC passwords. */
const bodies: string[] = [];
const PASSWORDS = () => [redfish.password, 'hanging-pw-3b7a-reinstall'];

async function loggedInPage(): Promise<{ page: Page; asked: string[]; answer: { accept: boolean } }> {
  const page = await browser.context.newPage();
  page.on('response', (r) => {
    void r.text().then(
      (t) => bodies.push(t),
      () => undefined,
    );
  });
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
  await page.goto(`${power.daemon.base}/ui/login`);
  await page.fill('#token', power.daemon.token);
  await page.click('button[type=submit]');
  await page.waitForSelector(`tr[data-mac="${MAC}"]`);
  return { page, asked, answer };
}

const stateOf = async (mac: string) => (await power.api('GET', `/nodes/${mac}`)).json.state;

test('reinstall now from the machine page: confirmed, then armed, next boot from the network, powered; steps shown', { skip, timeout: 90_000 }, async () => {
  const { page, asked } = await loggedInPage();
  await page.click(`tr[data-mac="${MAC}"] td:nth-child(4)`);
  await page.waitForSelector('#reinstall-now:not([disabled])');
  await page.selectOption('#rearm-profile', PROFILE);
  await page.click('#reinstall-now');
  assert.equal(asked.at(-1), `Reinstall rack4-node1 now with ${PROFILE}? It is armed, set to boot from the network once, and power-cycled.`);
  await page.waitForSelector(`#reinstall-progress li[data-mac="${MAC}"][data-state="done"]`, { timeout: 20_000 });
  assert.match((await page.textContent(`#reinstall-progress li[data-mac="${MAC}"]`)) ?? '', /network.*→.*power/i);
  assert.deepEqual(redfish.state.boot, { enabled: 'Once', target: 'Pxe', mode: 'UEFI' });
  assert.equal(redfish.state.power, 'On');
  assert.equal(await stateOf(MAC), 'install-pending');
  await page.screenshot({ path: join(artifacts, 'machine-reinstall-now.png'), fullPage: true });
  await page.close();
  assert.deepEqual(errors.splice(0), [], 'no console error (CSP refusal, script error)');
});

test(
  'reinstall now for a selection: one confirmation naming how many; declined sends nothing; a dead BMC fails and disarms',
  { skip, timeout: 90_000 },
  async () => {
    const { page, asked, answer } = await loggedInPage();
    assert.equal(await page.isDisabled('#reinstall-selected'), true, 'nothing selected');
    const resetsBefore = redfish.state.resets.length;
    await page.check(`tr[data-mac="${MAC}"] input.pick`);
    assert.equal(await page.textContent('#reinstall-selected'), 'Reinstall now (1)');
    answer.accept = false;
    await page.click('#reinstall-selected');
    assert.match(asked.at(-1) ?? '', /^Reinstall 1 machine now \(rack4-node1\)\?/);
    assert.equal(redfish.state.resets.length, resetsBefore, 'declined: nothing sent');

    answer.accept = true;
    await page.check(`tr[data-mac="${HANGING_MAC}"] input.pick`);
    assert.equal(await page.textContent('#reinstall-selected'), 'Reinstall now (2)');
    await page.click('#reinstall-selected');
    assert.match(
      asked.at(-1) ?? '',
      /^Reinstall 2 machines now \(rack4-node\d, rack4-node\d\)\? Each is armed, set to boot from the network once, and power-cycled\.$/,
    );
    await page.waitForSelector(`#reinstall-result li[data-mac="${MAC}"][data-state="done"]`, { timeout: 20_000 });
    await page.waitForSelector(`#reinstall-result li[data-mac="${HANGING_MAC}"][data-state="failed"]`, { timeout: 20_000 });
    assert.match((await page.textContent(`#reinstall-result li[data-mac="${HANGING_MAC}"]`)) ?? '', /unreachable/);
    assert.ok(redfish.state.resets.length > resetsBefore, 'the machine with a working BMC was powered');
    assert.notEqual(await stateOf(HANGING_MAC), 'install-pending', 'the install the dead BMC could not start is not left armed');
    assert.equal(await page.textContent('#reinstall-selected'), 'Reinstall now (0)', 'the selection is cleared');
    // Once the power steps are over, the list is drawn again: the disarmed machine is back to seen, its BMC unreachable.
    // The power state comes from the failed call's record, which may land a redraw after the state.
    await page
      .waitForFunction(
        (mac) =>
          document.querySelector(`tr[data-mac="${mac}"] .state`)?.textContent === 'seen' &&
          document.querySelector(`tr[data-mac="${mac}"] .power-cell`)?.textContent === 'unreachable',
        HANGING_MAC,
        { timeout: 20_000 },
      )
      .catch(() => undefined);
    assert.equal(await page.textContent(`tr[data-mac="${HANGING_MAC}"] .state`), 'seen');
    assert.equal(await page.textContent(`tr[data-mac="${HANGING_MAC}"] .power-cell`), 'unreachable');
    assert.ok(await page.$(`#reinstall-result li[data-mac="${HANGING_MAC}"][data-state="failed"]`), 'the steps stay shown');
    await page.screenshot({ path: join(artifacts, 'machines-reinstall-now.png'), fullPage: true });
    for (const body of [...bodies, await page.content()])
      for (const secret of PASSWORDS()) assert.ok(!body.includes(secret), 'a BMC password reached the page');
    await page.close();
    assert.deepEqual(errors.splice(0), [], 'no console error (CSP refusal, script error)');
  },
);
