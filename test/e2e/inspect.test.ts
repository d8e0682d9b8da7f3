// Inspection end to end, pxe-pilot as the DHCP server with `[boot] unknown = inspect`: an unknown
// QEMU machine (SeaBIOS with iPXE, then OVMF with its own PXE and snponly.efi) boots the real agent
// image over the network, reports and powers off; the inventory pxe-pilot stored equals the
// identity, disks and NICs QEMU was given, and names the LLDP neighbour, a real lldpd on the lab's
// bridge. An agent image whose files changed is then not served, and the reason is given. The lab
// (namespaces, every process by pid) is removed in after().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { agentBuildTools, buildAgentImage, installAgentImage } from '../helpers/agent-image.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { BootLab, lanNs, pilotBase } from './lab.ts';
import { startLldpNeighbour, neighbour, type LldpNeighbour } from './lldp-neighbour.ts';
import { assertInventoryIsMachine, inspectUnknownMachine, reportFigures, type InspectedMachine } from './inspect-scenario.ts';

const skip = skipUnless(['root', qemuBinary, 'curl', 'lldpd', 'lldpcli', ...standinTools, ...agentBuildTools, ...firmwareFiles.bios, ...firmwareFiles.uefi]);
// Generous for TCG on a loaded 2-core runner: the kernel and a 13 MB initrd over HTTP, then the agent.
const inspectMs = 420_000;
const buildMs = 15 * 60_000;

const MiB = 1 << 20;
const biosMachine: InspectedMachine = {
  name: 'insp-bios',
  firmware: 'bios',
  mac: '52:54:00:1a:00:01',
  secondMac: '52:54:00:1a:00:02',
  // A UUID whose first three fields read differently little-endian: the byte order shows.
  smbios: { manufacturer: 'Acme Labs', product: 'Roadrunner-9', serial: 'RR-BIOS-0042', uuid: '12345678-9abc-def0-1122-3344556677a1' },
  disks: [
    { bus: 'virtio', serial: 'VIRT-B1', sizeBytes: 64 * MiB },
    { bus: 'nvme', serial: 'NVME-B2', sizeBytes: 32 * MiB },
  ],
};
const uefiMachine: InspectedMachine = {
  name: 'insp-uefi',
  firmware: 'uefi',
  mac: '52:54:00:1a:00:11',
  secondMac: '52:54:00:1a:00:12',
  smbios: { manufacturer: 'Globex, Inc.', product: 'Hammer 2U', serial: 'GLX-UEFI-7', uuid: 'a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90' },
  disks: [
    { bus: 'virtio', serial: 'VIRT-U1', sizeBytes: 48 * MiB },
    { bus: 'nvme', serial: 'NVME-U2', sizeBytes: 96 * MiB },
  ],
};

describe(
  'inspection: unknown machines boot the agent, report and power off (server mode, [boot] unknown = inspect)',
  { skip, concurrency: false, timeout: 2_400_000 },
  () => {
    let lab: BootLab | undefined;
    let pilot: PxePilot | undefined;
    let lldp: LldpNeighbour | undefined;
    let agentFolder = '';

    before(
      async () => {
        const image = await buildAgentImage();
        const standin = await buildStandin();
        lab = await BootLab.create('insp');
        await lab.startRouter({ kind: 'router-advertisements-only' });
        lldp = await startLldpNeighbour(lab);
        agentFolder = await installAgentImage(image, lab.path('assets'));
        pilot = await lab.startPxePilot({ mode: 'server', standin, installHosts: [], uefiLoader: 'snponly.efi', boot: { unknown: 'inspect' } });
      },
      { timeout: buildMs },
    );
    after(async () => {
      await lab?.destroy();
      await lldp?.cleanUp();
    });
    const running = (): { lab: BootLab; pilot: PxePilot } => {
      if (!lab || !pilot) throw new Error('the lab did not start');
      return { lab, pilot };
    };

    test('SeaBIOS: the stored inventory is what QEMU was given, boot mode bios, and the LLDP neighbour is the lab switch', async () => {
      const { lab, pilot } = running();
      const run = await inspectUnknownMachine(lab, pilot, biosMachine, inspectMs);
      reportFigures('SeaBIOS + iPXE', run);
      assertInventoryIsMachine(run.inventory, biosMachine, { mode: 'bios', secureBoot: false });
      const bootNic = run.inventory.nics.find((n) => n.mac === biosMachine.mac);
      assert.deepEqual(
        bootNic?.lldp && { systemName: bootNic.lldp.systemName, portId: bootNic.lldp.portId, portDescription: bootNic.lldp.portDescription },
        { systemName: neighbour.systemName, portId: neighbour.portId, portDescription: neighbour.portDescription },
        `the LLDP neighbour of ${biosMachine.mac}: ${JSON.stringify(bootNic)}`,
      );
      assert.match(bootNic?.lldp?.chassisId ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'lldpd sends its MAC as chassis id');
      assert.match(run.serial, /pxe-pilot-agent: next: poweroff/, 'the agent asked what next and was told to power off');
    });

    test('OVMF: the same from UEFI, boot mode uefi with Secure Boot off', async () => {
      const { lab, pilot } = running();
      const run = await inspectUnknownMachine(lab, pilot, uefiMachine, inspectMs);
      reportFigures('OVMF + snponly.efi', run);
      assertInventoryIsMachine(run.inventory, uefiMachine, { mode: 'uefi', secureBoot: false });
    });

    test('an agent image whose files changed is not served, and /boot and explain say why', async () => {
      const { lab, pilot } = running();
      // A new file in place of the hard link: the cached image stays whole.
      const initrd = join(agentFolder, 'initrd');
      const bytes = await readFile(initrd);
      await rm(initrd);
      await writeFile(initrd, Buffer.concat([bytes, Buffer.from('changed')]));
      const mac = '52:54:00:1a:00:21';
      const boot = await lab.net.exec(lanNs, ['curl', '-s', `${pilotBase}/boot?mac=${mac}`]);
      assert.doesNotMatch(boot.stdout, /pxe_pilot\.token=/, `no agent is booted:\n${boot.stdout}`);
      assert.match(boot.stdout, /pxe-pilot-agent\/\S+ is not offered/, boot.stdout);
      assert.match(boot.stdout, /agent build --force/, boot.stdout);
      const explained = await pilot.admin<unknown>(`/nodes/${mac}/explain`);
      assert.match(explained.text, /pxe-pilot-agent\/\S+ is not offered/, explained.text.slice(0, 2000));
    });
  },
);
