// loader = grub and ipxe-shim: which file a UEFI machine is pointed at (the BOOTP file field in
// server and proxy replies alike), and the GRUB configuration that says what /boot?mac= says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileWarnings } from '../../src/config/warnings.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import type { Profile } from '../../src/config/profile.ts';
import { decide, decideBootFile, loaderFor } from '../../src/boot/policy.ts';
import type { ClientDescription } from '../../src/boot/client.ts';
import { classifySignedPath, SIGNED_CHAINS, signedChainFor } from '../../src/boot/loaders.ts';
import { grubWord, renderGrubInstall, renderGrubMenu, renderGrubRefusal } from '../../src/boot/grub.ts';
import type { InstallImage } from '../../src/boot/catalogue.ts';
import { buildProxyReply } from '../../src/proxydhcp/reply.ts';
import { writeBootFields, type BootingDecision } from '../../src/dhcp/boot-fields.ts';
import { encodeDhcp, parseDhcp, replyFrame } from '../../src/dhcp/codec.ts';
import { MessageType } from '../../src/dhcp/options.ts';
import { dhcpRequest, T } from '../helpers/dhcp-packets.ts';

const MAC = '52:54:00:5b:10:01';
const uefi = (arch: number, c: Partial<ClientDescription> = {}): ClientDescription => ({ mac: MAC, firmware: 'uefi', isIpxe: false, arch, ...c });
function profile(boot: Partial<Profile['boot']>, hostLoader?: 'ipxe' | 'grub' | 'ipxe-shim'): Profile {
  const hosts = hostLoader ? [hostEntry(MAC, { loader: hostLoader })] : [];
  return testProfile({ server: { address: '10.0.0.1' }, http: { port: 8080 }, boot, hosts });
}

test('loader = grub points x86-64 UEFI (7 and 9) at the signed shim and arm64 (11) at its own, with the reason', () => {
  for (const arch of [7, 9]) {
    const d = decideBootFile(uefi(arch), profile({ loader: 'grub' }), undefined);
    assert.equal(d.bootFile, 'debian-installer/amd64/bootnetx64.efi');
    assert.match(
      d.reason,
      /loader = grub \(\[boot\]\) → debian-installer\/amd64\/bootnetx64\.efi; shim loads grubx64\.efi, which reads \/debian-installer\/amd64\/grub\/grub\.cfg/,
    );
  }
  const arm = decideBootFile(uefi(11), profile({ loader: 'grub' }), undefined);
  assert.equal(arm.bootFile, 'debian-installer/arm64/bootnetaa64.efi');
  assert.match(arm.reason, /grubaa64\.efi, which reads \/debian-installer\/arm64\/grub\/grub\.cfg/);
});

test('a [host] loader overrides [boot] loader both ways; BIOS and HTTP boot keep iPXE and say why', () => {
  assert.equal(decideBootFile(uefi(7), profile({ loader: 'ipxe' }, 'grub'), undefined).bootFile, 'debian-installer/amd64/bootnetx64.efi');
  assert.equal(decideBootFile(uefi(7), profile({ loader: 'grub' }, 'ipxe'), undefined).bootFile, 'snponly.efi');
  assert.deepEqual(loaderFor(MAC, profile({ loader: 'grub' }, 'ipxe')), { name: 'ipxe', from: `[host ${MAC}]` });
  assert.equal(decideBootFile(uefi(0, { firmware: 'bios' }), profile({ loader: 'grub' }), undefined).bootFile, 'undionly.kpxe');
  const http = decideBootFile(uefi(16), profile({ loader: 'grub' }), undefined);
  assert.equal(http.bootFile, 'http://10.0.0.1:8080/ipxe/snponly.efi');
  const ia32 = decideBootFile(uefi(6), profile({ loader: 'grub' }), undefined);
  assert.match(ia32.reason, /no signed chain for arch 6/);
  // Already iPXE (ipxe-shim's signed iPXE asking DHCP again): the bootstrap script, as always.
  assert.equal(decideBootFile(uefi(7, { isIpxe: true }), profile({ loader: 'ipxe-shim' }), undefined).bootFile, 'http://10.0.0.1:8080/boot.ipxe');
});

