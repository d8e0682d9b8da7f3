// Issue 26: power-on to a deployed OS booted, against power-on through Debian's network installer,
// in the firmware lab with the same QEMU settings for both (OVMF, TCG, one vCPU, 1024 MiB, one
// blank 256 MiB virtio disk, one machine at a time), runs interleaved: deploy, d-i, deploy, d-i…
//
//   node --import tsx bench/deploy/vs-install.ts [--runs N] [--budget-minutes M]
//
// Root: the lab's namespaces. The lab has no Debian mirror (and must not reach one), so d-i stops
// where its preseed's early_command reports through the webhook and powers off: the part of an
// install before any package is fetched, a lower bound of an install. Every machine gets its own
// MAC and [host], so no run re-arms another. The lab is destroyed in finally and on SIGINT/SIGTERM.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { skipUnless } from '../../test/helpers/requirements.ts';
import { firmwareFiles, qemuBinary, type Machine } from '../../test/helpers/qemu.ts';
import { buildStandin, standinTools } from '../../test/helpers/standin.ts';
import { agentBuildTools, buildAgentImage, installAgentImage } from '../../test/helpers/agent-image.ts';
import { buildDeployDiskImage, DEPLOYED_MARKER, deployDiskImageTools } from '../../test/helpers/deploy-disk-image.ts';
import { debianDhcpSection, debianInstallerFiles, debianNetbootTree, debianProfile, preseedFor, type DebianHost } from '../../test/helpers/debian-installer.ts';
import { addAssetWithCli } from '../../test/helpers/standin-iso.ts';
import type { PxeEvent, PxePilot } from '../../test/helpers/daemon.ts';
import type { HostSection } from '../../test/helpers/daemon.ts';
import { waitFor } from '../../test/helpers/netns.ts';
import { BootLab, lan } from '../../test/e2e/lab.ts';
import { eventTime } from '../../test/e2e/expect.ts';
import { plainSerial } from '../../test/e2e/scenarios.ts';

const MiB = 1 << 20;
/** The same for both paths: d-i needs 1024 MiB (with 512 it stops at "Entering low memory mode"). */
const machineMiB = 1024;
const diskBytes = 256 * MiB;
/** Per machine, generous for TCG on a shared 2-core machine. */
const machineTimeoutMs = 15 * 60_000;

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, 'budget-minutes': { type: 'string', default: '120' } },
});
const runs = Number(values.runs);
const budgetMinutes = Number(values['budget-minutes']);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) usage(`--runs must be a whole number from 1 to 20, not ${values.runs}`);
if (!Number.isFinite(budgetMinutes) || budgetMinutes <= 0) usage(`--budget-minutes must be a positive number, not ${values['budget-minutes']}`);

function usage(message: string): never {
  process.stderr.write(`vs-install: ${message}\nusage: node --import tsx bench/deploy/vs-install.ts [--runs N] [--budget-minutes M]\n`);
  process.exit(2);
}

const missing = skipUnless([
  'root',
  qemuBinary,
  'dnsmasq',
  'curl',
  ...standinTools,
  ...agentBuildTools,
  ...deployDiskImageTools,
  ...firmwareFiles.uefi,
  ...debianInstallerFiles,
]);
if (missing) {
  process.stderr.write(`vs-install: ${missing}\n`);
  process.exit(1);
}

const benchStart = Date.now();
const deadline = benchStart + budgetMinutes * 60_000;
function say(line: string): void {
  const t = ((Date.now() - benchStart) / 1000).toFixed(0).padStart(5);
  process.stdout.write(`[${t} s] ${line}\n`);
}
const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const seconds = (ms: number): string => (ms / 1000).toFixed(1);

interface DeployRun {
  /** Power-on to the agent's reboot (QEMU exits: -no-reboot): written, verified, seeded. */
  toAgentReboot: number;
  /** The next power-on to the deployed system's marker on its serial console. */
  localToMarker: number;
  load: string;
}
interface InstallRun {
  /** Power-on to pxe-pilot serving the preseed. */
  toPreseed: number;
  /** Power-on to the early_command's webhook report: d-i has read its preseed. */
  toReport: number;
  load: string;
}

let lab: BootLab | undefined;
let destroying: Promise<void> | undefined;
function destroyLab(): Promise<void> {
  destroying ??= lab ? lab.destroy() : Promise.resolve();
  return destroying;
}
// On SIGINT/SIGTERM the lab helpers' own handler (test/helpers/netns.ts) ends every process by
// pid, deletes the namespaces and exits at once; the work folder (disk files) goes on exit here.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.prependOnceListener(signal, () => say(`${signal}: removing the lab`));
process.on('exit', () => {
  if (lab && !process.env.PXP_E2E_KEEP) rmSync(lab.workDir, { recursive: true, force: true });
});

