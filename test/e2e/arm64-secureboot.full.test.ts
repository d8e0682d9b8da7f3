// ARM64 UEFI with Secure Boot on (the full matrix: PXE_PILOT_FULL_MATRIX=1, or name this file):
// Debian's AAVMF with Microsoft's keys enrolled verifies the signed shim, shim verifies Debian's
// signed GRUB, GRUB (through shim) verifies Debian's signed arm64 cloud kernel, and the stand-in
// installs itself, with pxe-pilot as the DHCP server. Runs inside namespaces it creates and removes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { answerFromSerial, buildStandin, standinConsole, standinSays } from '../helpers/standin.ts';
import { skipUnless } from '../helpers/requirements.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { answerFor, BootLab, type InstallHost } from './lab.ts';
import { plainSerial } from './scenarios.ts';
import { tomlStatements } from './expect.ts';
import { aavmfSecureBootCode, aavmfSecureBootVars, arm64LabNeeds, startArmPilot, startSecureBootArm64 } from './arm64-lab.ts';

const skip = skipUnless([...arm64LabNeeds, aavmfSecureBootCode, aavmfSecureBootVars]);

// Generous for TCG on a busy 2-core machine; measured figures are in docs/firmware.md.
const installMs = 420_000;

describe('an ARM64 UEFI machine with Secure Boot on (AAVMF, Microsoft keys) and loader = grub', { skip, timeout: 600_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:a6:40:05', hostname: 'arm-sb' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;

  before(async () => {
    const standin = await buildStandin(undefined, 'arm64');
    lab = await BootLab.create('armsb');
    // No `quiet`: the EFI stub and the kernel say on the console that Secure Boot is on.
    pilot = await startArmPilot(lab, { standin, installHosts: [host], otherHosts: [], boot: { loader: 'grub' }, cmdline: `console=${standinConsole.arm64}` });
  });
  after(async () => {
    await lab?.destroy();
  });

  test("installs through the signed chain: shim, GRUB and the arm64 cloud kernel all pass the firmware's checks", async (t) => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const machine = await startSecureBootArm64(lab, 'arm-sb', host.mac, 'tapsb');
    try {
      await machine.waitForSerial('reach the installer stand-in', standinSays.init, installMs, {
        what: 'a signature was refused, or the firmware gave up on the network boot',
        pattern: /Access Denied|bad shim signature|BdsDxe: failed to (?:load|start) Boot[0-9A-F]{4} "UEFI PXEv4/,
      });
      await machine.waitForPowerOff(Math.max(30_000, installMs - (Date.now() - machine.startedAt)));
    } finally {
      await machine.stop();
    }
    t.diagnostic(`power-on to installed and powered off: ${((Date.now() - machine.startedAt) / 1000).toFixed(0)} s`);
    const serial = plainSerial(await machine.serial());
    assert.match(serial, /Fetching Netboot Image debian-installer\/arm64\/grubaa64\.efi/, 'the firmware started the signed shim, which fetched GRUB');
    assert.match(serial, /pxe-pilot: installing proxmox-ve\/9\.1-standin-arm64/, "GRUB read pxe-pilot's configuration for this MAC");
    assert.match(serial, /EFI stub: UEFI Secure Boot is enabled\./, 'the kernel was started with Secure Boot enforced');
    assert.match(serial, /Kernel is locked down from EFI Secure Boot/);
    const answer = answerFromSerial(serial);
    assert.ok(answer !== null, `the stand-in printed no answer; serial:\n${serial.slice(-2000)}`);
    assert.deepEqual(tomlStatements(answer), tomlStatements(answerFor(host)), "the answer is the host's own file");
    assert.match(serial, /standin: webhook delivered to .* \(boot mode efi\)/);
    assert.equal(await pilot.nodeState(host.mac), 'installed', 'GET /nodes/<mac> says installed after the webhook');
  });
});
