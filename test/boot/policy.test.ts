import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import type { HostEntry, Profile } from '../../src/config/profile.ts';
import { decide, decideBootFile } from '../../src/boot/policy.ts';
import type { NodeState } from '../../src/boot/lifecycle.ts';
import type { ClientDescription } from '../../src/boot/client.ts';
import { normaliseMac } from '../../src/net/mac.ts';
import { Store } from '../../src/store/store.ts';

const MAC = '52:54:00:12:34:56';

function host(action: HostEntry['action'], profile = 'proxmox-ve/9.1-1'): HostEntry {
  return hostEntry(MAC, { hostname: 'pve1', action, profile });
}
function profileWith(h?: HostEntry, boot: Partial<Profile['boot']> = {}): Profile {
  return testProfile({ server: { address: '10.0.0.1' }, http: { port: 8080 }, boot, hosts: h ? [h] : [] });
}
const client = (c: Partial<ClientDescription> = {}): ClientDescription => ({ mac: MAC, firmware: 'bios', isIpxe: false, arch: 0, ...c });

test('unknown machines never install: menu by default, local or silence when the profile says so', () => {
  assert.equal(decide(client(), profileWith(), undefined).action, 'menu');
  assert.equal(decide(client(), profileWith(undefined, { unknown: 'local' }), undefined).action, 'local');
  const ignored = decide(client(), profileWith(undefined, { unknown: 'ignore' }), undefined);
  assert.equal(ignored.action, 'ignore');
  assert.match(ignored.reason, /no \[host\] section and \[boot\] unknown = ignore/);
});

test('install is one-shot: armed by the profile, consumed by the answer fetch, then local disk', async () => {
  const store = Store.open(':memory:');
  const p = profileWith(host('install'));
  let node = store.sawNode(MAC, {}, true);
  let d = decide(client(), p, node);
  assert.equal(d.action, 'install');
  assert.equal(d.profile, 'proxmox-ve/9.1-1');
  node = (await store.applyChange(MAC, { kind: 'consume', profile: 'proxmox-ve/9.1-1' }))!;
  d = decide(client(), p, node);
  assert.equal(d.action, 'local', 'a machine that boots from the network first must not reinstall in a loop');
  assert.match(d.reason, /install consumed: answer fetched at/);
  node = (await store.applyChange(MAC, { kind: 'complete', fqdn: 'pve1.lab', bootMode: null, report: null }))!;
  assert.equal(decide(client(), p, node).action, 'local');
  node = (await store.applyChange(MAC, { kind: 'arm', profile: 'proxmox-ve/9.0-2', by: 'admin' }))!;
  d = decide(client(), p, node);
  assert.equal(d.action, 'install');
  assert.equal(d.profile, 'proxmox-ve/9.0-2', 'the admin-chosen profile wins over the [host] one');
  assert.match(d.reason, /reinstall flag set by admin at \d\d:\d\d:\d\d/);
  store.close();
});

test('an admin local-boot script is what local disk runs', () => {
  const node: NodeState = {
    mac: MAC,
    state: 'installed',
    profile: null,
    localBoot: 'sanboot --no-describe --drive 0x80',
    armedAt: null,
    armedBy: null,
    consumedAt: 1,
    installedAt: 2,
  };
  const d = decide(client(), profileWith(host('install')), node);
  assert.equal(d.action, 'local');
  assert.equal(d.localScript, 'sanboot --no-describe --drive 0x80');
});

test('boot files follow option 93', () => {
  const p = profileWith();
  const file = (arch: number | undefined, extra: Partial<ClientDescription> = {}) => decideBootFile(client({ arch, ...extra }), p, undefined);
  assert.equal(file(0).bootFile, 'undionly.kpxe');
  assert.equal(file(6).bootFile, 'ipxe-i386.efi');
  assert.equal(file(7).bootFile, 'snponly.efi');
  assert.equal(file(9).bootFile, 'snponly.efi');
  assert.equal(file(11).bootFile, 'ipxe-arm64.efi');
  const http = file(16);
  assert.equal(http.bootFile, 'http://10.0.0.1:8080/ipxe/snponly.efi');
  assert.equal(http.vendorClass, 'HTTPClient');
  assert.equal(file(7).vendorClass, 'PXEClient');
  const ipxe = file(7, { isIpxe: true });
  assert.equal(ipxe.bootFile, 'http://10.0.0.1:8080/boot.ipxe', 'iPXE gets the script, not iPXE again');
  assert.equal(file(undefined).action, 'ignore');
  assert.match(file(41).reason, /arch 41 \(ARM rpiboot\): no boot file/);
  assert.match(file(1234).reason, /arch 1234 \(unassigned\)/);
});

test('Raspberry Pi MAC prefixes sending arch 0 are treated as ARM', () => {
  const d = decideBootFile(client({ mac: 'dc:a6:32:01:02:03', arch: 0 }), profileWith(), undefined);
  assert.equal(d.bootFile, 'ipxe-arm64.efi');
  assert.match(d.reason, /Raspberry Pi/);
});

test('a policy of ignore means no boot file for DHCP either', () => {
  const d = decideBootFile(client({ arch: 7 }), profileWith(undefined, { unknown: 'ignore' }), undefined);
  assert.equal(d.action, 'ignore');
  assert.equal(d.bootFile, undefined);
});

test('property: every decision has a reason, install always names a profile', () => {
  const arb = fc.record({
    arch: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
    isIpxe: fc.boolean(),
    action: fc.option(fc.constantFrom<HostEntry['action']>('install', 'local', 'menu'), { nil: undefined }),
    profile: fc.constantFrom('', 'proxmox-ve/9.1-1'),
    unknown: fc.constantFrom<Profile['boot']['unknown']>('menu', 'local', 'ignore'),
    state: fc.option(fc.constantFrom<NodeState['state']>('seen', 'install-pending', 'installing', 'installed'), { nil: undefined }),
  });
  fc.assert(
    fc.property(arb, (a) => {
      const p = profileWith(a.action ? host(a.action, a.profile) : undefined, { unknown: a.unknown });
      const node: NodeState | undefined = a.state
        ? { mac: MAC, state: a.state, profile: null, localBoot: null, armedAt: 0, armedBy: 'admin', consumedAt: 0, installedAt: 0 }
        : undefined;
      const d = decide(client({ arch: a.arch, isIpxe: a.isIpxe }), p, node);
      assert.ok(d.reason.length > 10);
      if (d.action === 'install') assert.ok(d.profile && d.profile.length > 0);
      const f = decideBootFile(client({ arch: a.arch, isIpxe: a.isIpxe }), p, node);
      assert.ok(f.reason.length > 10);
      if (f.action === 'boot') assert.ok(f.bootFile);
    }),
  );
});

test('MAC normalisation accepts colon, hyphen, dot and bare forms in any case, and nothing else', () => {
  for (const form of ['52:54:00:AB:CD:EF', '52-54-00-ab-cd-ef', '5254.00ab.cdef', '525400ABCDEF']) assert.equal(normaliseMac(form), '52:54:00:ab:cd:ef');
  for (const bad of ['', '52:54:00:ab:cd', '52:54-00:ab:cd:ef', '../../etc/x', '52:54:00:ab:cd:ef\0', 'zz:54:00:ab:cd:ef', '52:54:00:ab:cd:ef:01'])
    assert.equal(normaliseMac(bad), null);
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const m = normaliseMac(s);
      if (m !== null) assert.match(m, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    }),
  );
});
