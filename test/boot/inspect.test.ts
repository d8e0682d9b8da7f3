// The inspect action end to end through the one boot resolution: [boot] unknown = inspect,
// action = inspect, inspect_first, [boot] after_inspect, the agent's next step, menus per
// hardware and rules that arm an install; rendered for iPXE and for GRUB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstallImage } from '../../src/boot/catalogue.ts';
import type { ClientDescription } from '../../src/boot/client.ts';
import type { BootPorts, ImageCatalogue } from '../../src/boot/ports.ts';
import { resolveBoot, type BootOutcome, type BootRequest } from '../../src/boot/resolve.ts';
import { agentNext } from '../../src/boot/agent-next.ts';
import { decideBootFile } from '../../src/boot/policy.ts';
import { renderInspectScript } from '../../src/boot/ipxe.ts';
import { renderGrubInspect } from '../../src/boot/grub.ts';
import { parseProfile } from '../../src/config/load.ts';
import type { Profile } from '../../src/config/profile.ts';
import { machineGrubConfig } from '../../src/tftp/grub-config.ts';
import { signedChainFor } from '../../src/boot/loaders.ts';
import { OverlayNodes } from '../helpers/overlay-ports.ts';
import { testInventory } from '../helpers/inventory.ts';

const MAC = '52:54:00:1a:00:01';
const AGENT = 'pxe-pilot-agent/6.1.0-57-amd64';

function image(profile: string, integrity: InstallImage['integrity'] = 'verified', integrityProblem?: string): InstallImage {
  const [product, version] = profile.split('/') as [string, string];
  return {
    profile,
    product,
    version,
    kernel: `${profile}/vmlinuz`,
    initrds: [`${profile}/initrd`],
    cmdline: null,
    integrity,
    ...(integrityProblem ? { integrityProblem } : {}),
  };
}

function catalogueOf(images: InstallImage[]): ImageCatalogue {
  return {
    images: () => images.filter((i) => i.integrity !== 'changed'),
    all: () => images,
    find: (_dir, profile) => images.find((i) => i.profile === profile),
    invalidate: () => {},
  };
}

const IMAGES = [
  image('pxe-pilot-agent/6.1.0-50-amd64'),
  image(AGENT),
  image('pxe-pilot-agent/6.1.0-57-arm64'),
  image('debian/12'),
  image('ubuntu-server/24.04'),
  image('proxmox-ve/9.1-1'),
];

function profileOf(body: string): Profile {
  const p = parseProfile(`[server]\naddress = 127.0.0.1\n[https]\nenabled = false\n${body}`, '/etc/pxe-pilot/lab.ini', { offline: true });
  return p;
}

function request(mac = MAC, client: Partial<ClientDescription> = {}): BootRequest {
  return {
    client: { mac, ip: '10.0.0.50', firmware: 'uefi', isIpxe: true, platform: 'efi', ...client },
    event: { protocol: 'http', kind: 'GET /boot', detail: { ip: '10.0.0.50' } },
  };
}

function tagged<T extends BootOutcome['tag']>(outcome: BootOutcome, tag: T): Extract<BootOutcome, { tag: T }> {
  assert.equal(outcome.tag, tag, `expected ${tag}: ${outcome.reason}`);
  return outcome as Extract<BootOutcome, { tag: T }>;
}

function lab(body: string, images = IMAGES) {
  const nodes = new OverlayNodes();
  const profile = profileOf(body);
  const catalogue = catalogueOf(images);
  const resolve = (mac = MAC, replace: Partial<BootPorts> = {}, client: Partial<ClientDescription> = {}) =>
    resolveBoot(request(mac, client), profile, nodes.ports(replace), catalogue);
  const report = (mac = MAC, at = Date.now(), inventory = testInventory()) =>
    nodes.inventories.set(mac, { document: inventory, reportedAt: at, session: `s-${at}` });
  const next = (mac = MAC) => agentNext(mac, nodes.getNode(mac), profile);
  return { nodes, profile, catalogue, resolve, report, next };
}