const deployHost = (i: number): HostSection => ({
  mac: `52:54:00:be:0d:${i.toString(16).padStart(2, '0')}`,
  hostname: `deployed${i}`,
  action: 'deploy',
  profile: 'vs-install/1',
});
const installHost = (i: number): DebianHost => ({ mac: `52:54:00:be:1d:${i.toString(16).padStart(2, '0')}`, hostname: `installed${i}`, bootMode: 'efi' });

/** A blank disk and the machine on it, booting from the network; both paths get the same. */
async function powerOn(name: string, mac: string, disk: string, fresh: boolean): Promise<Machine> {
  if (fresh) execFileSync('truncate', ['-s', String(diskBytes), disk]);
  return lab!.bootMachine({ name, firmware: 'uefi', mac, memoryMiB: machineMiB, disks: [{ file: disk, serial: `DISK-${name}`, bus: 'virtio' }] });
}

async function deployOnce(pilot: PxePilot, i: number): Promise<DeployRun> {
  const host = deployHost(i);
  const disk = lab!.path(`${host.hostname}.img`);
  const loadAtStart = load();
  const agent = await powerOn(`${host.hostname}-deploy`, host.mac, disk, true);
  try {
    await agent.waitForSerial('the agent to start', /pxe-pilot-agent: \/init started/, machineTimeoutMs);
    say(`  deploy ${i}: agent started ${seconds(Date.now() - agent.startedAt)} s after power-on`);
    await agent.waitForPowerOff(machineTimeoutMs);
  } finally {
    await agent.stop();
  }
  const toAgentReboot = Date.now() - agent.startedAt;
  const serial = plainSerial(await agent.serial());
  if (!/pxe-pilot-agent: .*written to \/dev\/vda and verified/.test(serial))
    throw new Error(`deploy ${i}: the agent did not write and verify:\n${serial.slice(-3000)}`);
  await waitFor(`deploy ${i} to be reported`, async () => (await pilot.nodeState(host.mac)) === 'installed', 60_000);
  say(`  deploy ${i}: written, verified, seeded, rebooting at ${seconds(toAgentReboot)} s`);

  const local = await powerOn(`${host.hostname}-local`, host.mac, disk, false);
  let localToMarker: number;
  try {
    const booted = plainSerial(await local.waitForSerial('the deployed system to boot from its disk', DEPLOYED_MARKER, machineTimeoutMs));
    localToMarker = Date.now() - local.startedAt;
    if (!new RegExp(`${escape(DEPLOYED_MARKER)} ${host.hostname}\\b`).test(booted))
      throw new Error(`deploy ${i}: the marker names another host:\n${booted.slice(-2000)}`);
  } finally {
    await local.stop();
  }
  say(`  deploy ${i}: deployed system booted, marker ${seconds(localToMarker)} s after its power-on`);
  return { toAgentReboot, localToMarker, load: loadAtStart };
}

