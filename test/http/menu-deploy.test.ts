// Deploying a disk image from the boot menu, through a real socket and a real assets folder: the
// menu lists disk images as their own group; choosing one (confirmed) arms the deploy as
// `nodes reinstall MAC --profile P` does and serves the agent in deploy mode, with the reason in
// the event; the plan's fetch then consumes it. Every refusal is a 4xx that arms nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProfile } from '../../src/config/load.ts';
import { AGENT_RELEASE, deployAssets, GIB } from '../helpers/deploy-assets.ts';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { hostEntry } from '../helpers/profile.ts';
import { testInventory } from '../helpers/inventory.ts';

// AT_MENU: a stranger, so the menu; LOCAL: a [host] with action = local; SMALL_MENU: a rule gives it
// [menu small], which lists no disk image; NEVER: never booted from this server.
const AT_MENU = '52:54:00:dd:00:01';
const LOCAL = '52:54:00:dd:00:02';
const SMALL_MENU = '52:54:00:dd:00:03';
const OTHER = '52:54:00:dd:00:04';
const NEVER = '52:54:00:dd:00:05';
const LOOKER = '52:54:00:dd:00:06'; // a stranger that only looks at the menu

describe('deploying a disk image from the menu', () => {
  const root = mkdtempSync(join(tmpdir(), 'pxp-menu-deploy-'));
  let http: RunningHttp;

  before(async () => {
    await deployAssets(root); // the agent, and the disk image cloud/1 (40 GiB)
    mkdirSync(join(root, 'debian', '12'), { recursive: true });
    writeFileSync(join(root, 'debian', '12', 'vmlinuz'), 'k');
    writeFileSync(join(root, 'debian', '12', 'initrd'), 'i');
    http = await startHttp({ assets: { dir: root }, boot: { menuTimeout: 10, menuDefault: 'local' }, hosts: [hostEntry(LOCAL, { action: 'local' })] });
    const rules = parseProfile(
      '[server]\naddress = 127.0.0.1\n[rule small]\nproduct = Roadrunner-9\naction = menu\nmenu = small\n[menu small]\nentries = debian/*\n',
      '/etc/pxe-pilot/lab.ini',
      { offline: true },
    );
    http.profile.rules = rules.rules;
    http.profile.menus = rules.menus;
    const at = Date.now();
    await http.store.setInventory(AT_MENU, testInventory({ system: { product: 'Coyote-1' } }), `inspected-${at}`);
    await http.store.setInventory(SMALL_MENU, testInventory({ system: { product: 'Roadrunner-9' } }), `inspected-${at}`);
  });
  after(async () => {
    await http.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const boot = async (mac: string): Promise<string> => (await fetch(`${http.base}/boot?mac=${mac}&arch=x86_64&platform=efi`)).text();
  const pick = (mac: string, profile: string, extra = '&erase=yes&arch=x86_64'): Promise<Response> =>
    fetch(`${http.base}/install?mac=${mac.replace(/:/g, '-')}&profile=${encodeURIComponent(profile)}${extra}`);
  const tokenIn = (script: string): string => /pxe_pilot\.token=(\S+)/.exec(script)?.[1] ?? '';
  /** The node's state and armed profile: what a refusal must leave as it was. */
  const armedState = (mac: string): [string | undefined, string | null | undefined] => [http.store.getNode(mac)?.state, http.store.getNode(mac)?.profile];

  test('the menu lists the disk image as its own group, asks before deploying it, and never times out to it', async () => {
    const menu = await boot(LOOKER);
    assert.match(menu, /^item image0 Install Debian 12$/m);
    assert.match(menu, /^item --gap -- Deploy a disk image \(erases the disk\)\nitem disk0 Deploy cloud 1 \(40\.0 GiB\)$/m);
    assert.match(menu, new RegExp(`^menu This erases the disk of ${LOOKER}: deploy cloud/1\\?$`, 'm'));
    assert.deepEqual(
      [...menu.matchAll(/^choose --default (\S+) --timeout (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`),
      ['local 10000', 'top 30000'],
    );
    assert.doesNotMatch(menu, /^item [^-].*pxe-pilot-agent/m, 'the agent is no menu item');
  });

  test('a confirmed pick arms the deploy as nodes reinstall does and serves the agent in deploy mode; the plan consumes it', async () => {
    await boot(AT_MENU);
    assert.equal(http.store.getNode(AT_MENU)?.state, 'seen');
    const r = await pick(AT_MENU, 'cloud/1');
    assert.equal(r.status, 200);
    const script = await r.text();
    assert.match(script, new RegExp(`^kernel .*/pxe-pilot-agent/${AGENT_RELEASE}/vmlinuz .*pxe_pilot\\.mode=deploy`, 'm'));
    assert.match(script, /^echo pxe-pilot: .*deploy of cloud\/1 chosen from the menu at the console$/m);
    const node = http.store.getNode(AT_MENU)!;
    assert.deepEqual([node.state, node.profile, node.armedBy], ['install-pending', 'cloud/1', 'admin']);
    const event = http.store.events({ mac: AT_MENU }).at(-1)!;
    assert.equal(event.kind, 'GET /install');
    assert.equal(event.decision, 'deploy');
    assert.match(event.reason, /^deploy of cloud\/1 chosen from the menu at the console: the agent \(pxe-pilot-agent\/.*\) writes the disk image; armed as/);

    // The armed deploy is what any armed deploy is: a reboot now gets the agent in deploy mode again.
    // (Each boot of the agent is its own session: the token of this one fetches the plan.)
    const again = await boot(AT_MENU);
    assert.match(again, /pxe_pilot\.mode=deploy/);
    const plan = await fetch(`${http.base}/agent/${AT_MENU}/deploy`, { headers: { authorization: `Bearer ${tokenIn(again)}` } });
    assert.equal(plan.status, 200, await plan.clone().text());
    assert.equal(((await plan.json()) as { sizeBytes: number }).sizeBytes, 40 * GIB);
    assert.equal(http.store.getNode(AT_MENU)?.state, 'installing');
    assert.doesNotMatch(await boot(AT_MENU), /pxe_pilot\.mode=deploy/, 'consumed: the next boot is local');
  });

  test('a pick without the confirmation, or an installer or unknown image with it, is 400 and arms nothing', async () => {
    await boot(OTHER);
    const cases: [string, string, RegExp][] = [
      ['cloud/1', '&arch=x86_64', /deploying it erases the disk of 52:54:00:dd:00:04: the menu asks first, then sends erase=yes; nothing armed/],
      ['cloud/1', '&erase=no', /only erase=yes confirms a deploy/],
      [
        'debian/12',
        '&erase=yes',
        /debian\/12 chosen from the menu at the console with erase=yes, but it is not a disk image under .*: nothing to deploy, nothing armed/,
      ],
      ['nope/1', '&erase=yes', /nope\/1 chosen from the menu at the console with erase=yes, but it is not a disk image under /],
      ['not a name', '&erase=yes', /is not an install image name/],
    ];
    for (const [profile, extra, reason] of cases) {
      const r = await pick(OTHER, profile, extra);
      assert.equal(r.status, 400, `${profile}${extra}`);
      assert.match(await r.text(), reason);
      assert.deepEqual(armedState(OTHER), ['seen', null], `${profile}${extra} armed something`);
    }
    // The installer pick itself works as before, and consumes nothing.
    const install = await pick(OTHER, 'debian/12', '');
    assert.equal(install.status, 200);
    assert.match(await install.text(), /^kernel .*\/debian\/12\/vmlinuz/m);
    assert.deepEqual(armedState(OTHER), ['seen', null]);
  });

  test('a machine not at the menu, one whose [menu] does not list the image, or one never booted here: 409, nothing armed', async () => {
    await boot(LOCAL);
    const local = await pick(LOCAL, 'cloud/1');
    assert.equal(local.status, 409);
    assert.match(await local.text(), /is not at the menu now \(host 52:54:00:dd:00:02 has action=local\); nothing armed/);
    assert.deepEqual(armedState(LOCAL), ['seen', null]);

    const menu = await boot(SMALL_MENU);
    assert.match(menu, /^item image0 Install Debian 12$/m);
    assert.doesNotMatch(menu, /Deploy/, '[menu small] lists debian/* only');
    const small = await pick(SMALL_MENU, 'cloud/1');
    assert.equal(small.status, 409);
    assert.match(await small.text(), /\[menu small\] does not list it; nothing armed/);
    assert.deepEqual(armedState(SMALL_MENU), ['seen', null]);

    const never = await pick(NEVER, 'cloud/1');
    assert.equal(never.status, 409);
    assert.match(await never.text(), /has not booted from this server; nothing armed/);
    assert.equal(http.store.getNode(NEVER), undefined);
  });

  test('a pick from another address than the machine booted from is 409 and arms nothing', async () => {
    await boot(OTHER);
    const url = new URL(`${http.base}/install?mac=${OTHER}&profile=cloud%2F1&erase=yes`);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, { localAddress: '127.0.0.2' }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 409);
    assert.match(body, /the request came from 127\.0\.0\.2, not from 52:54:00:dd:00:04's own address \(127\.0\.0\.1\)/);
    assert.deepEqual(armedState(OTHER), ['seen', null]);
  });
});
