// End to end with real firmware: QEMU machines PXE-boot through pxe-pilot, install the
// stand-in installer, report back, and boot their local disk the next time.
// Each describe builds its own namespaces and removes them (and every process it started,
// by pid) in after(), whatever the tests did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { BootLab, type InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk, plainSerial } from './scenarios.ts';
import { expectInstalled, expectLocalBoot } from './expect.ts';

const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...firmwareFiles.bios, ...firmwareFiles.uefi]);

// Generous bounds for TCG in a busy CI runner; measured typical figures are in docs/e2e.md.
const biosInstallMs = 150_000;
const uefiInstallMs = 210_000;
const localBootMs = 120_000;

describe('pxe-pilot as the DHCP server', { skip, concurrency: true, timeout: 480_000 }, () => {
  const biosHost: InstallHost = { mac: '52:54:00:e2:e0:01', hostname: 'bios-node' };
  const uefiHost: InstallHost = { mac: '52:54:00:e2:e0:02', hostname: 'uefi-node' };
  let lab: BootLab | undefined;
  let pilot: PxePilot;

  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create('srv');
    // The router only advertises IPv6 here; pxe-pilot is the DHCP server.
    await lab.startRouter({ kind: 'router-advertisements-only' });
    // ipxe.efi, the usual UEFI choice; the proxy-mode lab uses snponly.efi (see UefiLoader).
    pilot = await lab.startPxePilot({ mode: 'server', standin, installHosts: [biosHost, uefiHost], uefiLoader: 'ipxe.efi' });
  });
  after(async () => {
    await lab?.destroy();
  });

  test('a BIOS machine (SeaBIOS + iPXE ROM) installs with its own answer from option 250, then boots its local disk', async () => {
    const install = await bootAndInstall(lab!, { name: 'srv-bios', firmware: 'bios', mac: biosHost.mac, serial: 'E2E-BIOS-1' }, biosInstallMs);
    await expectInstalled(pilot, install, { host: biosHost, firmware: 'bios', mode: 'server' });

    const second = await bootToLocalDisk(lab!, { name: 'srv-bios-again', firmware: 'bios', mac: biosHost.mac }, localBootMs);
    await expectLocalBoot(pilot, second, biosHost.mac);
  });

  test('a UEFI machine (OVMF PXE → TFTP ipxe.efi → iPXE → HTTP) installs with its own answer', async () => {
    const install = await bootAndInstall(lab!, { name: 'srv-uefi', firmware: 'uefi', mac: uefiHost.mac, serial: 'E2E-UEFI-1' }, uefiInstallMs);
    await expectInstalled(pilot, install, { host: uefiHost, firmware: 'uefi', mode: 'server' });
  });

  test('an unknown machine gets the menu and, after its timeout, local disk', async () => {
    const mac = '52:54:00:e2:e0:99';
    const run = await bootToLocalDisk(lab!, { name: 'srv-unknown', firmware: 'bios', mac }, localBootMs);
    assert.match(plainSerial(run.serial), new RegExp(`pxe-pilot: ${mac}`), 'the iPXE menu (titled with the MAC) was shown');
    const events = await pilot.events(mac);
    assert.ok(events.some((e) => e.protocol === 'http' && e.decision === 'menu'), `pxe-pilot recorded the menu; it recorded ${events.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`);
    // The timeout runs out inside the menu script, on the machine: the firmware moving on is the proof.
    assert.doesNotMatch(plainSerial(run.serial), /standin: init started/);
    assert.equal(await pilot.nodeState(mac).then((s) => s === 'installed' || s === 'installing' || s === 'install-pending'), false, 'an unknown machine is never armed for install');
  });
});

describe('pxe-pilot as ProxyDHCP beside a dnsmasq router', { skip, concurrency: true, timeout: 480_000 }, () => {
  const uefiHost: InstallHost = { mac: '52:54:00:e2:e1:01', hostname: 'proxy-uefi' };
  const biosHost: InstallHost = { mac: '52:54:00:e2:e1:02', hostname: 'proxy-bios' };
  let lab: BootLab | undefined;
  let pilot: PxePilot;

  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create('pxy');
    await lab.startRouter({ kind: 'addresses' });
    pilot = await lab.startPxePilot({ mode: 'proxy', standin, installHosts: [uefiHost, biosHost], uefiLoader: 'snponly.efi' });
  });
  after(async () => {
    await lab?.destroy();
  });

  test('a UEFI machine (OVMF PXE → TFTP snponly.efi → iPXE) installs with the answer URL on its kernel line, then boots past the network', async () => {
    const install = await bootAndInstall(lab!, { name: 'pxy-uefi', firmware: 'uefi', mac: uefiHost.mac, serial: 'E2E-UEFI-2' }, uefiInstallMs);
    await expectInstalled(pilot, install, { host: uefiHost, firmware: 'uefi', mode: 'proxy' });

    const second = await bootToLocalDisk(lab!, { name: 'pxy-uefi-again', firmware: 'uefi', mac: uefiHost.mac }, localBootMs);
    await expectLocalBoot(pilot, second, uefiHost.mac);
  });

  test('a BIOS machine installs with the answer URL on its kernel line', async () => {
    const install = await bootAndInstall(lab!, { name: 'pxy-bios', firmware: 'bios', mac: biosHost.mac, serial: 'E2E-BIOS-2' }, biosInstallMs);
    await expectInstalled(pilot, install, { host: biosHost, firmware: 'bios', mode: 'proxy' });
  });
});
