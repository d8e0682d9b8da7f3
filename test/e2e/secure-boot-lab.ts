// The Secure Boot lab both Secure Boot test files share: OVMF with Microsoft's keys enrolled and
// Secure Boot on, pxe-pilot as the DHCP server with loader = grub, one host that installs through
// the signed chain, one kept on iPXE, one whose image has an unsigned kernel. The lab
// (namespaces, every process by pid) is removed in after().
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { signatureSize, writeUnsignedCopy } from '../helpers/pe-signature.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { SIGNED_CHAINS, signedFileOnDisk } from '../../src/boot/loaders.ts';
import { BootLab, type InstallHost } from './lab.ts';

const grubDir = '/usr/lib/debian-installer/images/12';
const amd64 = SIGNED_CHAINS.find((c) => c.debianArch === 'amd64')!;
const signedFiles = [signedFileOnDisk(grubDir, amd64, amd64.shim), signedFileOnDisk(grubDir, amd64, amd64.grub)];

export const skip = skipUnless(['root', qemuBinary, 'curl', ...standinTools, ...firmwareFiles['uefi-secureboot'], ...signedFiles]);

// Generous bounds for TCG in a busy runner; measured figures are in docs/firmware.md. One machine
// at a time: GRUB fetches the kernel over TFTP in lockstep (blksize 1024, no window), and three
// TCG machines at once on two cores made it miss 360 s.
export const installMs = 360_000;
export const localBootMs = 240_000;
export const refusalMs = 240_000;

export const unsignedProfile = 'proxmox-ve/9.1-unsigned';

export const signedHost: InstallHost = { mac: '52:54:00:5b:e0:01', hostname: 'sb-node' };
export const ipxeMac = '52:54:00:5b:e0:02';
export const unsignedMac = '52:54:00:5b:e0:03';

/** Builds the lab in before() and removes it, with every process it started, in after(). */
export function secureBootLab(): () => { lab: BootLab; pilot: PxePilot } {
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
  return (): { lab: BootLab; pilot: PxePilot } => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    return { lab, pilot };
  };
}
