// The one boot resolution (src/boot/resolve.ts) every transport renders: each outcome with its
// reason, what it writes to the store and the event it records, on an in-memory store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstallImage } from '../../src/boot/catalogue.ts';
import type { ClientDescription } from '../../src/boot/client.ts';
import type { BootPorts, ImageCatalogue, NodeRecord } from '../../src/boot/ports.ts';
import { resolveBoot, type BootOutcome, type BootRequest } from '../../src/boot/resolve.ts';
import type { HostEntry } from '../../src/config/profile.ts';
import { Store } from '../../src/store/store.ts';
import { hostEntry, testProfile, type ProfileOverrides } from '../helpers/profile.ts';

const PVE = '52:54:00:7e:00:01';
const DEBIAN = '52:54:00:7e:00:02';
const LOCAL = '52:54:00:7e:00:03';
const CHANGED = '52:54:00:7e:00:04';
const MISSING = '52:54:00:7e:00:05';
const TYPO = '52:54:00:7e:00:06';
const STRANGER = '52:54:00:7e:00:99';

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

const IMAGES = [image('proxmox-ve/9.1-1'), image('debian/13'), image('proxmox-ve/8.4-1', 'changed', 'proxmox.iso changed since it was added (size 9)')];
const catalogue: ImageCatalogue = {
  images: () => IMAGES.filter((i) => i.integrity !== 'changed'),
  all: () => IMAGES,
  find: (_dir, profile) => IMAGES.find((i) => i.profile === profile),
  invalidate: () => {},
};

const hosts: HostEntry[] = [
  hostEntry(PVE, { action: 'install', profile: 'proxmox-ve/9.1-1', hostname: 'pve1', cmdline: 'console=ttyS0' }),
  hostEntry(DEBIAN, { action: 'install', profile: 'debian/13' }),
  hostEntry(LOCAL, { action: 'local' }),
  hostEntry(CHANGED, { action: 'install', profile: 'proxmox-ve/8.4-1' }),
  hostEntry(MISSING, { action: 'install', profile: 'proxmox-ve/7.0-1' }),
  hostEntry(TYPO, { action: 'install', profile: 'debian/13', hostname: 'deb1', cmdline: 'hostname=${hostnmae}' }),
];

/** The store's ports, with some replaced (a store that loses a race, or cannot write). */
function portsOf(store: Store, replace: Partial<BootPorts> = {}): BootPorts {
  return {
    getNode: (mac) => store.getNode(mac),
    sawNode: (mac, facts, armed) => store.sawNode(mac, facts, armed),
    applyChange: (mac, change) => store.applyChange(mac, change),
    record: (event) => store.record(event),
    ...replace,
  };
}

function bootRequest(mac: string, extra: Partial<BootRequest> = {}): BootRequest {
  const client: ClientDescription = { mac, ip: '10.0.0.50', firmware: 'uefi', isIpxe: true, platform: 'efi' };
  return { client, event: { protocol: 'http', kind: 'GET /boot', detail: { ip: '10.0.0.50', platform: 'efi' } }, ...extra };
}

function lab(boot: ProfileOverrides['boot'] = {}) {
  const store = Store.open(':memory:');
  const profile = testProfile({ hosts, boot });
  const resolve = (mac: string, replace: Partial<BootPorts> = {}, extra: Partial<BootRequest> = {}): Promise<BootOutcome> =>
    resolveBoot(bootRequest(mac, extra), profile, portsOf(store, replace), catalogue);
  const lastEvent = (mac: string) => store.events({ mac }).at(-1)!;
  return { store, profile, resolve, lastEvent };
}

function tagged<T extends BootOutcome['tag']>(outcome: BootOutcome, tag: T): Extract<BootOutcome, { tag: T }> {
  assert.equal(outcome.tag, tag, `expected ${tag}: ${outcome.reason}`);
  return outcome as Extract<BootOutcome, { tag: T }>;
}

test('install, answer fetched later (Proxmox): the image with its variables; the install stays pending', async () => {
  const { store, resolve, lastEvent } = lab();
  const install = tagged(await resolve(PVE), 'install');
  assert.equal(install.image.profile, 'proxmox-ve/9.1-1');
  assert.match(install.reason, /^host 52:54:00:7e:00:01 has action=install in \(test\), profile proxmox-ve\/9\.1-1/);
  assert.equal(install.consumed, null);
  assert.equal(install.cmdline, 'console=ttyS0');
  assert.deepEqual(install.vars, {
    mac: PVE,
    ip: '10.0.0.50',
    hostname: 'pve1',
    server: 'http://127.0.0.1',
    answerUrl: 'http://127.0.0.1/answer',
    answerServer: 'http://127.0.0.1',
  });
  assert.equal(store.getNode(PVE)?.state, 'install-pending');
  const event = lastEvent(PVE);
  assert.equal(event.decision, 'install');
  assert.equal(event.reason, install.reason);
  assert.deepEqual(event.detail, { ip: '10.0.0.50', platform: 'efi', profile: 'proxmox-ve/9.1-1' });
  store.close();
});

