// reinstall --now end to end over Redfish: the Redfish double, run in the lab namespace, is the
// BMC of a real QEMU machine and drives it through QMP (power state, ForceOff, restarts, the
// Once/Pxe boot override). Debian's redfishtool drives it first (reads the system, its power
// state and boot override, sets the override, resets it), so the double is honest; then
// `pxe-pilot nodes reinstall <mac> --now` installs the machine. Beside it, the same install
// started by hand (arm, then start QEMU) gives the figure to compare with.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, repoRoot, standinSays, standinTools } from '../helpers/standin.ts';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { installedAt } from './power-timing.ts';
import { answerFor, BootLab, lan, lanNs, standinProfile, type InstallHost } from './lab.ts';
import { prepareBmcMachine, type BmcMachine } from './bmc-machine.ts';
import { bootAndInstall } from './scenarios.ts';
import { expectInstalled } from './expect.ts';

const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', 'redfishtool', 'openssl', 'truncate', ...standinTools, ...firmwareFiles.bios]);

const host: InstallHost = { mac: '52:54:00:e2:f1:01', hostname: 'redfish-node' };
/** The same install, started by hand: armed, then QEMU started by the test. */
const byHand: InstallHost = { mac: '52:54:00:e2:f1:02', hostname: 'by-hand-node' };
const BMC_USER = 'root';
const BMC_PASSWORD = 'e2e-redfish-Pw-8c4a';
const BMC_PORT = 9443;
const INSTALL_MS = 300_000;

let lab: BootLab | undefined;
let machine: (BmcMachine & { script: string }) | undefined;
let pilot: PxePilot | undefined;
let bmc: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  const standin = await buildStandin();
  lab = await BootLab.create('pwrf');
  await lab.startRouter({ kind: 'router-advertisements-only' });
  await lab.net.addTap(lanNs, 'tapbmc', lan.bridge);
  const dir = lab.path(host.hostname);
  await mkdir(dir, { recursive: true });
  const qmpSocket = join(dir, 'qmp.sock');
  machine = await prepareBmcMachine(lab.net, {
    name: host.hostname,
    mac: host.mac,
    tap: 'tapbmc',
    workDir: dir,
    extraArgs: ['-qmp', `unix:${qmpSocket},server=on,wait=off`],
  });
  bmc = lab.net.spawn(
    lanNs,
    [
      process.execPath,
      '--import',
      'tsx',
      'test/e2e/redfish-bmc-main.ts',
      JSON.stringify({ address: lan.server, port: BMC_PORT, user: BMC_USER, password: BMC_PASSWORD, script: machine.script, qmp: qmpSocket }),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = collectOutput(bmc);
  await waitFor(
    'the Redfish double to listen in the lab namespace',
    () => {
      if (bmc!.exitCode !== null) throw new Error(`the Redfish double exited: ${out.text()}`);
      return out.text().includes('"fingerprint"');
    },
    60_000,
    200,
  );
  const { fingerprint } = JSON.parse(
    out
      .text()
      .split('\n')
      .find((l) => l.includes('"fingerprint"'))!,
  ) as { fingerprint: string };
  const credentials = lab.path('bmc');
  await mkdir(credentials, { mode: 0o700 });
  const file = join(credentials, `${lan.server}:${BMC_PORT}`);
  await writeFile(file, `username = ${BMC_USER}\npassword = ${BMC_PASSWORD}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  pilot = await lab.startPxePilot({
    mode: 'server',
    standin,
    installHosts: [],
    uefiLoader: 'snponly.efi',
    extraSections: { power: { credentials_dir: credentials, poll_seconds: 0, timeout_seconds: 15 } },
    extraHosts: [
      {
        mac: host.mac,
        hostname: host.hostname,
        profile: standinProfile,
        bmc: `redfish://${lan.server}:${BMC_PORT}`,
        bmc_tls_fingerprint: fingerprint,
        cmdline: 'standin.reboot',
      },
      { mac: byHand.mac, hostname: byHand.hostname, profile: standinProfile },
    ],
  });
  for (const h of [host, byHand]) await writeFile(lab.path('answers', 'hosts', `${h.mac.replace(/:/g, '-')}.toml`), answerFor(h));
});

after(async () => {
  await machine?.stop();
  await lab?.destroy();
});

/** A command inside the lab namespace. */
async function inLab(argv: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return lab!.net.exec(lanNs, argv, { allowFail: true, timeoutMs });
}

async function pxePilotCli(args: string[]) {
  if (!pilot) throw new Error('the lab did not start');
  return pilot.cli(args);
}

async function redfishtool(args: string[]) {
  return inLab(['redfishtool', '-r', `${lan.server}:${BMC_PORT}`, '-u', BMC_USER, '-p', BMC_PASSWORD, '-S', 'Always', '-T', '10', ...args], 60_000);
}

