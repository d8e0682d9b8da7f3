// ARM64 UEFI end to end: QEMU's arm64 `virt` machine with Debian's AAVMF firmware network-boots
// through pxe-pilot as the DHCP server (the lab: ./arm64-lab.ts on ./lab.ts). With loader = ipxe
// (the default) it asks for an arm64 iPXE nobody ships; with loader = grub, Debian's signed shim
// and GRUB load the arm64 stand-in. Everything runs inside the namespaces this file creates and removes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { firmwareMovedOn } from '../helpers/qemu.ts';
import { buildStandin } from '../helpers/standin.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { answerFor, BootLab, lan, pilotBase, type InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk, plainSerial } from './scenarios.ts';
import { eventTime, tomlStatements } from './expect.ts';
import { arm64LabSkip, startArmPilot, type ArmHost } from './arm64-lab.ts';

const skip = arm64LabSkip();

// Generous bounds for TCG on a busy 2-core machine; the measured figures are in docs/firmware.md.
const firmwareGivesUpMs = 180_000;
const installMs = 420_000;
const localBootMs = 240_000;

describe('an ARM64 UEFI machine (QEMU virt, AAVMF) with pxe-pilot as the DHCP server', { skip, timeout: 600_000 }, () => {
  // Debian 12 ships no arm64 iPXE: with loader = ipxe, [boot] uefi_arm64 names a file nobody has.
  const ipxeHost: ArmHost = { mac: '52:54:00:a6:40:01', hostname: 'arm-ipxe', action: 'menu', loader: 'ipxe' };
  const grubHost: InstallHost = { mac: '52:54:00:a6:40:02', hostname: 'arm-node' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;

  before(async () => {
    const standin = await buildStandin(undefined, 'arm64');
    lab = await BootLab.create('arm');
    // loader = grub for every UEFI machine; the iPXE host says loader = ipxe for itself.
    pilot = await startArmPilot(lab, { standin, installHosts: [grubHost], otherHosts: [ipxeHost], boot: { loader: 'grub' } });
  });
  after(async () => {
    await lab?.destroy();
  });

  test('with loader = ipxe it asks for [boot] uefi_arm64 as arch 11, the file is missing, and explain shows where it stopped', async () => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const machine = await lab.bootMachine({ name: 'arm-ipxe', firmware: 'arm64', mac: ipxeHost.mac });
    let serial: string;
    try {
      serial = plainSerial(await machine.waitForSerial('try PXE and give up', firmwareMovedOn.arm64, firmwareGivesUpMs));
    } finally {
      await machine.stop();
    }
    assert.match(serial, /NBP filename is ipxe-arm64\.efi/, 'AAVMF was offered the [boot] uefi_arm64 file');
    assert.match(serial, /PXE-E23: Client received TFTP error from server/, 'the TFTP server said the file is missing');

    const events = await pilot.events(ipxeHost.mac);
    const offer = events.find((e) => e.protocol === 'dhcp' && e.decision === 'offer');
    assert.ok(offer, `pxe-pilot recorded its DHCP offer; it recorded ${events.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`);
    assert.equal(offer.detail?.arch, 11, 'AAVMF sends option 93 = 11 (ARM64 UEFI)');

    const explain = await pilot.explain(ipxeHost.mac);
    assert.match(explain, /arch 11 \(UEFI ARM64\)/, `explain names the architecture:\n${explain}`);
    assert.match(explain, /TFTP RRQ ipxe-arm64\.efi .*→ error: file not found/, `explain shows the missing file:\n${explain}`);
  });

  test('with loader = grub it installs the arm64 stand-in through shim → GRUB → kernel over TFTP, then boots its local disk', async (t) => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const install = await bootAndInstall(lab, { name: 'arm-grub', firmware: 'arm64', mac: grubHost.mac, serial: 'E2E-arm-grub' }, installMs);
    t.diagnostic(`power-on to installed and powered off: ${install.seconds.toFixed(0)} s`);
    const serial = plainSerial(install.serial);
    assert.match(serial, /NBP filename is debian-installer\/arm64\/bootnetaa64\.efi/, "AAVMF was offered Debian's signed arm64 shim");
    assert.match(serial, /Fetching Netboot Image debian-installer\/arm64\/grubaa64\.efi/, 'shim fetched the signed GRUB from its own folder');
    assert.match(serial, /pxe-pilot: installing proxmox-ve\/9\.1-standin-arm64/, 'GRUB read the configuration pxe-pilot generated for this MAC');
    assert.match(serial, /standin: init started, kernel \S+-arm64/, 'the arm64 cloud kernel started the stand-in');
    assert.match(serial, new RegExp(`standin: address 10\\.77\\.0\\.\\d+/24 from DHCP server ${lan.server.replace(/\./g, '\\.')}`));
    assert.match(serial, new RegExp(`standin: answer URL from DHCP option 250: ${pilotBase}/`), 'in server mode the answer URL comes from option 250');
    assert.ok(install.answer !== null, `the stand-in printed no answer; serial:\n${serial.slice(-2000)}`);
    assert.deepEqual(tomlStatements(install.answer), tomlStatements(answerFor(grubHost)), "the answer is the host's own file");
    assert.match(serial, /standin: webhook delivered to .* \(boot mode efi\)/);
    assert.equal(await pilot.nodeState(grubHost.mac), 'installed', 'GET /nodes/<mac> says installed after the webhook');

    const events = await pilot.events(grubHost.mac);
    const offer = events.find((e) => e.protocol === 'dhcp' && e.decision === 'offer');
    assert.equal(offer?.detail?.bootFile, 'debian-installer/arm64/bootnetaa64.efi', 'the DHCP offer named the arm64 shim');
    assert.ok(
      events.some((e) => e.protocol === 'tftp' && e.kind === 'GRUB config' && e.decision === 'install'),
      `pxe-pilot recorded the GRUB configuration it served as an install; it recorded ${events.map((e) => `${e.protocol}/${e.kind}/${e.decision}`).join(', ')}`,
    );
    for (const p of ['answer', 'webhook'])
      assert.ok(
        events.some((e) => e.protocol === p),
        `pxe-pilot recorded a ${p} event`,
      );

    const again = await bootToLocalDisk(lab, { name: 'arm-grub-again', firmware: 'arm64', mac: grubHost.mac }, localBootMs);
    t.diagnostic(`second boot, power-on to the firmware's next boot entry: ${again.seconds.toFixed(0)} s`);
    const second = plainSerial(again.serial);
    assert.doesNotMatch(second, /standin: init started/, 'a machine sent to its local disk must not start the installer');
    assert.match(second, /pxe-pilot: local disk/, 'GRUB said why it returned to the firmware');
    const since = again.machine.startedAt - 1000;
    const later = (await pilot.events(grubHost.mac)).filter((e) => eventTime(e) >= since);
    assert.ok(
      later.some((e) => e.protocol === 'tftp' && e.kind === 'GRUB config' && e.decision === 'local'),
      `the second boot's GRUB configuration said local; pxe-pilot recorded ${later.map((e) => `${e.protocol}/${e.kind}/${e.decision}`).join(', ')}`,
    );
  });
});
