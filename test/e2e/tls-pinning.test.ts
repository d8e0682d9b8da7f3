// A machine whose ISO pins the WRONG certificate fingerprint refuses the answer, as the Proxmox
// installer does: pxe-pilot serves HTTPS with require_tls in proxy mode, and `assets add
// --cert-fingerprint` wrote a fingerprint that is not the server's (an ISO prepared for another
// server, or a server that is not ours). The stand-in must send nothing and install nothing.
// One BIOS boot (the cheapest firmware under TCG); the right-fingerprint boots are in boot.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { standinIsoTools } from '../helpers/standin-iso.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { BootLab, pilotHttpsBase, type InstallHost } from './lab.ts';
import { bootAndInstall, plainSerial } from './scenarios.ts';

const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...standinIsoTools, ...firmwareFiles.bios]);

const biosInstallMs = 240_000;
/** Not the server's: its certificate is generated in this run, so it cannot match this. */
const wrongFingerprint = Array.from({ length: 32 }, (_, i) => ((i * 37 + 11) & 255).toString(16).padStart(2, '0').toUpperCase()).join(':');

describe('a machine pinned to the wrong certificate', { skip, timeout: 360_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:e2:e5:01', hostname: 'wrong-pin' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;
  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create('pin');
    await lab.startRouter({ kind: 'addresses' });
    pilot = await lab.startPxePilot({
      mode: 'proxy',
      standin,
      installHosts: [host],
      uefiLoader: 'snponly.efi',
      https: true,
      isoCertFingerprint: wrongFingerprint,
    });
  });
  after(async () => {
    await lab?.destroy();
  });

  test('refuses the answer over HTTPS, sends nothing, and its install stays armed', async () => {
    assert.ok(lab && pilot, 'the lab started');
    assert.notEqual(lab.tls?.fingerprint, wrongFingerprint);
    const run = await bootAndInstall(lab, { name: 'pin-bios', firmware: 'bios', mac: host.mac, serial: 'E2E-pin-bios' }, biosInstallMs);
    const serial = plainSerial(run.serial);
    assert.ok(serial.includes(`standin: certificate fingerprint from /auto-installer-mode.toml: ${wrongFingerprint}`), 'the stand-in pinned what the ISO says');
    assert.match(serial, new RegExp(`standin: answer URL from /auto-installer-mode\\.toml in /proxmox\\.iso: ${pilotHttpsBase}/answer`));
    assert.ok(
      serial.includes(`standin: answer refused: certificate SHA-256 ${lab.tls!.fingerprint} is not the pinned ${wrongFingerprint}: refused, nothing sent`),
      `the stand-in saw the server's real certificate and refused it; serial:\n${serial.slice(-1500)}`,
    );
    assert.equal(run.answer, null, 'no answer was taken');
    assert.doesNotMatch(serial, /standin: webhook delivered/);
    // Nothing reached /answer, so the one-shot install was not consumed: fixing the ISO is enough.
    const events = await pilot.events(host.mac);
    assert.ok(
      !events.some((e) => e.protocol === 'answer' || e.protocol === 'webhook'),
      `no answer or webhook request arrived: ${events.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`,
    );
    const state = await pilot.nodeState(host.mac);
    assert.ok(state !== 'installing' && state !== 'installed', `the install was not consumed (state ${state})`);
  });
});
