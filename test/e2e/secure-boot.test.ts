// Secure Boot end to end: OVMF with Microsoft's keys enrolled and Secure Boot on, pxe-pilot as
// the DHCP server. With loader = grub the machine goes through Debian's signed shim and GRUB to
// the stand-in on Debian's signed cloud kernel, installs and reports as on the iPXE path, then
// boots its local disk; an unsigned iPXE and an unsigned kernel are refused, and explain says
// where and why. The lab (namespaces, every process by pid) is removed in after().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, firmwareMovedOn, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { signatureSize, writeUnsignedCopy } from '../helpers/pe-signature.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { SIGNED_CHAINS, signedFileOnDisk } from '../../src/boot/loaders.ts';
import { BootLab, pilotBase, adminToken, lanNs, type InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk, plainSerial } from './scenarios.ts';
import { expectInstalled, expectLocalBoot } from './expect.ts';

const grubDir = '/usr/lib/debian-installer/images/12';
const amd64 = SIGNED_CHAINS.find((c) => c.debianArch === 'amd64')!;
const signedFiles = [signedFileOnDisk(grubDir, amd64, amd64.shim), signedFileOnDisk(grubDir, amd64, amd64.grub)];

const skip = skipUnless(['root', qemuBinary, 'curl', ...standinTools, ...firmwareFiles['uefi-secureboot'], ...signedFiles]);
// (a) and (c) cost a machine each: 9 s and 18 s one at a time on a quiet host, 65-190 s when three
// ran at once on a loaded one (docs/firmware.md), so they run in CI, one after the other.

// Generous bounds for TCG in a busy runner; measured figures are in docs/firmware.md. One machine
// at a time: GRUB fetches the kernel over TFTP in lockstep (blksize 1024, no window), and three
// TCG machines at once on two cores made it miss 360 s.
const installMs = 360_000;
const localBootMs = 240_000;
const refusalMs = 240_000;

const unsignedProfile = 'proxmox-ve/9.1-unsigned';

