// A second IPMI peer: pyghmi's BMC (Debian python3-pyghmi), subclassed in
// test/fixtures/power/fakebmc.py, answers pxe-pilot's status, on, off and next boot from the network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipUnless } from '../helpers/requirements.ts';
import { freeUdpPort, waitForIpmi } from '../helpers/ipmi-sim.ts';
import { startPowerDaemon } from '../helpers/power-daemon.ts';
import { collectOutput } from '../helpers/netns.ts';

const MAC = '52:54:00:cc:00:01';
const FAKEBMC = fileURLToPath(new URL('../fixtures/power/fakebmc.py', import.meta.url));
// Debian's python3 has pyghmi; a python3 earlier on PATH (a virtualenv) may not.
const PYTHON = '/usr/bin/python3';
const skip = skipUnless(['ipmitool', PYTHON, '/usr/lib/python3/dist-packages/pyghmi/ipmi/bmc.py']);

test('pyghmi fakebmc answers pxe-pilot: status, on, off, next boot from the network', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-fakebmc-'));
  const stateFile = join(dir, 'state.json');
  const port = await freeUdpPort();
  const password = 'fake-BMC-pw-2e8d';
  const bmc = spawn(PYTHON, [FAKEBMC, String(port), 'admin', password, stateFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = collectOutput(bmc);
  const state = (): { power: string; boot: string; calls: string[] } =>
    existsSync(stateFile)
      ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { power: string; boot: string; calls: string[] })
      : { power: '', boot: '', calls: [] };
  let power: Awaited<ReturnType<typeof startPowerDaemon>> | undefined;
  try {
    await waitForIpmi(port, 'admin', password, () => {
      if (bmc.exitCode !== null) throw new Error(`fakebmc exited with ${bmc.exitCode}: ${out.text()}`);
    });
    power = await startPowerDaemon({
      power: ['timeout_seconds = 5', 'poll_seconds = 0'],
      credentials: [[`127.0.0.1:${port}`, 'admin', password]],
      hosts: [`[host ${MAC}]`, `bmc = ipmi://127.0.0.1:${port}`].join('\n'),
    });
    const api = power.api;
    const before = await api('GET', `/nodes/${MAC}/power`);
    assert.equal(before.json.state, 'off', before.text);
    // Never seen booting: its firmware is unknown, so the override is a plain bootdev pxe.
    const on = await api('POST', `/nodes/${MAC}/power`, { action: 'on', networkBoot: true });
    assert.equal(on.json.ok, true, on.text);
    assert.match(String(on.json.message), /^next boot from the network, once; power on; power is on$/);
    assert.equal(state().power, 'on');
    assert.equal(state().boot, 'network', 'pyghmi names the PXE boot device "network"');
    const off = await api('POST', `/nodes/${MAC}/power`, { action: 'off' });
    assert.equal(off.json.state, 'off', off.text);
    assert.deepEqual(state().calls, ['bootdev network', 'on', 'off']);
    const cli = await power.cli(['nodes', 'power', MAC, 'status', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as { state: string }).state, 'off');
  } finally {
    await power?.stop();
    if (bmc.exitCode === null && bmc.pid !== undefined) {
      process.kill(bmc.pid, 'SIGTERM');
      await new Promise((r) => bmc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