test('[boot] unknown = inspect boots the newest agent with its URL and a session token minted for this boot, in iPXE and GRUB', async () => {
  const { nodes, resolve, profile } = lab('[boot]\nunknown = inspect\n');
  const inspect = tagged(await resolve(), 'inspect');
  assert.equal(inspect.image.profile, AGENT, 'the newest amd64 build, not the older one nor the arm64 one');
  const { token } = nodes.sessions.minted.at(-1)!;
  assert.equal(inspect.cmdline, `pxe_pilot.url=http://127.0.0.1 pxe_pilot.token=${token} BOOTIF=01-52-54-00-1a-00-01`);
  assert.ok(nodes.sessions.check(MAC, token).ok);
  assert.match(
    inspect.reason,
    /52:54:00:1a:00:01 has no \[host\] section and no enrolment; \[boot\] unknown = inspect: it has not been inspected; booting the inspection agent/,
  );
  const event = nodes.store.events({ mac: MAC }).at(-1)!;
  assert.equal(event.decision, 'inspect');
  assert.match(event.reason, /pxe-pilot-agent\/6\.1\.0-57-amd64/);

  const ipxe = renderInspectScript(inspect.image, 'http://127.0.0.1/assets', inspect.cmdline, inspect.reason);
  assert.match(
    ipxe,
    new RegExp(
      `^kernel http://127\\.0\\.0\\.1/assets/pxe-pilot-agent/6\\.1\\.0-57-amd64/vmlinuz initrd=initrd pxe_pilot\\.url=http://127\\.0\\.0\\.1 pxe_pilot\\.token=${token} BOOTIF=01-52-54-00-1a-00-01 \\|\\| goto failed$`,
      'm',
    ),
  );
  assert.match(ipxe, /^initrd --name initrd http:\/\/127\.0\.0\.1\/assets\/pxe-pilot-agent\/6\.1\.0-57-amd64\/initrd \|\| goto failed$/m);

  // GRUB (shim → GRUB → Debian's signed kernel under Secure Boot): the same resolution over TFTP.
  const chain = signedChainFor(7)!;
  const grub = await machineGrubConfig(
    { mac: '52:54:00:1a:00:02', ip: '10.0.0.51', file: 'grub/pxe-pilot/x.cfg', chain },
    profile,
    nodes.ports(),
    catalogueOf(IMAGES),
  );
  const grubToken = nodes.sessions.minted.at(-1)!.token;
  assert.notEqual(grubToken, token, 'a session per boot');
  assert.match(
    grub,
    new RegExp(
      `^linux '\\(tftp,127\\.0\\.0\\.1\\)/assets/pxe-pilot-agent/6\\.1\\.0-57-amd64/vmlinuz' 'pxe_pilot\\.url=http://127\\.0\\.0\\.1' 'pxe_pilot\\.token=${grubToken}' 'BOOTIF=01-52-54-00-1a-00-02'$`,
      'm',
    ),
  );
  assert.match(grub, /^initrd '\(tftp,127\.0\.0\.1\)\/assets\/pxe-pilot-agent\/6\.1\.0-57-amd64\/initrd'$/m);
  assert.equal(renderGrubInspect(inspect.image, '127.0.0.1', inspect.cmdline, 'r').includes('boot'), true);
  nodes.close();
});

test('an ARM64 machine gets the arm64 agent; no agent, a changed one or one without a manifest is an error with the reason', async () => {
  const ok = lab('[boot]\nunknown = inspect\n');
  assert.equal(tagged(await ok.resolve(MAC, {}, { arch: 11 }), 'inspect').image.profile, 'pxe-pilot-agent/6.1.0-57-arm64');
  ok.nodes.close();

  const none = lab('[boot]\nunknown = inspect\n', [image('debian/12')]);
  assert.match(
    tagged(await none.resolve(), 'error').reason,
    /no inspection agent for amd64 under \/var\/lib\/pxe-pilot\/assets\/pxe-pilot-agent: run pxe-pilot agent build$/,
  );
  assert.equal(none.nodes.sessions.minted.length, 0, 'no session for a boot that cannot happen');
  none.nodes.close();

  const changed = lab('[boot]\nunknown = inspect\n', [image(AGENT, 'changed', 'initrd changed since it was added (size 7 → 9)')]);
  assert.match(
    tagged(await changed.resolve(), 'error').reason,
    /the inspection agent pxe-pilot-agent\/6\.1\.0-57-amd64 is not offered: initrd changed since it was added \(size 7 → 9\); rebuild it with pxe-pilot agent build --force/,
  );
  changed.nodes.close();

  const bare = lab('[boot]\nunknown = inspect\n', [image(AGENT, 'unverified')]);
  assert.match(tagged(await bare.resolve(), 'error').reason, /has no manifest \(SHA256SUMS, image\.json\)/);
  bare.nodes.close();

  const noSessions = lab('[boot]\nunknown = inspect\n');
  assert.match(tagged(await noSessions.resolve(MAC, { mint: undefined, check: undefined }), 'error').reason, /keeps no agent sessions/);
  noSessions.nodes.close();
});

