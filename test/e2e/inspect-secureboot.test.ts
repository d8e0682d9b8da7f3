// Inspection under Secure Boot: OVMF with Microsoft's keys and Secure Boot on, pxe-pilot as the
// DHCP server with loader = grub and `[boot] unknown = inspect`. The unknown machine goes through
// Debian's signed shim and GRUB to the agent on Debian's signed generic kernel, reports that Secure
// Boot is on, and powers off. The lab (namespaces, every process by pid) is removed in after().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { agentBuildTools, buildAgentImage, installAgentImage } from '../helpers/agent-image.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { SIGNED_CHAINS, signedFileOnDisk } from '../../src/boot/loaders.ts';
import { BootLab } from './lab.ts';
import { assertInventoryIsMachine, inspectUnknownMachine, reportFigures, type InspectedMachine } from './inspect-scenario.ts';

const grubDir = '/usr/lib/debian-installer/images/12';
const amd64 = SIGNED_CHAINS.find((c) => c.debianArch === 'amd64')!;
const signedFiles = [signedFileOnDisk(grubDir, amd64, amd64.shim), signedFileOnDisk(grubDir, amd64, amd64.grub)];
const skip = skipUnless(['root', qemuBinary, ...standinTools, ...agentBuildTools, ...firmwareFiles['uefi-secureboot'], ...signedFiles]);
// GRUB fetches the kernel and the initrd over TFTP in lockstep: the slowest of the three paths.
const inspectMs = 900_000;

const MiB = 1 << 20;
const machine: InspectedMachine = {
  name: 'insp-sb',
  firmware: 'uefi-secureboot',
  mac: '52:54:00:1a:00:31',
  secondMac: '52:54:00:1a:00:32',
  smbios: { manufacturer: 'Initech', product: 'TPS-1', serial: 'INI-SB-0001', uuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0' },
  disks: [
    { bus: 'virtio', serial: 'VIRT-S1', sizeBytes: 40 * MiB },
    { bus: 'nvme', serial: 'NVME-S2', sizeBytes: 24 * MiB },
  ],
};

describe('inspection under Secure Boot (OVMF, Microsoft keys): shim → GRUB → the agent on the signed kernel', { skip, timeout: 2_400_000 }, () => {
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;

  before(
    async () => {
      const image = await buildAgentImage();
      const standin = await buildStandin();
      lab = await BootLab.create('insp-sb');
      await lab.startRouter({ kind: 'router-advertisements-only' });
      await installAgentImage(image, lab.path('assets'));
      pilot = await lab.startPxePilot({ mode: 'server', standin, installHosts: [], uefiLoader: 'snponly.efi', loader: 'grub', boot: { unknown: 'inspect' } });
    },
    { timeout: 15 * 60_000 },
  );
  after(async () => {
    await lab?.destroy();
  });

  test('the agent boots through the signed chain, reports Secure Boot on, and the stored inventory is the machine', async () => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const run = await inspectUnknownMachine(lab, pilot, machine, inspectMs);
    reportFigures('OVMF Secure Boot + shim + GRUB', run);
    assert.match(run.serial, /NBP filename is debian-installer\/amd64\/bootnetx64\.efi/, 'the firmware loaded the signed shim');
    assert.match(run.serial, /Fetching Netboot Image debian-installer\/amd64\/grubx64\.efi/, 'shim loaded the signed GRUB');
    assert.match(run.serial, /pxe-pilot: inspecting with pxe-pilot-agent\//, "GRUB printed the policy's reason");
    assertInventoryIsMachine(run.inventory, machine, { mode: 'uefi', secureBoot: true });
  });
});