test('install, no answer fetch (Debian): consumed before the script is handed out, said in the event; the next boot is local', async () => {
  const { store, resolve, lastEvent } = lab();
  const install = tagged(await resolve(DEBIAN), 'install');
  assert.equal(install.image.profile, 'debian/13');
  assert.match(install.consumed ?? '', /install consumed now \(this installer fetches no answer\)/);
  assert.equal(store.getNode(DEBIAN)?.state, 'installing', 'written before resolveBoot returned');
  assert.equal(lastEvent(DEBIAN).reason, `${install.reason}; ${install.consumed}`);
  const local = tagged(await resolve(DEBIAN), 'local');
  assert.match(local.reason, /^install consumed: its install script was served at \d\d:\d\d:\d\d; reinstall through the admin API/);
  assert.doesNotMatch(local.reason, /answer fetched/);
  store.close();
});

test('a kernel line that cannot be filled is an error before anything is consumed: fixed and booted again, it installs', async () => {
  const { store, resolve, lastEvent } = lab();
  const error = tagged(await resolve(TYPO), 'error');
  assert.match(error.reason, /cannot install debian\/13: .*hostnmae/);
  assert.equal(store.getNode(TYPO)?.state, 'install-pending', 'a Debian install is consumed when its script is served; none was');
  assert.equal(lastEvent(TYPO).decision, 'error');
  store.close();
});

test('GRUB cannot expand an iPXE setting: refused on the TFTP path before consuming, served on the iPXE path', async () => {
  const store = Store.open(':memory:');
  const profile = testProfile({ hosts: [hostEntry(TYPO, { action: 'install', profile: 'debian/13', cmdline: 'ip=${net0/ip}' })] });
  const grubEvent = { protocol: 'tftp' as const, kind: 'GRUB config', detail: { client: '10.0.0.50', file: 'grub.cfg' } };
  const grub = await resolveBoot(bootRequest(TYPO, { event: grubEvent }), profile, portsOf(store), catalogue);
  assert.equal(tagged(grub, 'error').reason.includes('GRUB (loader = grub) cannot expand'), true, grub.reason);
  assert.equal(store.getNode(TYPO)?.state, 'install-pending');
  const ipxe = tagged(await resolveBoot(bootRequest(TYPO), profile, portsOf(store), catalogue), 'install');
  assert.equal(ipxe.cmdline, 'ip=${net0/ip}');
  assert.equal(store.getNode(TYPO)?.state, 'installing');
  store.close();
});

test('local: the script to run and the reason', async () => {
  const { store, resolve, lastEvent } = lab();
  const local = tagged(await resolve(LOCAL), 'local');
  assert.equal(local.script, 'exit');
  assert.equal(local.reason, `host ${LOCAL} has action=local`);
  assert.equal(lastEvent(LOCAL).decision, 'local');
  store.close();
});

test('menu: the images offered (a changed one left out) and what GRUB fills its entries with', async () => {
  const { store, resolve, lastEvent } = lab();
  const menu = tagged(await resolve(STRANGER), 'menu');
  assert.deepEqual(
    menu.images.map((i) => i.profile),
    ['proxmox-ve/9.1-1', 'debian/13'],
  );
  assert.match(menu.reason, /has no \[host\] section: menu/);
  assert.equal(menu.vars.mac, STRANGER);
  assert.equal(store.getNode(STRANGER)?.state, 'seen', 'the sighting is recorded');
  assert.equal(lastEvent(STRANGER).decision, 'menu');
  store.close();
});

test('refused: a profile that ignores unknown machines; the event says ignore', async () => {
  const { store, resolve, lastEvent } = lab({ unknown: 'ignore' });
  const refused = tagged(await resolve(STRANGER), 'refused');
  assert.match(refused.reason, /no \[host\] section and \[boot\] unknown = ignore/);
  assert.equal(lastEvent(STRANGER).decision, 'ignore');
  store.close();
});

