// The real Debian network installer under OVMF Secure Boot (the full matrix: PXE_PILOT_FULL_MATRIX=1):
// Debian's signed shim and GRUB load d-i's signed kernel and initrd over TFTP (loader = grub),
// d-i fetches its preseed from /preseed/<mac>.cfg, reports through the webhook and powers off.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { bootDebianMachine, debianInstallerFiles, debianNetbootTree, startDebianPilot, type DebianHost } from '../helpers/debian-installer.ts';
import { BootLab, lan } from './lab.ts';
import { plainSerial, waitForInstallerPowerOff } from './scenarios.ts';

const grubFiles = ['bootnetx64.efi', 'grubx64.efi'].map((f) => join(debianNetbootTree, 'debian-installer', 'amd64', f));
const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', 'sha256sum', ...firmwareFiles['uefi-secureboot'], ...debianInstallerFiles, ...grubFiles]);

// Generous for TCG on a loaded runner (kernel and initrd over TFTP: minutes).
const installerMs = 420_000;

describe('the real Debian installer through pxe-pilot (OVMF Secure Boot, shim → GRUB, server mode)', { skip, timeout: installerMs + 180_000 }, () => {
  const host: DebianHost = { mac: '52:54:00:e2:d1:02', hostname: 'debian-sb-node', loader: 'grub' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;
  before(async () => {
    lab = await BootLab.create('disb');
    await lab.startRouter({ kind: 'router-advertisements-only' });
    pilot = await startDebianPilot(lab, { hosts: [host], dns: lan.server, router: lan.router });
  });
  after(async () => {
    await lab?.destroy();
  });

  test("the signed shim and GRUB load d-i's signed kernel over TFTP; d-i fetches its preseed, reports and powers off", async () => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const machine = await bootDebianMachine(lab, { name: 'di-sb', firmware: 'uefi-secureboot', mac: host.mac, memoryMiB: 1024 });
    await waitForInstallerPowerOff(machine, installerMs);
    const seconds = (Date.now() - machine.startedAt) / 1000;
    const serial = plainSerial(await machine.serial());
    assert.equal(await machine.exited, 0, 'QEMU exited by itself: the guest powered off');
    assert.match(serial, /EFI stub: UEFI Secure Boot is enabled/, "shim verified d-i's signed kernel with Secure Boot on");
    const events = await pilot.events(host.mac);
    const all = events.map((e) => `${e.protocol}/${e.kind}/${e.decision}: ${e.reason}`).join('\n');
    assert.ok(
      events.some((e) => e.protocol === 'tftp' && e.kind === 'GRUB config' && e.decision === 'install' && /install consumed/.test(e.reason)),
      `pxe-pilot served the GRUB configuration that installs, consuming the install as /boot does for iPXE; events:\n${all}`,
    );
    assert.ok(
      events.some((e) => e.protocol === 'answer' && e.kind === 'GET /preseed/<mac>.cfg' && e.decision === 'served'),
      `pxe-pilot served the preseed; events:\n${all}`,
    );
    assert.ok(
      events.some((e) => e.protocol === 'webhook' && e.decision === 'installed'),
      `the early_command's report reached the webhook; events:\n${all}`,
    );
    assert.equal(await pilot.nodeState(host.mac), 'installed');
    process.stdout.write(`# di-sb: power on to power off ${seconds.toFixed(0)} s\n`);
  });
});