async function installOnce(pilot: PxePilot, i: number): Promise<InstallRun> {
  const host = installHost(i);
  const disk = lab!.path(`${host.hostname}.img`);
  const loadAtStart = load();
  const machine = await powerOn(`${host.hostname}-di`, host.mac, disk, true);
  try {
    await machine.waitForSerial("d-i's kernel to boot", /Linux version .*Debian/, machineTimeoutMs);
    say(`  d-i ${i}: kernel booting ${seconds(Date.now() - machine.startedAt)} s after power-on`);
    // The preseed's early_command powers off right after its report.
    await machine.waitForPowerOff(machineTimeoutMs);
  } finally {
    await machine.stop();
  }
  const events = await pilot.events(host.mac);
  const find = (what: string, ok: (e: PxeEvent) => boolean): PxeEvent => {
    const e = events.find(ok);
    if (!e) throw new Error(`d-i ${i}: no ${what} event; it recorded:\n${events.map((x) => `${x.protocol}/${x.kind}/${x.decision}: ${x.reason}`).join('\n')}`);
    return e;
  };
  const preseed = find('preseed', (e) => e.protocol === 'answer' && e.kind === 'GET /preseed/<mac>.cfg' && e.decision === 'served');
  const report = find('webhook', (e) => e.protocol === 'webhook' && e.decision === 'installed');
  const run = { toPreseed: eventTime(preseed) - machine.startedAt, toReport: eventTime(report) - machine.startedAt, load: loadAtStart };
  say(`  d-i ${i}: preseed served at ${seconds(run.toPreseed)} s, early_command reported at ${seconds(run.toReport)} s`);
  return run;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  say(`vs-install: ${runs} runs of each, interleaved; budget ${budgetMinutes} min; load ${load()}`);
  say(`uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  const agentImage = await buildAgentImage();
  const standin = await buildStandin();
  lab = await BootLab.create('vsin');
  await lab.startRouter({ kind: 'router-advertisements-only' });
  await installAgentImage(agentImage, lab.path('assets'));
  const image = buildDeployDiskImage(agentImage, lab.path('disk-image'));
  const installHosts = Array.from({ length: runs }, (_, k) => installHost(k + 1));
  const answers = lab.path('answers');
  await mkdir(join(answers, 'preseed', 'hosts'), { recursive: true });
  for (const h of installHosts) await writeFile(join(answers, 'preseed', 'hosts', `${h.mac.replace(/:/g, '-')}.cfg`), preseedFor(h));
  const pilot = await lab.startPxePilot({
    mode: 'server',
    standin,
    installHosts: [],
    uefiLoader: 'snponly.efi',
    // d-i stops at "Name server addresses" without [dhcp] dns and asks about a missing default route
    // without [dhcp] router, even at priority critical; nothing need answer at either address.
    extraSections: {
      dhcp: debianDhcpSection(lan.server, lan.router),
    },
    extraHosts: [
      ...Array.from({ length: runs }, (_, k) => deployHost(k + 1)),
      // The image's own kernel line plus the serial console, as the d-i e2e test has it.
      ...installHosts.map((h): HostSection => ({ mac: h.mac, hostname: h.hostname, action: 'install', profile: debianProfile, cmdline: 'console=ttyS0' })),
    ],
  });
  // As a user would: both images added with the CLI.
  await addAssetWithCli(image.zst, pilot.configFile, ['--kind', 'disk-image', '--product', 'vs-install', '--version', '1']);
  await addAssetWithCli(debianNetbootTree, pilot.configFile);
  const zstMiB = readFileSync(image.zst).length / MiB;
  say(
    `lab ready: disk image ${(image.sizeBytes / MiB).toFixed(0)} MiB (${zstMiB.toFixed(1)} MiB zstd); machines: OVMF, TCG, 1 vCPU, ${machineMiB} MiB, ${diskBytes / MiB} MiB virtio disk`,
  );

  const deploys: DeployRun[] = [];
  const installs: InstallRun[] = [];
  for (let i = 1; i <= runs; i++) {
    if (Date.now() > deadline) {
      say(`budget of ${budgetMinutes} min spent: stopping after ${i - 1} rounds`);
      break;
    }
    say(`round ${i}/${runs}: deploy (load ${load()})`);
    deploys.push(await deployOnce(pilot, i));
    say(`round ${i}/${runs}: Debian installer (load ${load()})`);
    installs.push(await installOnce(pilot, i));
  }
  if (deploys.length === 0 || installs.length === 0) throw new Error('no complete round');

  const list = (xs: number[]): string => xs.map(seconds).join(', ');
  const reboot = deploys.map((r) => r.toAgentReboot);
  const marker = deploys.map((r) => r.localToMarker);
  const total = deploys.map((r) => r.toAgentReboot + r.localToMarker);
  const preseed = installs.map((r) => r.toPreseed);
  const report = installs.map((r) => r.toReport);
  process.stdout.write(
    [
      '',
      `deploy, power-on to agent reboot (written, verified, seeded): ${list(reboot)} s; median ${seconds(median(reboot))} s`,
      `deploy, local power-on to the deployed system's marker:       ${list(marker)} s; median ${seconds(median(marker))} s`,
      `deploy, both together:                                         ${list(total)} s; median ${seconds(median(total))} s`,
      `d-i, power-on to preseed served:                               ${list(preseed)} s; median ${seconds(median(preseed))} s`,
      `d-i, power-on to early_command's report (lower bound):         ${list(report)} s; median ${seconds(median(report))} s`,
      `load at each run's start: deploy ${deploys.map((r) => r.load).join(' | ')}; d-i ${installs.map((r) => r.load).join(' | ')}`,
      `ratio d-i lower bound / deploy (medians): ${(median(report) / median(total)).toFixed(2)}; ` +
        `the 5x aim would need the lower bound alone at ${seconds(5 * median(total))} s`,
      `uptime: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`,
      '',
    ].join('\n'),
  );
}

try {
  await main();
} catch (err) {
  process.stderr.write(`vs-install: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await destroyLab();
}