describe('Secure Boot (OVMF, Microsoft keys) with pxe-pilot as the DHCP server and loader = grub', { skip, concurrency: false, timeout: 1_200_000 }, () => {
  const signedHost: InstallHost = { mac: '52:54:00:5b:e0:01', hostname: 'sb-node' };
  const ipxeMac = '52:54:00:5b:e0:02';
  const unsignedMac = '52:54:00:5b:e0:03';
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;

  before(async () => {
    const standin = await buildStandin();
    assert.ok(signatureSize(await readFile(standin.kernel)) > 0, `${standin.kernel} is Debian's signed cloud kernel`);
    lab = await BootLab.create('sb');
    await lab.startRouter({ kind: 'router-advertisements-only' });
    // A second image: the same stand-in on the same kernel with its signature taken off.
    const unsignedDir = lab.path('assets', ...unsignedProfile.split('/'));
    await mkdir(unsignedDir, { recursive: true });
    await writeUnsignedCopy(standin.kernel, join(unsignedDir, 'vmlinuz'));
    await copyFile(standin.initrd, join(unsignedDir, 'initrd'));
    await writeFile(join(unsignedDir, 'cmdline'), 'console=ttyS0 quiet\n');
    pilot = await lab.startPxePilot({
      mode: 'server',
      standin,
      installHosts: [signedHost],
      uefiLoader: 'snponly.efi',
      loader: 'grub',
      extraHosts: [
        { mac: ipxeMac, hostname: 'sb-ipxe', action: 'install', profile: 'proxmox-ve/9.1-standin', loader: 'ipxe' },
        { mac: unsignedMac, hostname: 'sb-unsigned', action: 'install', profile: unsignedProfile },
      ],
    });
  });
  after(async () => {
    await lab?.destroy();
  });
  const running = (): { lab: BootLab; pilot: PxePilot } => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    return { lab, pilot };
  };

  test("(b) shim → GRUB → Debian's signed cloud kernel: the stand-in installs and reports as on the iPXE path, then local disk", async () => {
    const { lab, pilot } = running();
    const install = await bootAndInstall(lab, { name: 'sb-grub', firmware: 'uefi-secureboot', mac: signedHost.mac, serial: 'E2E-sb-grub' }, installMs);
    const serial = plainSerial(install.serial);
    // The kernel line has quiet (the EFI stub's "Secure Boot is enabled" stays hidden); the chain shows instead.
    assert.match(serial, /NBP filename is debian-installer\/amd64\/bootnetx64\.efi/, 'the firmware loaded the signed shim');
    assert.match(serial, /Fetching Netboot Image debian-installer\/amd64\/grubx64\.efi/, 'shim loaded the signed GRUB');
    assert.match(serial, /pxe-pilot: installing proxmox-ve\/9\.1-standin: host 52:54:00:5b:e0:01 has action=install/, "GRUB printed the policy's reason");
    await expectInstalled(pilot, install, { host: signedHost, firmware: 'uefi-secureboot', mode: 'server', loader: 'grub' });
    console.log(`secure boot, loader grub: power-on to powered off ${install.seconds.toFixed(0)} s`);

    const second = await bootToLocalDisk(lab, { name: 'sb-grub-again', firmware: 'uefi-secureboot', mac: signedHost.mac }, localBootMs);
    assert.match(plainSerial(second.serial), /pxe-pilot: local disk: installed at/);
    await expectLocalBoot(pilot, second, signedHost.mac);
    console.log(`secure boot, loader grub, second boot: power-on to the firmware's next entry ${second.seconds.toFixed(0)} s`);
  });

  test('(a) loader = ipxe: the firmware refuses the unsigned snponly.efi, and explain says to use loader = grub', async () => {
    const { lab, pilot } = running();
    const machine = await lab.bootMachine({ name: 'sb-ipxe', firmware: 'uefi-secureboot', mac: ipxeMac });
    try {
      await machine.waitForSerial('the firmware refuse snponly.efi', /Access Denied/, refusalMs);
      await machine.waitForSerial('the firmware move past its PXE entry', firmwareMovedOn['uefi-secureboot'], refusalMs);
      console.log(`secure boot, loader ipxe: refused after ${((Date.now() - machine.startedAt) / 1000).toFixed(0)} s`);
    } finally {
      await machine.stop();
    }
    const hint = 'Secure Boot? use loader = grub (or ipxe-shim) for this host';
    assert.ok((await pilot.explain(ipxeMac)).includes(hint), 'pxe-pilot explain says it');
    const http = await lab.net.exec(lanNs, ['curl', '-s', '-H', `Authorization: Bearer ${adminToken}`, `${pilotBase}/nodes/${ipxeMac}/explain`]);
    assert.ok(http.stdout.includes(hint), `GET /nodes/<mac>/explain says it: ${http.stdout.slice(0, 2000)}`);
  });

  test('(c) an unsigned kernel under loader = grub is refused ("bad shim signature"), and the event log names the file', async () => {
    const { lab, pilot } = running();
    const machine = await lab.bootMachine({ name: 'sb-unsigned', firmware: 'uefi-secureboot', mac: unsignedMac });
    try {
      await machine.waitForSerial('shim refuse the unsigned kernel', /bad shim signature/, refusalMs);
      console.log(`secure boot, unsigned kernel: refused after ${((Date.now() - machine.startedAt) / 1000).toFixed(0)} s`);
      // GRUB prints our line and returns; give the event log the transfer's end.
      await machine.waitForSerial('GRUB return to the firmware', /could not load proxmox-ve\/9\.1-unsigned/, 60_000);
    } finally {
      await machine.stop();
    }
    const kernel = `/assets/${unsignedProfile}/vmlinuz`;
    const events = await pilot.events(unsignedMac);
    const tftp = events.filter((e) => e.protocol === 'tftp' && e.decision === 'served');
    assert.equal(tftp.at(-1)?.kind, `RRQ ${kernel}`, `the last file served is the kernel; TFTP events: ${tftp.map((e) => e.kind).join(', ')}`);
    assert.ok(!events.some((e) => e.protocol === 'answer'), 'the installer never ran');
    const explained = await pilot.explain(unsignedMac);
    assert.ok(explained.includes(`GRUB loaded ${kernel.slice(1)} over TFTP`), `explain names the kernel:\n${explained}`);
    assert.ok(existsSync(lab.path('assets', ...unsignedProfile.split('/'), 'vmlinuz')));
  });
});