test("loader = ipxe-shim points at iPXE's signed shim in [tftp] root", () => {
  assert.equal(decideBootFile(uefi(7), profile({ loader: 'ipxe-shim' }), undefined).bootFile, 'ipxe-shimx64.efi');
  assert.equal(decideBootFile(uefi(11), profile({ loader: 'ipxe-shim' }), undefined).bootFile, 'ipxe-shimaa64.efi');
});

test('the shim is named in the BOOTP file field (shim ignores option 67), in server and proxy replies alike', () => {
  const d = decideBootFile(uefi(7), profile({ loader: 'grub' }), undefined) as BootingDecision;
  const request = dhcpRequest({ mac: MAC, type: T.DISCOVER, arch: 7 });
  const server = replyFrame(request);
  server.yiaddr = '10.0.0.50';
  server.options.write('messageType', MessageType.OFFER);
  writeBootFields(server, request, d, '10.0.0.1');
  const proxy = buildProxyReply(request, { type: MessageType.OFFER, serverAddress: '10.0.0.1', boot: d });
  for (const reply of [server, proxy]) {
    const wire = parseDhcp(encodeDhcp(reply));
    assert.ok(wire.ok);
    assert.equal(wire.packet.file, 'debian-installer/amd64/bootnetx64.efi');
    assert.equal(wire.packet.siaddr, '10.0.0.1');
  }
});

test('every chain row is complete and its paths classify back to it', () => {
  for (const chain of SIGNED_CHAINS) {
    for (const arch of chain.arches) assert.equal(signedChainFor(arch), chain);
    assert.deepEqual(classifySignedPath(`/${chain.folder}/${chain.shim}`), { kind: 'binary', chain, file: chain.shim });
    assert.deepEqual(classifySignedPath(`${chain.prefix}/grub.cfg`), { kind: 'bootstrap', chain });
    assert.deepEqual(classifySignedPath(`${chain.prefix}/pxe-pilot/52:54:00:AA:bb:01.cfg`), { kind: 'machine', chain, mac: '52:54:00:aa:bb:01' });
    assert.deepEqual(classifySignedPath(`${chain.prefix}/${chain.platform}/grub.cfg`), { kind: 'none', underChain: true });
    assert.deepEqual(classifySignedPath(`${chain.prefix}/pxe-pilot/../../x.cfg`), { kind: 'none', underChain: true });
  }
});

/** GRUB's reading of one single-quoted word (no escapes inside single quotes; words join). */
function grubUnquote(text: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      assert.ok(end > i, 'quotes balance');
      word = (word ?? '') + text.slice(i + 1, end);
      i = end;
    } else if (c === '\\') {
      word = (word ?? '') + text[i + 1];
      i += 1;
    } else if (c === ' ') {
      if (word !== null) words.push(word);
      word = null;
    } else {
      assert.fail(`an unquoted ${JSON.stringify(c)} in ${text}`);
    }
  }
  if (word !== null) words.push(word);
  return words;
}

test('grubWord: any text stays one word, with no line break and nothing GRUB would expand', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (value) => {
      const quoted = grubWord(value);
      assert.ok(!/[\r\n]/.test(quoted));
      assert.deepEqual(grubUnquote(quoted), [value.replace(/[\r\n]+/g, ' ')]);
    }),
    { numRuns: 2000 },
  );
});

const image: InstallImage = {
  profile: 'proxmox-ve/9.1-1',
  product: 'proxmox-ve',
  version: '9.1-1',
  kernel: 'proxmox-ve/9.1-1/vmlinuz',
  initrds: ['proxmox-ve/9.1-1/initrd', 'proxmox-ve/9.1-1/proxmox.iso'],
  cmdline: 'console=ttyS0 pxe_answer=${answer_url}',
};
const vars = { mac: MAC, ip: '10.0.0.50', hostname: 'pve1', server: 'http://10.0.0.1:8080', answerUrl: 'http://10.0.0.1:8080/answer' };