test('refused: the consumption was lost to another request or appliance, or cannot be written now', async () => {
  const { store, resolve, lastEvent } = lab();
  const lost = tagged(await resolve(DEBIAN, { applyChange: async () => undefined }), 'refused');
  assert.match(lost.reason, /profile debian\/13.*, but the install was consumed meanwhile \(another request or appliance served it\)/);
  assert.equal(lastEvent(DEBIAN).decision, 'refused');
  const down = tagged(
    await resolve(DEBIAN, {
      applyChange: async () => {
        throw new Error('connection refused');
      },
    }),
    'refused',
  );
  assert.match(down.reason, /cannot record the install consumption now \(connection refused\): not served, so it cannot run twice/);
  assert.equal(store.getNode(DEBIAN)?.state, 'install-pending', 'nothing consumed: the next boot tries again');
  store.close();
});

test('error: the image is missing, or its files changed since it was added', async () => {
  const { store, resolve, lastEvent } = lab();
  const missing = tagged(await resolve(MISSING), 'error');
  assert.match(missing.reason, /profile proxmox-ve\/7\.0-1.*, but .*\/proxmox-ve\/7\.0-1 has no vmlinuz and initrd/);
  const changed = tagged(await resolve(CHANGED), 'error');
  assert.match(
    changed.reason,
    /but proxmox-ve\/8\.4-1 is not offered: proxmox\.iso changed since it was added \(size 9\); run pxe-pilot assets verify proxmox-ve\/8\.4-1/,
  );
  assert.equal(lastEvent(CHANGED).decision, 'error');
  assert.deepEqual(lastEvent(CHANGED).detail, { ip: '10.0.0.50', platform: 'efi', profile: 'proxmox-ve/8.4-1' });
  assert.equal(store.getNode(CHANGED)?.state, 'install-pending', 'an install not served is not consumed');
  store.close();
});

test('a pick from the menu: that image, nothing consumed, no sighting; a missing or malformed pick is an error', async () => {
  const { store, resolve, lastEvent } = lab();
  const pick = { event: { protocol: 'http' as const, kind: 'GET /install', detail: { ip: '10.0.0.50' } } };
  const picked = tagged(await resolve(STRANGER, {}, { ...pick, pick: 'debian/13' }), 'install');
  assert.equal(picked.image.profile, 'debian/13');
  assert.equal(picked.reason, 'chosen from the menu at the console');
  assert.equal(picked.consumed, null);
  assert.equal(store.getNode(STRANGER), undefined);
  assert.equal(lastEvent(STRANGER).reason, 'debian/13 chosen from the menu at the console');
  assert.match(tagged(await resolve(STRANGER, {}, { ...pick, pick: 'debian/99' }), 'error').reason, /debian\/99 has no vmlinuz and initrd/);
  assert.match(tagged(await resolve(STRANGER, {}, { ...pick, pick: 'proxmox-ve/8.4-1' }), 'error').reason, /is not offered/);
  assert.match(tagged(await resolve(STRANGER, {}, { ...pick, pick: '../../etc' }), 'error').reason, /is not an install image name/);
  store.close();
});

test("a fleet's store is re-read before an install is handed out: consumed elsewhere means local disk here", async () => {
  const { store, resolve } = lab();
  let rereads = 0;
  const reread = async (mac: string): Promise<NodeRecord | undefined> => {
    rereads += 1;
    const node = store.getNode(mac)!;
    return { ...node, state: 'installing', consumedAt: Date.now(), profile: 'proxmox-ve/9.1-1' };
  };
  const local = tagged(await resolve(PVE, { reread }), 'local');
  assert.match(local.reason, /^install consumed: answer fetched at/);
  assert.equal(rereads, 1);
  tagged(await resolve(LOCAL, { reread }), 'local');
  assert.equal(rereads, 1, 'only an install is re-read');
  store.close();
});

test('GRUB over TFTP is recorded as a TFTP event with its reason code', async () => {
  const { store, profile } = lab();
  const request: BootRequest = {
    client: { mac: LOCAL, ip: '10.0.0.51', firmware: 'uefi', isIpxe: false, arch: 7 },
    event: { protocol: 'tftp', kind: 'GRUB config', code: 'grub-config', detail: { client: '10.0.0.51', file: 'grub/pxe-pilot/x.cfg' } },
  };
  tagged(await resolveBoot(request, profile, portsOf(store), catalogue), 'local');
  const event = store.events({ mac: LOCAL }).at(-1)!;
  assert.equal(event.protocol, 'tftp');
  assert.equal(event.code, 'grub-config');
  assert.equal(event.kind, 'GRUB config');
  assert.deepEqual(event.detail, { client: '10.0.0.51', file: 'grub/pxe-pilot/x.cfg' });
  assert.equal(store.getNode(LOCAL)?.firmware, 'uefi');
  store.close();
});