test('after_inspect = poweroff (the default): the agent powers off, and the next boot is local, never a second inspection', async () => {
  const { resolve, report, next, nodes } = lab('[boot]\nunknown = inspect\n');
  tagged(await resolve(), 'inspect');
  assert.equal(next().next, 'wait', 'asked before it posted: wait');
  report(MAC, Date.parse('2026-12-07T05:00:00Z'));
  assert.deepEqual(next(), { next: 'poweroff', reason: 'inspected at 2026-12-07T05:00:00Z; [boot] after_inspect = poweroff', pollSeconds: 5 });
  const local = tagged(await resolve(), 'local');
  assert.match(
    local.reason,
    /inspected at 2026-12-07T05:00:00Z; \[boot\] after_inspect = poweroff \(it powered off after reporting; enrol it or add a \[rule\]/,
  );
  nodes.close();
});

test('action = inspect with after_inspect = local: the agent reboots, and the next boot is local with the reason', async () => {
  const { resolve, report, next, nodes } = lab(`[boot]\nafter_inspect = local\n[host ${MAC}]\naction = inspect\n`);
  tagged(await resolve(), 'inspect');
  report(MAC, Date.parse('2026-12-07T05:01:00Z'));
  assert.equal(next().next, 'reboot');
  assert.match(next().reason, /after_inspect = local: its next boot is from its local disk/);
  const local = tagged(await resolve(), 'local');
  assert.equal(local.reason, `host ${MAC} has action=inspect; inspected at 2026-12-07T05:01:00Z; [boot] after_inspect = local`);
  nodes.close();
});

test('after_inspect = wait: the agent waits until an enrolment (or a rule, or an arm) gives the machine something, then reboots into it', async () => {
  const { resolve, report, next, nodes } = lab('[boot]\nunknown = inspect\nafter_inspect = wait\n');
  tagged(await resolve(), 'inspect');
  report(MAC, Date.parse('2026-12-07T05:02:00Z'));
  const waiting = next();
  assert.equal(waiting.next, 'wait');
  assert.match(waiting.reason, /waiting for an enrolment, a \[rule\] or an install arm/);
  nodes.enrolments.set(MAC, {
    hostname: 'web1',
    profile: 'debian/12',
    action: 'local',
    bmc: null,
    enrolledAt: Date.parse('2026-12-07T05:03:00Z'),
    enrolledBy: 'admin',
  });
  const rebooting = next();
  assert.equal(rebooting.next, 'reboot');
  assert.match(rebooting.reason, /enrolled by admin at 2026-12-07T05:03:00Z gives it settings now \(local\)/);
  nodes.close();
});

test('an enrolment asking for an inspection inspects once more when the inventory is older than the enrolment', async () => {
  const { resolve, report, nodes } = lab('');
  report(MAC, Date.parse('2026-12-07T04:00:00Z'));
  nodes.enrolments.set(MAC, {
    hostname: null,
    profile: null,
    action: 'inspect',
    bmc: null,
    enrolledAt: Date.parse('2026-12-07T05:00:00Z'),
    enrolledBy: 'admin',
  });
  assert.match(tagged(await resolve(), 'inspect').reason, /its inventory of 2026-12-07T04:00:00Z is older than the request/);
  report(MAC, Date.parse('2026-12-07T05:05:00Z'));
  tagged(await resolve(), 'local');
  nodes.close();
});

test('inspect_first: an armed install is inspected first, then goes straight on to the install whatever after_inspect says', async () => {
  const { resolve, report, next, nodes } = lab(`[host ${MAC}]\naction = install\nprofile = debian/12\ninspect_first = true\n`);
  const first = tagged(await resolve(), 'inspect');
  assert.match(first.reason, /profile debian\/12, inspect_first = true: it has not been inspected; inspecting, then installing/);
  assert.equal(nodes.getNode(MAC)?.state, 'install-pending', 'inspecting consumes nothing');
  report(MAC, Date.now() + 1000);
  const after = next();
  assert.equal(after.next, 'reboot', 'after_inspect = poweroff does not apply to an armed install');
  assert.match(after.reason, /rebooting into the install now, whatever \[boot\] after_inspect says/);
  const install = tagged(await resolve(), 'install');
  assert.equal(install.image.profile, 'debian/12');
  nodes.close();
});

test('an inventory older than the arm is inspected again before the install', async () => {
  const { resolve, report, nodes } = lab(`[host ${MAC}]\naction = install\nprofile = debian/12\ninspect_first = true\n`);
  report(MAC, Date.parse('2020-01-01T00:00:00Z'));
  assert.match(tagged(await resolve(), 'inspect').reason, /its inventory of 2020-01-01T00:00:00Z is older than the arm/);
  nodes.close();
});

test('a rule by hardware arms the install of an inspected machine, names its host, and a [menu] shows only its entries', async () => {
  const rules = `
[rule gpu]
product = Roadrunner-9
action = menu
menu = gpu
[rule acme]
vendor = Acme
action = install
profile = debian/12
hostname = {{system.product_short}}-{{system.serial}}
[menu gpu]
entries = ubuntu-server/*, debian/12
default = debian/12
`;
  const { resolve, report, nodes } = lab(rules);
  nodes.store.sawNode(MAC, {}, false);
  report(MAC);
  const menu = tagged(await resolve(), 'menu');
  assert.deepEqual(
    menu.images.map((i) => i.profile),
    ['debian/12', 'ubuntu-server/24.04'],
  );
  assert.equal(menu.menu?.default, 'debian/12');
  assert.match(menu.reason, /\[rule gpu\] matches: product "Roadrunner-9" matches Roadrunner-9.*; \[menu gpu\]$/);

  const other = '52:54:00:1a:00:09';
  tagged(await resolve(other), 'menu'); // its first boot, before it was inspected
  report(other, Date.now(), testInventory({ system: { product: 'Coyote-1', serial: 'C-7' } }));
  const install = tagged(await resolve(other), 'install');
  assert.equal(install.image.profile, 'debian/12');
  assert.equal(install.vars.hostname, 'coyote-1-c-7');
  assert.match(install.reason, /\[rule acme\] matches: vendor "Acme" matches Acme/);

  const stranger = tagged(await resolve('52:54:00:1a:00:0a'), 'menu');
  assert.deepEqual(
    stranger.images.map((i) => i.profile).sort(),
    ['debian/12', 'proxmox-ve/9.1-1', 'ubuntu-server/24.04'],
    'everyone else sees the default menu, and never the agent',
  );
  nodes.close();
});

test('an enrolment with action = install does not arm by itself: the menu says how to arm it', async () => {
  const { resolve, report, nodes } = lab('');
  nodes.store.sawNode(MAC, {}, false);
  report(MAC);
  nodes.enrolments.set(MAC, { hostname: 'db1', profile: 'debian/12', action: 'install', bmc: null, enrolledAt: Date.now(), enrolledBy: 'admin' });
  const menu = tagged(await resolve(), 'menu');
  assert.match(menu.reason, /^its enrolment has action=install, profile debian\/12, but no install is armed: enrol it with --install/);
  assert.equal(nodes.getNode(MAC)?.state, 'seen');
  assert.equal(nodes.getNode(MAC)?.hostname, 'db1', "the enrolment's host name is recorded");
  nodes.close();
});

test('DHCP and ProxyDHCP point a machine to inspect at its loader like any other (only ignore stays silent)', () => {
  const profile = profileOf('[boot]\nunknown = inspect\n');
  const reply = decideBootFile({ mac: MAC, firmware: 'uefi', isIpxe: false, arch: 7 }, profile, undefined);
  assert.equal(reply.action, 'boot');
  assert.equal(reply.bootFile, 'snponly.efi');
});