const seconds = (ms: number): string => (ms / 1000).toFixed(1);

test('redfishtool drives the QMP-backed Redfish double: the system, its power state, the boot override, resets', { skip, timeout: 120_000 }, async () => {
  assert.ok(machine);
  const system = await redfishtool(['Systems', '-I', '1', 'get']);
  assert.equal(system.code, 0, system.stderr);
  assert.equal((JSON.parse(system.stdout) as { PowerState: string }).PowerState, 'Off');
  const override = await redfishtool(['Systems', '-I', '1', 'setBootOverride', 'Once', 'Pxe']);
  assert.equal(override.code, 0, override.stderr);
  const boot = await redfishtool(['-P', 'Boot', 'Systems', '-I', '1', 'get']);
  assert.match(boot.stdout, /"BootSourceOverrideTarget": "Pxe"/);
  const on = await redfishtool(['Systems', '-I', '1', 'reset', 'On']);
  assert.equal(on.code, 0, on.stderr);
  assert.equal(machine.running(), true, 'Reset On started QEMU');
  assert.match(machine.powerLog(), /start once=n,order=c\n$/, 'with the network once: the override was honoured');
  const powered = await redfishtool(['-P', 'PowerState', 'Systems', '-I', '1', 'get']);
  assert.deepEqual(JSON.parse(powered.stdout), { PowerState: 'On' });
  const off = await redfishtool(['Systems', '-I', '1', 'reset', 'ForceOff']);
  assert.equal(off.code, 0, off.stderr);
  assert.equal(machine.running(), false, 'ForceOff (QMP quit) ended QEMU');
  const after = await redfishtool(['-P', 'Boot', 'Systems', '-I', '1', 'get']);
  assert.match(after.stdout, /"BootSourceOverrideEnabled": "Disabled"/, 'the Once override was used up by that boot');
});

test('nodes reinstall --now over Redfish installs the QEMU machine; the same install by hand beside it', { skip, timeout: 2 * INSTALL_MS }, async () => {
  assert.ok(machine && pilot && lab);
  assert.equal(machine.running(), false);
  const bootsBefore = machine.powerLog().split('\n').filter(Boolean).length;
  const started = Date.now();
  const cli = await pxePilotCli(['nodes', 'reinstall', host.mac, '--now']);
  const powerStepsDone = Date.now();
  assert.equal(cli.code, 0, `${cli.stdout}\n${cli.stderr}`);
  // "(Legacy)" when pxe-pilot saw it boot (BIOS) during redfishtool's reset On above: the mode is sent then.
  assert.match(cli.stdout, /next boot set to the network, once( \(Legacy\))?, through redfish:\/\//);
  assert.match(cli.stdout, /powered on \(it was off\) through redfish:\/\//);
  await waitFor('the machine to be installed (the webhook)', async () => (await pilot!.nodeState(host.mac)) === 'installed', INSTALL_MS, 1000);
  const installed = await installedAt(pilot, host.mac);
  await machine.waitForSerial('the stand-in to reboot', standinSays.rebooting, 60_000);
  const rebootAt = machine.serial().lastIndexOf(standinSays.rebooting);
  await machine.waitForSerial('the machine to boot its disk after the reboot', 'Booting from Hard Disk', 120_000, rebootAt);
  const boots = machine.powerLog().split('\n').filter(Boolean).slice(bootsBefore);
  assert.equal(boots.length, 1, boots.join('\n'));
  assert.match(boots[0]!, / start once=n,order=c$/);
  const explain = await pilot.explain(host.mac);
  let from = 0;
  for (const step of ['reinstall --now → armed', 'reinstall --now → network-boot', 'reinstall --now → power', 'DHCP', 'installed']) {
    const at = explain.indexOf(step, from);
    assert.ok(at >= 0, `explain shows "${step}" after the steps before it:\n${explain}`);
    from = at;
  }
  await machine.stop();

  // By hand: arm it, start QEMU ourselves (network first), wait for the same "installed".
  const armedAt = Date.now();
  const armed = await pxePilotCli(['nodes', 'reinstall', byHand.mac]);
  assert.equal(armed.code, 0, armed.stderr);
  const run = await bootAndInstall(lab, { name: byHand.hostname, firmware: 'bios', mac: byHand.mac }, INSTALL_MS);
  await expectInstalled(pilot, run, { host: byHand, firmware: 'bios', mode: 'server' });
  const byHandInstalled = await installedAt(pilot, byHand.mac);
  process.stdout.write(
    `# under TCG: reinstall --now over Redfish: power steps ${seconds(powerStepsDone - started)} s, to installed ${seconds(installed - started)} s; ` +
      `by hand (arm, start QEMU): to installed ${seconds(byHandInstalled - armedAt)} s (QEMU power-on to power-off ${run.seconds.toFixed(1)} s)\n`,
  );
});
