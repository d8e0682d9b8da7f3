// The Redfish test double, first driven by Debian's redfishtool (a real Redfish client) so that it
// is honest, then by pxe-pilot: power state, on, off, cycle, the boot override with If-Match, a
// pinned certificate, a wrong password, and a BMC that accepts the connection and never answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { request } from 'node:https';
import { createServer, type Socket } from 'node:net';
import { skipUnless } from '../helpers/requirements.ts';
import { startRedfishDouble, type RedfishDouble } from '../helpers/redfish-double.ts';
import { startPowerDaemon } from '../helpers/power-daemon.ts';

const MAC = '52:54:00:bb:00:01';
const WRONG_PIN_MAC = '52:54:00:bb:00:02';
const HANGING_MAC = '52:54:00:bb:00:03';

const skip = skipUnless(['redfishtool', 'openssl']);

function redfishtool(d: RedfishDouble, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('redfishtool', ['-r', `127.0.0.1:${d.port}`, '-u', d.user, '-p', d.password, '-S', 'Always', '-T', '5', ...args], (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A PATCH with a chosen If-Match, straight to the double (its certificate is its own). */
function patch(d: RedfishDouble, ifMatch: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ Boot: { BootSourceOverrideTarget: 'Hdd' } });
    const req = request(
      {
        host: '127.0.0.1',
        port: d.port,
        method: 'PATCH',
        path: '/redfish/v1/Systems/1',
        rejectUnauthorized: false,
        headers: {
          authorization: `Basic ${Buffer.from(`${d.user}:${d.password}`).toString('base64')}`,
          'content-type': 'application/json',
          ...(ifMatch ? { 'if-match': ifMatch } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('redfishtool reads, overrides the boot and resets the Redfish double; a stale ETag is refused', { skip, timeout: 60_000 }, async () => {
  const d = await startRedfishDouble();
  try {
    const system = await redfishtool(d, ['Systems', '-I', '1', 'get']);
    assert.equal(system.code, 0, system.stderr);
    assert.equal((JSON.parse(system.stdout) as { Id: string }).Id, '1');
    const powerState = await redfishtool(d, ['-P', 'PowerState', 'Systems', '-I', '1', 'get']);
    assert.deepEqual(JSON.parse(powerState.stdout), { PowerState: 'Off' });
    const override = await redfishtool(d, ['Systems', '-I', '1', 'setBootOverride', 'Once', 'Pxe']);
    assert.equal(override.code, 0, override.stderr);
    assert.deepEqual(d.state.boot, { enabled: 'Once', target: 'Pxe', mode: 'UEFI' });
    assert.ok(d.log.includes('If-Match W/"1"'), 'redfishtool sent the ETag it read');
    const boot = await redfishtool(d, ['-P', 'Boot', 'Systems', '-I', '1', 'get']);
    assert.equal((JSON.parse(boot.stdout) as { Boot: { BootSourceOverrideTarget: string } }).Boot.BootSourceOverrideTarget, 'Pxe');
    const reset = await redfishtool(d, ['Systems', '-I', '1', 'reset', 'ForceRestart']);
    assert.equal(reset.code, 0, reset.stderr);
    assert.deepEqual(d.state.resets, ['ForceRestart']);
    assert.equal(d.state.power, 'On');
    // If-Match is enforced: none is 428, a stale one 412, the current one applies.
    assert.equal(await patch(d, null), 428);
    assert.equal(await patch(d, 'W/"1"'), 412);
    assert.equal(await patch(d, `W/"${d.state.etag}"`), 200);
    assert.equal(d.state.boot.target, 'Hdd');
    const denied = await execFileCode('redfishtool', [
      '-r',
      `127.0.0.1:${d.port}`,
      '-u',
      d.user,
      '-p',
      'wrong',
      '-S',
      'Always',
      '-T',
      '5',
      'Systems',
      '-I',
      '1',
      'get',
    ]);
    assert.notEqual(denied, 0, 'a wrong password is refused');
  } finally {
    await d.stop();
  }
});

function execFileCode(file: string, args: string[]): Promise<number> {
  return new Promise((resolve) => execFile(file, args, (err) => resolve(err ? ((err as { code?: number }).code ?? 1) : 0)));
}

test(
  'pxe-pilot drives the Redfish double: state, on, off, cycle with the boot override, pinning, wrong password, a hanging BMC',
  { skip, timeout: 90_000 },
  async () => {
    const d = await startRedfishDouble();
    // Accepts the TCP connection, then never says a word.
    const sockets: Socket[] = [];
    const hanging = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const hangingPort = (hanging.address() as { port: number }).port;
    let power: Awaited<ReturnType<typeof startPowerDaemon>> | undefined;
    try {
      const wrongPin = 'AB:'.repeat(31) + 'AB';
      power = await startPowerDaemon({
        power: ['timeout_seconds = 3', 'poll_seconds = 0'],
        credentials: [
          [`127.0.0.1:${d.port}`, d.user, d.password],
          [`127.0.0.1:${hangingPort}`, 'root', 'hanging-pw-0d9c'],
        ],
        hosts: [
          `[host ${MAC}]`,
          `bmc = redfish://127.0.0.1:${d.port}`,
          `bmc_tls_fingerprint = ${d.fingerprint}`,
          `[host ${WRONG_PIN_MAC}]`,
          `bmc = redfish://127.0.0.1:${d.port}`,
          `bmc_tls_fingerprint = ${wrongPin}`,
          `[host ${HANGING_MAC}]`,
          `bmc = redfish+http://127.0.0.1:${hangingPort}`,
        ].join('\n'),
      });
      const api = power.api;
      await fetch(`${power.daemon.base}/boot?mac=${MAC}&arch=x86_64&platform=efi`);

      const status = await api('GET', `/nodes/${MAC}/power`);
      assert.equal(status.json.ok, true, status.text);
      assert.equal(status.json.state, 'off');
      const on = await api('POST', `/nodes/${MAC}/power`, { action: 'on' });
      assert.equal(on.json.state, 'on', on.text);
      assert.equal(d.state.power, 'On');
      const off = await api('POST', `/nodes/${MAC}/power`, { action: 'off' });
      assert.equal(off.json.state, 'off', off.text);
      assert.deepEqual(d.state.resets, ['On', 'ForceOff']);

      // Someone else changed the system since: pxe-pilot reads the new ETag and its PATCH applies.
      d.state.etag += 5;
      const cycle = await api('POST', `/nodes/${MAC}/power`, { action: 'cycle', networkBoot: true });
      assert.equal(cycle.json.ok, true, cycle.text);
      // It was off: a cycle powers it on.
      assert.match(String(cycle.json.message), /next boot from the network, once \(UEFI\); power on \(it was off\); power is on/);
      assert.deepEqual(d.state.boot, { enabled: 'Once', target: 'Pxe', mode: 'UEFI' });
      assert.equal(d.state.resets.at(-1), 'On');
      const again = await api('POST', `/nodes/${MAC}/power`, { action: 'cycle' });
      assert.match(String(again.json.message), /^power cycle; power is on$/, again.text);
      assert.equal(d.state.resets.at(-1), 'PowerCycle');
      assert.ok(d.log.some((line) => /^If-Match W\/"\d+"$/.test(line)) && !d.log.includes('If-Match (none)'));

      // A certificate that is not the pinned one: refused before any request (and so any password) is sent.
      const requestsBefore = d.log.filter((l) => l.startsWith('GET ')).length;
      const pinned = await api('GET', `/nodes/${WRONG_PIN_MAC}/power`);
      assert.equal(pinned.json.ok, false);
      assert.match(String(pinned.json.message), /not the one pinned in bmc_tls_fingerprint/);
      assert.equal(d.log.filter((l) => l.startsWith('GET ')).length, requestsBefore);

      // Accepts the connection and never answers: unreachable within the timeout.
      const started = Date.now();
      const hung = await api('POST', `/nodes/${HANGING_MAC}/power`, { action: 'on' });
      assert.ok(Date.now() - started < 6000, `answered after ${Date.now() - started} ms`);
      assert.equal((hung.json.error as { failure: string }).failure, 'unreachable', hung.text);
      assert.match(String(hung.json.message), /^BMC unreachable since /);

      // A wrong password: 401, said as such.
      power.credentials(`127.0.0.1:${d.port}`, d.user, 'wrong-Redfish-pw-77');
      const wrong = await api('POST', `/nodes/${MAC}/power`, { action: 'on' });
      assert.equal((wrong.json.error as { failure: string }).failure, 'wrong-credentials', wrong.text);
      assert.match(String(wrong.json.message), /wrong credentials: the BMC answered 401/);

      const everything = await power.everythingShown([MAC, WRONG_PIN_MAC, HANGING_MAC]);
      for (const secret of [d.password, 'wrong-Redfish-pw-77', 'hanging-pw-0d9c']) assert.ok(!everything.includes(secret), `${secret} was shown`);
    } finally {
      await power?.stop();
      for (const s of sockets) s.destroy();
      hanging.close();
      await d.stop();
    }
  },
);

test(
  'a BMC that shows BootSourceOverrideMode but refuses a PATCH naming it (some iLOs): the override is set without the mode',
  { skip, timeout: 60_000 },
  async () => {
    const d = await startRedfishDouble({ modeReadOnly: true });
    let power: Awaited<ReturnType<typeof startPowerDaemon>> | undefined;
    try {
      power = await startPowerDaemon({
        power: ['timeout_seconds = 3', 'poll_seconds = 0'],
        credentials: [[`127.0.0.1:${d.port}`, d.user, d.password]],
        hosts: [`[host ${MAC}]`, `bmc = redfish://127.0.0.1:${d.port}`, `bmc_tls_fingerprint = ${d.fingerprint}`].join('\n'),
      });
      d.state.boot.mode = 'Legacy';
      await fetch(`${power.daemon.base}/boot?mac=${MAC}&arch=x86_64&platform=efi`);
      const cycle = await power.api('POST', `/nodes/${MAC}/power`, { action: 'on', networkBoot: true });
      assert.equal(cycle.json.ok, true, cycle.text);
      assert.match(String(cycle.json.message), /next boot from the network, once \(the BMC refused BootSourceOverrideMode UEFI: the machine's own mode\)/);
      assert.deepEqual(d.state.boot, { enabled: 'Once', target: 'Pxe', mode: 'Legacy' });
    } finally {
      await power?.stop();
      await d.stop();
    }
  },
);
