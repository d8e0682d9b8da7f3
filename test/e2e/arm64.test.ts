// ARM64 UEFI end to end: QEMU's arm64 `virt` machine with Debian's AAVMF firmware network-boots
// through pxe-pilot as the DHCP server. The lab (namespaces, taps, machines) is test/e2e/lab.ts;
// the profile is written here, since the arm64 machine needs its own image (the arm64 stand-in,
// console on ttyAMA0). Everything runs inside the namespaces this file creates and removes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile, link, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, firmwareMovedOn, qemuArm64Binary } from '../helpers/qemu.ts';
import { buildStandin, standinConsole, standinTools, type Standin } from '../helpers/standin.ts';
import { PxePilot, type HostSection } from '../helpers/daemon.ts';
import { adminToken, answerFor, BootLab, defaultAnswer, lan, lanNs, pilotBase, pilotHttpPort, type InstallHost } from './lab.ts';
import { plainSerial } from './scenarios.ts';

const skip = skipUnless(['root', qemuArm64Binary, 'curl', ...standinTools, ...firmwareFiles.arm64]);

/** The arm64 stand-in, published like the x86-64 one, as a Proxmox VE version. */
const arm64Profile = 'proxmox-ve/9.1-standin-arm64';

// Generous bounds for TCG on a busy 2-core machine; the measured figures are in docs/firmware.md.
const firmwareGivesUpMs = 180_000;

/** Hard link when possible, else a copy: pxe-pilot serves no symlinks. */
async function place(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

interface ArmPilotSetup {
  standin: Standin;
  /** Machines armed for install, each with its own answer file. */
  installHosts: InstallHost[];
  /** Machines pxe-pilot knows, booting the menu. */
  otherHosts: HostSection[];
  boot?: Record<string, string | number>;
}

/** pxe-pilot as the DHCP server on the lab bridge, with the arm64 stand-in as an install image. */
async function startArmPilot(lab: BootLab, setup: ArmPilotSetup): Promise<PxePilot> {
  const answers = lab.path('answers');
  const imageDir = join(lab.path('assets'), ...arm64Profile.split('/'));
  await mkdir(join(answers, 'hosts'), { recursive: true });
  await mkdir(imageDir, { recursive: true });
  await mkdir(lab.path('state'), { recursive: true });
  await place(setup.standin.kernel, join(imageDir, 'vmlinuz'));
  await place(setup.standin.initrd, join(imageDir, 'initrd'));
  await writeFile(join(imageDir, 'cmdline'), `console=${standinConsole.arm64} quiet\n`);
  for (const host of setup.installHosts) await writeFile(join(answers, 'hosts', `${host.mac.replace(/:/g, '-')}.toml`), answerFor(host));
  await writeFile(join(answers, 'default.toml'), defaultAnswer);
  const spec = {
    sections: {
      server: { address: lan.server, interface: lan.bridge, state_dir: lab.path('state'), log_level: 'debug' },
      http: { port: pilotHttpPort, bind: '0.0.0.0', admin_token: adminToken },
      https: { enabled: false },
      tftp: { enabled: true, port: 69, root: '/usr/lib/ipxe' },
      dhcp: { mode: 'server', range_start: lan.rangeStart, range_end: lan.rangeEnd, netmask: lan.netmask, lease_time: 600 },
      boot: { default_action: 'menu', unknown: 'menu', menu_default: 'local', menu_timeout: 3, ...setup.boot },
      answers: { dir: answers },
      assets: { dir: lab.path('assets') },
    },
    hosts: [
      ...setup.installHosts.map((h): HostSection => ({ mac: h.mac, hostname: h.hostname, action: 'install', profile: arm64Profile })),
      ...setup.otherHosts,
    ],
  };
  return PxePilot.start(lab.net, lanNs, { configFile: lab.path('pxe-pilot.ini'), baseUrl: pilotBase, adminToken, spec });
}

describe('an ARM64 UEFI machine (QEMU virt, AAVMF) with pxe-pilot as the DHCP server', { skip, timeout: 600_000 }, () => {
  // Debian 12 ships no arm64 iPXE: with loader = ipxe, [boot] uefi_arm64 names a file nobody has.
  const ipxeHost: HostSection = { mac: '52:54:00:a6:40:01', hostname: 'arm-ipxe', action: 'menu' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;

  before(async () => {
    const standin = await buildStandin(undefined, 'arm64');
    lab = await BootLab.create('arm');
    pilot = await startArmPilot(lab, { standin, installHosts: [], otherHosts: [ipxeHost] });
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
});