test('install: the kernel line of the iPXE script, files from (tftp,<server>), the ISO wrapped as /proxmox.iso', () => {
  const text = renderGrubInstall(image, '10.0.0.1', "x_it's=1", vars, 'host has action=install');
  assert.match(
    text,
    /^linux '\(tftp,10\.0\.0\.1\)\/assets\/proxmox-ve\/9\.1-1\/vmlinuz' 'console=ttyS0' 'pxe_answer=http:\/\/10\.0\.0\.1:8080\/answer' 'x_it'\\''s=1'$/m,
  );
  assert.match(
    text,
    /^initrd '\(tftp,10\.0\.0\.1\)\/assets\/proxmox-ve\/9\.1-1\/initrd' 'newc:proxmox\.iso:\(tftp,10\.0\.0\.1\)\/assets\/proxmox-ve\/9\.1-1\/proxmox\.iso'$/m,
  );
  // A refused kernel (bad shim signature) falls through to our line and back to the firmware.
  assert.match(text, /^boot\necho 'pxe-pilot: could not load proxmox-ve\/9\.1-1; returning to the firmware'\nsleep 5\nexit\n$/m);
});

test('install: a cmdline naming an iPXE setting is refused on the GRUB path, which cannot expand it', () => {
  const text = renderGrubInstall({ ...image, cmdline: 'ip=${net0/ip}' }, '10.0.0.1', '', vars, 'host has action=install');
  assert.doesNotMatch(text, /^linux /m);
  assert.match(text, /\$\{net0\/ip\} in the kernel command line is an iPXE setting, which GRUB \(loader = grub\) cannot expand/);
  const menu = renderGrubMenu([{ ...image, cmdline: 'h=${hostnmae}' }], {
    defaultItem: 'local',
    timeoutSeconds: 5,
    reason: 'r',
    tftpServer: '10.0.0.1',
    extraCmdline: '',
    vars,
  });
  assert.doesNotMatch(menu, /^\s*linux /m);
  assert.match(menu, /unknown placeholder \$\{hostnmae\}/);
});

test('menu: default and timeout from the profile; a default that names no image, or shell, means local', () => {
  const options = { defaultItem: 'proxmox-ve/9.1-1', timeoutSeconds: 7, reason: 'no [host] section', tftpServer: '10.0.0.1', extraCmdline: '', vars };
  const menu = renderGrubMenu([image], options);
  assert.match(menu, /^set default=image0\nset timeout=7$/m);
  assert.match(renderGrubMenu([image], { ...options, defaultItem: 'shell' }), /^set default=local$/m);
  assert.match(renderGrubMenu([], { ...options, defaultItem: 'debian/12' }), /^set default=local$/m);
});

test('a refusal prints the reason on the console and returns to the firmware', () => {
  assert.equal(renderGrubRefusal("no 'vmlinuz'"), "# no 'vmlinuz'\necho 'pxe-pilot: no '\\''vmlinuz'\\'''\nsleep 5\nexit\n");
});

test('the GRUB path decides with the same policy: decide() is loader-blind', () => {
  const p = profile({ loader: 'grub' });
  assert.deepEqual(decide(uefi(7), p, undefined), decide(uefi(7), profile({ loader: 'ipxe' }), undefined));
});

test('check-config warns when the files a loader needs are missing, naming what to install or copy', () => {
  const base = testProfile({ tftp: { root: '/nonexistent-root-for-test' }, boot: { grubDir: '/nonexistent-grub-dir' } });
  const none = profileWarnings({ ...base, boot: { ...base.boot, loader: 'ipxe' } });
  assert.ok(!none.some((w) => w.includes('loader =')), 'loader = ipxe needs neither');
  const grub = profileWarnings({ ...base, hosts: new Map([[MAC, hostEntry(MAC, { loader: 'grub' })]]) });
  assert.ok(
    grub.some((w) =>
      /^loader = grub: \/nonexistent-grub-dir\/amd64\/text\/debian-installer\/amd64\/bootnetx64\.efi is missing: install debian-installer-12-netboot-amd64/.test(
        w,
      ),
    ),
  );
  const dir = mkdtempSync(join(tmpdir(), 'pxp-shim-'));
  try {
    const shim = profileWarnings(testProfile({ tftp: { root: dir }, boot: { loader: 'ipxe-shim' } }));
    assert.ok(shim.some((w) => /^loader = ipxe-shim: ipxe-shimx64\.efi not found in \[tftp\] root .*ipxeboot\.tar\.gz/.test(w)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
