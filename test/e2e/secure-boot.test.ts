// Secure Boot end to end (in CI): OVMF with Microsoft's keys enrolled and Secure Boot on,
// pxe-pilot as the DHCP server, loader = grub: the machine goes through Debian's signed shim and
// GRUB to the stand-in on Debian's signed cloud kernel, installs and reports as on the iPXE path,
// then boots its local disk. The refusals (an unsigned iPXE, an unsigned kernel) are in the full
// matrix: secure-boot-refusals.full.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bootAndInstall, bootToLocalDisk, plainSerial } from './scenarios.ts';
import { expectInstalled, expectLocalBoot } from './expect.ts';
import { installMs, localBootMs, secureBootLab, signedHost, skip } from './secure-boot-lab.ts';

describe('Secure Boot (OVMF, Microsoft keys) with pxe-pilot as the DHCP server and loader = grub', { skip, concurrency: false, timeout: 1_200_000 }, () => {
  const running = secureBootLab();

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
});
