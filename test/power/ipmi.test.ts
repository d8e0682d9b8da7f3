// pxe-pilot drives OpenIPMI's ipmi_sim (a real RMCP+ BMC) through ipmitool: status, on, off,
// cycle and the next boot from the network (UEFI); a wrong password and a BMC that never answers
// each give a clear state within the timeout, and the password shows up nowhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { skipUnless } from '../helpers/requirements.ts';
import { startIpmiSim } from '../helpers/ipmi-sim.ts';
import { startPowerDaemon } from '../helpers/power-daemon.ts';
import { waitFor } from '../helpers/netns.ts';

const MAC = '52:54:00:aa:00:01';
const SILENT_MAC = '52:54:00:aa:00:02';
const NO_BMC_MAC = '52:54:00:aa:00:03';
const WRONG_PASSWORD = 'not-the-BMC-pw-93f2';

const skip = skipUnless(['ipmi_sim', 'ipmitool']);

test('ipmi_sim driven by pxe-pilot: status, on, off, cycle, next boot from the network; wrong password; a silent BMC', { skip, timeout: 120_000 }, async () => {
  const sim = await startIpmiSim();
  // A UDP port that takes datagrams and never answers: a BMC that is down, or filtered.
  const silent = createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
  const silentPort = silent.address().port;
  let power: Awaited<ReturnType<typeof startPowerDaemon>> | undefined;
  try {
    power = await startPowerDaemon({
      power: ['timeout_seconds = 3', 'poll_seconds = 1'],
      credentials: [
        [`127.0.0.1:${sim.port}`, sim.user, sim.password],
        ['default', 'admin', 'default-pw-unused-5b'],
      ],
      hosts: [
        `[host ${MAC}]`,
        `bmc = ipmi://127.0.0.1:${sim.port}`,
        `[host ${SILENT_MAC}]`,
        `bmc = ipmi://127.0.0.1:${silentPort}`,
        `[host ${NO_BMC_MAC}]`,
        'hostname = plain',
      ].join('\n'),
    });
    const api = power.api;
    // The machine last booted UEFI (iPXE's /boot request says so): the override asks for EFI boot.
    await fetch(`${power.daemon.base}/boot?mac=${MAC}&arch=x86_64&platform=efi`);

    const on = await api('POST', `/nodes/${MAC}/power`, { action: 'on' });
    assert.equal(on.status, 200, on.text);
    assert.equal(on.json.ok, true, on.text);
    assert.equal(on.json.state, 'on');
    assert.equal(sim.power(), '1', 'chassis_control was told to power on');

    const status = await api('GET', `/nodes/${MAC}/power`);
    assert.equal(status.json.state, 'on', status.text);

    const off = await api('POST', `/nodes/${MAC}/power`, { action: 'off' });
    assert.equal(off.json.state, 'off', off.text);
    assert.equal(sim.power(), '0');

    await api('POST', `/nodes/${MAC}/power`, { action: 'on' });
    const cycle = await api('POST', `/nodes/${MAC}/power`, { action: 'cycle', networkBoot: true });
    assert.equal(cycle.json.ok, true, cycle.text);
    assert.match(String(cycle.json.message), /next boot from the network, once \(UEFI\); power cycle/);
    assert.equal(sim.boot(), 'pxe', 'chassis_control was told to boot from the network');

    // The CLI row: the state in words, exit 0.
    const cli = await power.cli(['nodes', 'power', MAC, 'status']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^${MAC} \\(ipmi://127\\.0\\.0\\.1:${sim.port}\\): power is (on|off)$`, 'm'));
    const metrics = (await api('GET', '/metrics')).text;
    // Two machines have a bmc: this one is on or off, the silent one unknown (no label names a machine).
    assert.match(metrics, /^pxe_pilot_power_state\{state="(on|off)"\} 1$/m);
    assert.match(metrics, /^pxe_pilot_power_state\{state="unknown"\} 1$/m);

    // Bad input: 4xx with a reason, and a machine without a bmc says how to give it one.
    const bad = await api('POST', `/nodes/${MAC}/power`, { action: 'explode' });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json.error), /expected \{"action": "status" \| "on"/);
    const none = await api('GET', `/nodes/${NO_BMC_MAC}/power`);
    assert.equal(none.status, 404);
    assert.match(String(none.json.error), /has no bmc: add bmc = ipmi/);
    const cliBad = await power.cli(['nodes', 'power', MAC, 'explode']);
    assert.equal(cliBad.code, 2);

    // A BMC that never answers: "unreachable since …" within the timeout (3 s), not a hang.
    const started = Date.now();
    const dead = await api('POST', `/nodes/${SILENT_MAC}/power`, { action: 'status' });
    const took = Date.now() - started;
    assert.ok(took < 6000, `answered after ${took} ms`);
    assert.equal(dead.json.ok, false);
    assert.deepEqual((dead.json.error as { failure: string }).failure, 'unreachable');
    assert.match(String(dead.json.message), /^BMC unreachable since \d{4}-\d\d-\d\dT/);
    const cliDead = await power.cli(['nodes', 'power', SILENT_MAC, 'on']);
    assert.equal(cliDead.code, 1);
    assert.match(cliDead.stderr, /unreachable: BMC unreachable since/);

    // The password was changed on the BMC: "wrong credentials", said once, not polled again.
    power.credentials(`127.0.0.1:${sim.port}`, sim.user, WRONG_PASSWORD);
    const wrong = await api('POST', `/nodes/${MAC}/power`, { action: 'on' });
    assert.equal(wrong.json.ok, false, wrong.text);
    assert.equal((wrong.json.error as { failure: string }).failure, 'wrong-credentials');
    assert.match(String(wrong.json.message), /wrong credentials/);
    const wrongCount = (): number => Number(/pxe_pilot_bmc_errors_total\{failure="wrong-credentials"\} (\d+)/.exec(metricsText)?.[1] ?? NaN);
    let metricsText = (await api('GET', '/metrics')).text;
    const afterRefusal = wrongCount();
    // Three poll intervals pass (the silent BMC's polls show them) without asking the refusing BMC again.
    const unreachableCount = (): number => Number(/pxe_pilot_bmc_errors_total\{failure="unreachable"\} (\d+)/.exec(metricsText)?.[1] ?? NaN);
    const unreachableBefore = unreachableCount();
    await waitFor(
      'two more polls of the silent BMC',
      async () => {
        metricsText = (await api('GET', '/metrics')).text;
        return unreachableCount() >= unreachableBefore + 2;
      },
      20_000,
      250,
    );
    assert.equal(wrongCount(), afterRefusal, 'the poller asked the BMC that refused the password again');
    const events = (await api('GET', `/events?mac=${MAC}&limit=1000`)).json.events as { decision: string; kind: string; reason: string }[];
    assert.equal(events.filter((e) => e.decision === 'wrong-credentials').length, 1, JSON.stringify(events, null, 1));
    assert.ok(events.some((e) => e.kind === 'power cycle' && /asked by admin/.test(e.reason)));

    // The passwords appear nowhere: answers, CLI output, events, explain, the log, /metrics.
    const everything = await power.everythingShown([MAC, SILENT_MAC]);
    for (const secret of [sim.password, WRONG_PASSWORD, 'default-pw-unused-5b']) assert.ok(!everything.includes(secret), `${secret} was shown`);

    // A stopping daemon ends its BMC calls: no ipmitool polling the silent BMC outlives it.
    const stopping = power;
    power = undefined;
    await stopping.stop();
    const left = execFileSync('ps', ['-eo', 'pid,args'])
      .toString()
      .split('\n')
      .filter((line) => line.includes('ipmitool') && line.includes(`-p ${silentPort} `));
    assert.deepEqual(left, []);
  } finally {
    await power?.stop();
    silent.close();
    await sim.stop();
  }
});

test('a machine whose BMC is named by its enrolment, not a [host] section, is powered through it', { skip, timeout: 120_000 }, async () => {
  const sim = await startIpmiSim();
  const ENROLLED = '52:54:00:aa:00:07';
  let power: Awaited<ReturnType<typeof startPowerDaemon>> | undefined;
  try {
    power = await startPowerDaemon({ power: ['timeout_seconds = 3'], credentials: [[`127.0.0.1:${sim.port}`, sim.user, sim.password]], hosts: '' });
    const api = power.api;
    await fetch(`${power.daemon.base}/boot?mac=${ENROLLED}`);
    const before = await api('GET', `/nodes/${ENROLLED}/power`);
    assert.equal(before.status, 404, 'no bmc yet');
    assert.match(String(before.json.error), /or to its enrolment/);
    const enrol = await api('PUT', `/nodes/${ENROLLED}/enrolment`, { hostname: 'rack1-07', action: 'local', bmc: `ipmi://127.0.0.1:${sim.port}` });
    assert.equal(enrol.status, 200, enrol.text);
    const on = await api('POST', `/nodes/${ENROLLED}/power`, { action: 'on' });
    assert.equal(on.json.ok, true, on.text);
    assert.equal(on.json.state, 'on');
    assert.equal(sim.power(), '1', 'ipmi_sim was told to power on');
    const cli = await power.cli(['nodes', 'power', ENROLLED, 'status']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`^${ENROLLED} \\(ipmi://127\\.0\\.0\\.1:${sim.port}\\): power is on$`, 'm'));
  } finally {
    await power?.stop();
    await sim.stop();
  }
});
