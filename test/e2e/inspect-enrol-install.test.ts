// From discovered to installed, by hardware: an unknown SeaBIOS machine with two disks is
// inspected by the real agent and shows as discovered; a [rule] matching its product is then added
// (SIGHUP), which gives it its settings and arms an install; at its next power-on it installs (the
// installer stand-in), its answer naming the smaller disk through {{install_disk}}, and the boot
// after that is its local disk. The lab (namespaces, every process by pid) is removed in after().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { agentBuildTools, buildAgentImage, installAgentImage } from '../helpers/agent-image.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { waitFor } from '../helpers/netns.ts';
import { BootLab, standinProfile } from './lab.ts';
import { agentLines, inspectUnknownMachine, type InspectedMachine } from './inspect-scenario.ts';

const skip = skipUnless(['root', qemuBinary, 'curl', ...standinTools, ...agentBuildTools, ...firmwareFiles.bios]);
const MiB = 1 << 20;

const machine: InspectedMachine = {
  name: 'enrol-bios',
  firmware: 'bios',
  mac: '52:54:00:1e:00:01',
  secondMac: '52:54:00:1e:00:02',
  smbios: { manufacturer: 'Acme Labs', product: 'Roadrunner-11', serial: 'RR-ENROL-7', uuid: '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9' },
  // The NVMe disk is the smaller one: the answer must name it.
  disks: [
    { bus: 'virtio', serial: 'VIRT-E1', sizeBytes: 96 * MiB },
    { bus: 'nvme', serial: 'NVME-E2', sizeBytes: 48 * MiB },
  ],
};

/** The answer every machine gets: its disk is the one the rule's install_disk chose. */
const answerTemplate = [
  '[global]',
  'fqdn = "{{hostname}}.lab.example"',
  '',
  '[network]',
  'source = "from-dhcp"',
  '',
  '[disk-setup]',
  'filesystem = "ext4"',
  'disk_list = ["{{install_disk}}"]',
  '',
].join('\n');

interface NodeView {
  state: string;
  discovered?: boolean;
  settingsFrom?: { source: string; rule?: string; reason: string };
}

describe('discovered, then enrolled by a rule, then installed on the disk the rule chose', { skip, concurrency: false, timeout: 2_400_000 }, () => {
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;

  before(
    async () => {
      const image = await buildAgentImage();
      const standin = await buildStandin();
      lab = await BootLab.create('enrl');
      await lab.startRouter({ kind: 'router-advertisements-only' });
      await installAgentImage(image, lab.path('assets'));
      pilot = await lab.startPxePilot({ mode: 'server', standin, installHosts: [], uefiLoader: 'snponly.efi', boot: { unknown: 'inspect' } });
      await writeFile(join(lab.path('answers'), 'default.toml'), answerTemplate);
    },
    { timeout: 15 * 60_000 },
  );
  after(async () => {
    await lab?.destroy();
  });

  test('inspected and discovered; a rule on its product arms the install; the answer names the smaller disk; then local disk', async () => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const run = await inspectUnknownMachine(lab, pilot, machine, 420_000);
    assert.match(run.serial, /pxe-pilot-agent: next: poweroff/, agentLines(run.serial));
    let node = (await pilot.admin<NodeView>(`/nodes/${machine.mac}`)).body!;
    assert.equal(node.discovered, true, JSON.stringify(node));
    assert.equal(node.settingsFrom?.source, 'none');

    // The operator adds a rule for this product, and reloads.
    const profile = await readFile(pilot.configFile, 'utf8');
    await writeFile(
      pilot.configFile,
      `${profile}\n[rule roadrunners]\nproduct = Roadrunner-*\ndisk_count = 2\naction = install\nprofile = ${standinProfile}\nhostname = rr-{{system.serial}}\ninstall_disk = smallest-ssd\n`,
    );
    const reloads = (): number => (pilot!.logText().match(/reloaded /g) ?? []).length;
    const before = reloads();
    pilot.child.kill('SIGHUP');
    await waitFor('the daemon to log the reload', () => reloads() > before, 30_000);
    node = (await pilot.admin<NodeView>(`/nodes/${machine.mac}`)).body!;
    assert.equal(node.settingsFrom?.source, 'rule', JSON.stringify(node.settingsFrom));
    assert.equal(node.settingsFrom?.rule, 'roadrunners');
    assert.equal(node.discovered, false);

    // Next power-on: armed on sight by the rule, installed by the stand-in, whose answer names the NVMe disk.
    const disks = machine.disks.map((d, i) => ({ file: lab!.path(`${machine.name}-disk${i}.img`), serial: d.serial, bus: d.bus }));
    const install = await lab.bootMachine({
      name: `${machine.name}-2`,
      firmware: 'bios',
      mac: machine.mac,
      moreNicMacs: [machine.secondMac],
      smbios: machine.smbios,
      disks,
    });
    try {
      await install.waitForSerial('the stand-in to print its answer', /standin: answer end/, 420_000);
      await install.waitForPowerOff(240_000);
    } finally {
      await install.stop();
    }
    const serial = await install.serial();
    const answer = /standin: answer begin\r?\n([\s\S]*?)standin: answer end/.exec(serial)?.[1] ?? '';
    assert.match(answer, /disk_list = \["\/dev\/nvme0n1"\]/, `the answer names the smaller disk:\n${answer}`);
    assert.match(answer, /fqdn = "rr-rr-enrol-7\.lab\.example"/, `the rule's hostname template:\n${answer}`);
    await waitFor('the install to be reported', async () => (await pilot!.admin<NodeView>(`/nodes/${machine.mac}`)).body?.state === 'installed', 60_000);

    // And the boot after that is the local disk.
    const local = await lab.bootMachine({
      name: `${machine.name}-3`,
      firmware: 'bios',
      mac: machine.mac,
      moreNicMacs: [machine.secondMac],
      smbios: machine.smbios,
      disks,
    });
    try {
      await local.waitForSerial('the firmware to go on to its disk', /Booting from Hard Disk/, 300_000);
    } finally {
      await local.stop();
    }
    const explained = await pilot.admin<unknown>(`/nodes/${machine.mac}/explain`);
    assert.match(explained.text, /installed at/, explained.text.slice(0, 3000));
  });
});
