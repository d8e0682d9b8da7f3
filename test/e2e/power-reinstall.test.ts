// reinstall --now end to end over IPMI: OpenIPMI's ipmi_sim in the lab namespace is the BMC of a
// real QEMU machine (ipmi-bmc-extern + isa-ipmi-kcs give it the in-band interface too); its
// chassis_control script makes `bootdev pxe` and the power commands real by starting QEMU with
// the boot order it was given. `pxe-pilot nodes reinstall <mac> --now` takes the machine from
// powered off to installed (the installer stand-in) to booting its disk, and nobody touches QEMU.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinSays, standinTools } from '../helpers/standin.ts';
import { waitFor } from '../helpers/netns.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { installedAt } from './power-timing.ts';
import { answerFor, BootLab, lan, lanNs, standinProfile, type InstallHost } from './lab.ts';
import { ipmiDeviceArgs, prepareBmcMachine, startLabIpmiSim, type BmcMachine } from './bmc-machine.ts';

const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', 'ipmi_sim', 'ipmitool', 'truncate', ...standinTools, ...firmwareFiles.bios]);

const host: InstallHost = { mac: '52:54:00:e2:f0:01', hostname: 'ipmi-node' };
const BMC_USER = 'admin';
const BMC_PASSWORD = 'e2e-ipmi-Pw-5d21';
/** Generous for TCG on a loaded runner: power on, iPXE, the stand-in, its reboot. */
const INSTALL_MS = 300_000;

let lab: BootLab | undefined;
let machine: BmcMachine | undefined;
let pilot: PxePilot | undefined;

before(async () => {
  if (skip) return;
  const standin = await buildStandin();
  lab = await BootLab.create('pwr');
  await lab.startRouter({ kind: 'router-advertisements-only' });
  await lab.net.addTap(lanNs, 'tapbmc', lan.bridge);
  const dir = lab.path(host.hostname);
  await mkdir(dir, { recursive: true });
  machine = await prepareBmcMachine(lab.net, { name: host.hostname, mac: host.mac, tap: 'tapbmc', workDir: dir, extraArgs: ipmiDeviceArgs });
  await startLabIpmiSim(lab.net, machine as BmcMachine & { script: string }, BMC_USER, BMC_PASSWORD);
  const credentials = lab.path('bmc');
  await mkdir(credentials, { mode: 0o700 });
  await writeFile(join(credentials, lan.server), `username = ${BMC_USER}\npassword = ${BMC_PASSWORD}\n`, { mode: 0o600 });
  await chmod(join(credentials, lan.server), 0o600);
  pilot = await lab.startPxePilot({
    mode: 'server',
    standin,
    installHosts: [],
    uefiLoader: 'snponly.efi',
    extraSections: { power: { credentials_dir: credentials, poll_seconds: 0, timeout_seconds: 10 } },
    // Not armed by the profile: only reinstall --now arms it. standin.reboot: the stand-in reboots
    // into "the installed system" (its disk) as a real installer does.
    extraHosts: [{ mac: host.mac, hostname: host.hostname, profile: standinProfile, bmc: `ipmi://${lan.server}`, cmdline: 'standin.reboot' }],
  });
  await writeFile(lab.path('answers', 'hosts', `${host.mac.replace(/:/g, '-')}.toml`), answerFor(host));
});

after(async () => {
  await machine?.stop();
  await lab?.destroy();
});

/** `pxe-pilot <args>` inside the lab namespace, against the lab's daemon. */
async function pxePilotCli(args: string[]) {
  if (!pilot) throw new Error('the lab did not start');
  return pilot.cli(args);
}

test(
  'nodes reinstall --now over IPMI: from powered off to installed to booting its disk, nobody touching QEMU',
  { skip, timeout: INSTALL_MS + 120_000 },
  async () => {
    assert.ok(machine && pilot);
    assert.equal(machine.running(), false, 'the machine starts powered off');
    const started = Date.now();
    const cli = await pxePilotCli(['nodes', 'reinstall', host.mac, '--now']);
    const powerStepsDone = Date.now();
    assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
    assert.match(cli.stdout, new RegExp(`${host.mac}  armed by admin, profile ${standinProfile}`));
    assert.match(cli.stdout, new RegExp(`next boot set to the network, once, through ipmi://${lan.server.replace(/\./g, '\\.')}`));
    assert.match(cli.stdout, /powered on \(it was off\) through ipmi:\/\//);
    assert.equal(machine.running(), true, 'ipmi_sim powered the machine on (chassis_control started QEMU)');

    await waitFor('the machine to be installed (the webhook)', async () => (await pilot!.nodeState(host.mac)) === 'installed', INSTALL_MS, 1000);
    const installed = await installedAt(pilot, host.mac);
    await machine.waitForSerial('the stand-in to reboot', standinSays.rebooting, 60_000);
    const rebootAt = machine.serial().lastIndexOf(standinSays.rebooting);
    await machine.waitForSerial('the machine to boot its disk after the reboot', 'Booting from Hard Disk', 120_000, rebootAt);

    // One power-on, with the network once then the disk: the BMC's one-time override.
    assert.match(machine.powerLog(), /^\S+ start once=n,order=c\n$/);
    const serial = machine.serial();
    assert.match(serial.slice(0, rebootAt), new RegExp(standinSays.init), 'the first boot (network) ran the installer');
    // After the reboot its first boot device is the disk (the override was for one boot); this lab's
    // disk is blank, so SeaBIOS goes on to the others after it, which is past what is asserted here.
    const afterReboot = serial.slice(rebootAt, serial.indexOf('Booting from Hard Disk', rebootAt));
    assert.doesNotMatch(afterReboot, /Booting from ROM|standin: init started/, 'after the reboot it booted its disk first, not the network');

    // The timeline reads armed → next boot set to the network → powered on → DHCP → … → installed.
    const explain = await pilot.explain(host.mac);
    const order = ['reinstall --now → armed', 'reinstall --now → network-boot', 'reinstall --now → power', 'DHCP', 'installed'];
    let from = 0;
    for (const step of order) {
      const at = explain.indexOf(step, from);
      assert.ok(at >= 0, `explain shows "${step}" after the steps before it:\n${explain}`);
      from = at;
    }
    process.stdout.write(
      `# reinstall --now over IPMI under TCG: power steps ${((powerStepsDone - started) / 1000).toFixed(1)} s, to installed ${((installed - started) / 1000).toFixed(1)} s\n`,
    );
  },
);
