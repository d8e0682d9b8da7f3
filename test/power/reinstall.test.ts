// reinstall --now over ipmi_sim and the Redfish double, on the loopback daemon: the timeline reads
// armed → next boot set to the network → power cycled (or on); many machines go at most
// max_parallel at once, a pause apart; a wrong password, an unreachable BMC and a BMC that never
// answers each fail clearly within the timeout and leave nothing armed (disarmed, said in an event).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Socket } from 'node:net';
import { skipUnless } from '../helpers/requirements.ts';
import { startIpmiSim } from '../helpers/ipmi-sim.ts';
import { startRedfishDouble } from '../helpers/redfish-double.ts';
import { startPowerDaemon, type PowerDaemon } from '../helpers/power-daemon.ts';
import { waitFor } from '../helpers/netns.ts';

const IPMI_MAC = '52:54:00:cc:00:01';
const RF_MACS = ['52:54:00:cc:00:11', '52:54:00:cc:00:12', '52:54:00:cc:00:13'];
const WRONG_PW_MAC = '52:54:00:cc:00:21';
const SILENT_MAC = '52:54:00:cc:00:22';
const HANGING_MAC = '52:54:00:cc:00:23';
const NO_BMC_MAC = '52:54:00:cc:00:31';
const PROFILE = 'proxmox-ve/9.1-1';

const skip = skipUnless(['ipmi_sim', 'ipmitool', 'openssl']);

interface Step {
  step: string;
  ok: boolean;
  message: string;
  at: string;
}
interface Job {
  id: string;
  finished: boolean;
  progress: string;
  machines: { mac: string; state: string; startedAt: string | null; steps: Step[] }[];
}

async function finished(power: PowerDaemon, job: Job): Promise<Job> {
  let now = job;
  await waitFor(
    `reinstall ${job.id} to finish its power steps`,
    async () => {
      now = ((await power.api('GET', job.progress)).json.reinstalls as Job[])[0]!;
      return now.finished;
    },
    30_000,
    100,
  );
  return now;
}

async function nodeState(power: PowerDaemon, mac: string): Promise<string> {
  return String((await power.api('GET', `/nodes/${mac}`)).json.state);
}

