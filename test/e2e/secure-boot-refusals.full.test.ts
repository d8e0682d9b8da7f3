// Secure Boot refusals (the full matrix: PXE_PILOT_FULL_MATRIX=1): with loader = ipxe the
// firmware refuses the unsigned snponly.efi and explain says to use loader = grub; an unsigned
// kernel under loader = grub stops at "bad shim signature" and the event log names the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { firmwareMovedOn } from '../helpers/qemu.ts';
import { adminToken, lanNs, pilotBase } from './lab.ts';
import { ipxeMac, refusalMs, secureBootLab, skip, unsignedMac, unsignedProfile } from './secure-boot-lab.ts';

describe(
  'Secure Boot (OVMF, Microsoft keys): what the firmware and shim refuse, and what explain says',
  { skip, concurrency: false, timeout: 1_200_000 },
  () => {
    const running = secureBootLab();

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
  },
);