test('reinstall --now: one machine over IPMI and Redfish, many a pause apart, and the faults that disarm', { skip, timeout: 150_000 }, async () => {
  const sim = await startIpmiSim();
  const redfish = await startRedfishDouble();
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  const sockets: Socket[] = [];
  const hanging = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  const hangingPort = (hanging.address() as { port: number }).port;
  let power: PowerDaemon | undefined;
  try {
    power = await startPowerDaemon({
      power: ['timeout_seconds = 3', 'poll_seconds = 0', 'max_parallel = 2', 'start_pause_seconds = 1'],
      credentials: [
        [`127.0.0.1:${sim.port}`, sim.user, sim.password],
        [`127.0.0.1:${redfish.port}`, redfish.user, redfish.password],
        [`127.0.0.1:${silent.address().port}`, 'admin', 'silent-pw-11'],
        [`127.0.0.1:${hangingPort}`, 'root', 'hanging-pw-22'],
      ],
      hosts: [
        `[host ${IPMI_MAC}]`,
        `profile = ${PROFILE}`,
        `bmc = ipmi://127.0.0.1:${sim.port}`,
        ...RF_MACS.flatMap((mac) => [
          `[host ${mac}]`,
          `profile = ${PROFILE}`,
          `bmc = redfish://127.0.0.1:${redfish.port}`,
          `bmc_tls_fingerprint = ${redfish.fingerprint}`,
        ]),
        // The same ipmi_sim, but its credentials file (written below) has another password.
        `[host ${WRONG_PW_MAC}]`,
        `bmc = ipmi://127.0.0.1:${sim.port}`,
        `[host ${SILENT_MAC}]`,
        `bmc = ipmi://127.0.0.1:${silent.address().port}`,
        `[host ${HANGING_MAC}]`,
        `bmc = redfish+http://127.0.0.1:${hangingPort}`,
        `[host ${NO_BMC_MAC}]`,
        'hostname = plain',
      ].join('\n'),
    });
    const { api } = power;
    // It last booted UEFI from us: the override asks for EFI boot.
    await fetch(`${power.daemon.base}/boot?mac=${IPMI_MAC}&arch=x86_64&platform=efi`);

    // One machine over IPMI, powered off: armed, next boot from the network (UEFI), powered on.
    const started = await api('POST', `/nodes/${IPMI_MAC}/reinstall`, { now: true });
    assert.equal(started.status, 202, started.text);
    const job = await finished(power, started.json as unknown as Job);
    const steps = job.machines[0]!.steps;
    assert.deepEqual(
      steps.map((s) => s.step),
      ['armed', 'network-boot', 'power'],
      JSON.stringify(steps, null, 1),
    );
    assert.match(steps[1]!.message, /^next boot set to the network, once \(UEFI\), through ipmi:\/\//);
    assert.match(steps[2]!.message, /^powered on \(it was off\) through ipmi:\/\//);
    assert.equal(job.machines[0]!.state, 'done');
    assert.equal(sim.boot(), 'pxe', 'ipmi_sim was told: boot from the network');
    assert.equal(sim.power(), '1');
    assert.equal(await nodeState(power, IPMI_MAC), 'install-pending');
    // The timeline (explain) reads in that order.
    const explain = (await api('GET', `/nodes/${IPMI_MAC}/explain`)).text;
    const order = [
      'reinstall --now → armed',
      'reinstall --now → network-boot: next boot set to the network, once (UEFI)',
      'reinstall --now → power: powered on',
    ];
    const at = order.map((line) => explain.indexOf(line));
    assert.ok(
      at.every((i, n) => i >= 0 && (n === 0 || i > at[n - 1]!)),
      `explain has ${order.join(' … ')} in order:\n${explain}`,
    );

    // The CLI, one machine over Redfish that is on: a power cycle, each step a line; exit 0.
    redfish.state.power = 'On';
    const cli = await power.cli(['nodes', 'reinstall', RF_MACS[0]!, '--now', '--profile', PROFILE]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${RF_MACS[0]}  armed by admin, profile ${PROFILE}`));
    // It never booted from us, so its firmware is not known: the override leaves the mode as it is.
    assert.match(cli.stdout, /next boot set to the network, once, through redfish:\/\//);
    assert.match(cli.stdout, /power cycled through redfish:\/\//);
    assert.deepEqual(redfish.state.boot, { enabled: 'Once', target: 'Pxe', mode: 'UEFI' });
    assert.equal(redfish.state.resets.at(-1), 'PowerCycle');

    // Many: three Redfish machines, at most two at once, one start a second (start_pause_seconds = 1).
    const many = await power.cli(['nodes', 'reinstall', '--now', '--macs', RF_MACS.join(','), '--json']);
    assert.equal(many.code, 0, many.stderr);
    const manyJob = JSON.parse(many.stdout) as Job;
    assert.equal(manyJob.finished, true);
    assert.deepEqual(
      manyJob.machines.map((m) => m.state),
      ['done', 'done', 'done'],
    );
    const startedAt = manyJob.machines.map((m) => Date.parse(m.startedAt!)).sort((a, b) => a - b);
    for (let i = 1; i < startedAt.length; i++) assert.ok(startedAt[i]! - startedAt[i - 1]! >= 990, `starts ${startedAt.join(', ')} are not a second apart`);

    // Bad input: 4xx with a reason, nothing armed.
    const noBmc = await api('POST', '/nodes/reinstall', { macs: [RF_MACS[1], NO_BMC_MAC], now: true });
    assert.equal(noBmc.status, 400);
    assert.match(String(noBmc.json.error), /nothing was armed: 52:54:00:cc:00:31 has no bmc/);
    assert.notEqual(await nodeState(power, NO_BMC_MAC), 'install-pending');
    assert.equal((await api('POST', '/nodes/reinstall', { macs: ['nope'], now: true })).status, 400);
    assert.equal((await api('POST', '/nodes/reinstall', { macs: RF_MACS, rule: 'x', now: true })).status, 400);
    assert.equal((await api('POST', '/nodes/reinstall', { macs: RF_MACS })).status, 400);
    assert.equal((await api('POST', `/nodes/${IPMI_MAC}/reinstall`, { now: 'yes' })).status, 400);
    const rule = await api('POST', '/nodes/reinstall', { rule: 'rack-a', now: true });
    assert.equal(rule.status, 400);
    assert.match(String(rule.json.error), /no \[rule rack-a\]/);
    const cliMix = await power.cli(['nodes', 'reinstall', IPMI_MAC, '--now', '--macs', RF_MACS[0]!]);
    assert.equal(cliMix.code, 2);
    const cliAll = await power.cli(['nodes', 'reinstall', '--now', '--all']);
    assert.equal(cliAll.code, 2);
    assert.match(cliAll.stderr, /--all goes with --rule NAME/);

    // Faults: each within the timeout (3 s), said clearly, and the install it armed is disarmed.
    power.credentials(`127.0.0.1:${sim.port}`, sim.user, 'wrong-pw-for-sim-3a');
    for (const [mac, failure, words] of [
      [WRONG_PW_MAC, 'wrong-credentials', /wrong credentials/],
      [SILENT_MAC, 'unreachable', /BMC unreachable since/],
      [HANGING_MAC, 'unreachable', /BMC unreachable since/],
    ] as const) {
      const before = Date.now();
      const r = await power.cli(['nodes', 'reinstall', mac, '--now']);
      const took = Date.now() - before;
      assert.equal(r.code, 1, `${mac}: ${r.stdout}${r.stderr}`);
      assert.ok(took < 12_000, `${mac}: the CLI came back after ${took} ms`);
      assert.match(r.stderr, new RegExp(`${mac}  ${failure}: `), r.stderr);
      assert.match(r.stderr, words);
      assert.match(r.stderr, /disarmed, since the machine was not powered: back to seen/);
      assert.equal(await nodeState(power, mac), 'seen', `${mac} is not left armed`);
      const events = (await api('GET', `/events?mac=${mac}&limit=100`)).json.events as { decision: string }[];
      assert.deepEqual(
        events.filter((e) => e.decision !== 'unchanged').map((e) => e.decision),
        ['armed', 'failed', 'disarmed'],
      );
    }
    // A machine armed before keeps its install, with a warning saying so.
    await api('POST', `/nodes/${SILENT_MAC}/reinstall`, {});
    const kept = await power.cli(['nodes', 'reinstall', SILENT_MAC, '--now']);
    assert.equal(kept.code, 1);
    assert.match(kept.stderr, /armed before this reinstall, so it stays armed/);
    assert.equal(await nodeState(power, SILENT_MAC), 'install-pending');

    // The passwords appear nowhere.
    const everything = await power.everythingShown([IPMI_MAC, ...RF_MACS, WRONG_PW_MAC, SILENT_MAC, HANGING_MAC]);
    for (const secret of [sim.password, redfish.password, 'wrong-pw-for-sim-3a', 'silent-pw-11', 'hanging-pw-22'])
      assert.ok(!everything.includes(secret), `${secret} was shown`);
  } finally {
    await power?.stop();
    for (const s of sockets) s.destroy();
    hanging.close();
    silent.close();
    await redfish.stop();
    await sim.stop();
  }
});

test('GET /nodes/<mac>/power records an event when the state changes, not at every read', { skip, timeout: 60_000 }, async () => {
  const sim = await startIpmiSim();
  let power: PowerDaemon | undefined;
  try {
    power = await startPowerDaemon({
      power: ['timeout_seconds = 3', 'poll_seconds = 0'],
      credentials: [[`127.0.0.1:${sim.port}`, sim.user, sim.password]],
      hosts: [`[host ${IPMI_MAC}]`, `bmc = ipmi://127.0.0.1:${sim.port}`].join('\n'),
    });
    const reads = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) assert.equal((await power!.api('GET', `/nodes/${IPMI_MAC}/power`)).json.ok, true);
    };
    const statusEvents = async (): Promise<string[]> =>
      ((await power!.api('GET', `/events?mac=${IPMI_MAC}&limit=100`)).json.events as { kind: string; decision: string }[])
        .filter((e) => e.kind === 'power status')
        .map((e) => e.decision);
    await reads(3);
    assert.deepEqual(await statusEvents(), ['off']);
    // Someone else powers it on: the next read says so, once.
    await power.api('POST', `/nodes/${IPMI_MAC}/power`, { action: 'on' });
    await reads(2);
    assert.deepEqual(await statusEvents(), ['off']);
    execChassis(sim.dir, '0');
    await reads(3);
    assert.deepEqual(await statusEvents(), ['off', 'off']);
  } finally {
    await power?.stop();
    await sim.stop();
  }
});

/** Changes the power behind pxe-pilot's back, as a person at the machine would (chassis_control's file). */
function execChassis(dir: string, powerState: '0' | '1'): void {
  writeFileSync(join(dir, 'chassis', 'power'), `${powerState}\n`);
}
