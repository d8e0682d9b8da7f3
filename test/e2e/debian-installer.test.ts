// The real Debian network installer (debian-installer-12-netboot-amd64) boots through pxe-pilot:
// SeaBIOS + iPXE ROM, pxe-pilot as the DHCP server, the package's folder added with
// `pxe-pilot assets add`, the preseed fetched from /preseed/<mac>.cfg, and its early_command
// reporting through the webhook before it powers the machine off. The same installer through
// Secure Boot (shim → GRUB) is in the full matrix: debian-installer-secureboot.full.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import type { PxeEvent, PxePilot } from '../helpers/daemon.ts';
import { bootDebianMachine, debianInstallerFiles, debianProfile, startDebianPilot, type DebianHost } from '../helpers/debian-installer.ts';
import { BootLab, lan } from './lab.ts';
import { eventTime } from './expect.ts';
import { bootToLocalDisk, plainSerial, waitForInstallerPowerOff } from './scenarios.ts';

const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', 'sha256sum', ...firmwareFiles.bios, ...debianInstallerFiles]);

// Generous for TCG on a loaded runner: d-i reached its preseed in about 95 s here. 1024 MiB:
// with 512 d-i stops at "Entering low memory mode" (a note it shows even at priority critical).
const installerMs = 420_000;
const localBootMs = 120_000;

describe('the real Debian installer through pxe-pilot (SeaBIOS + iPXE, server mode)', { skip, timeout: installerMs + localBootMs + 120_000 }, () => {
  const host: DebianHost = { mac: '52:54:00:e2:d1:01', hostname: 'debian-node' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;
  before(async () => {
    lab = await BootLab.create('di');
    // IPv6 router advertisements only: without them iPXE waits for IPv6 autoconfiguration.
    await lab.startRouter({ kind: 'router-advertisements-only' });
    // Without [dhcp] dns d-i stops at "Name server addresses", without a router at "Continue
    // without a default route?", even at priority critical (check-config warns of both).
    pilot = await startDebianPilot(lab, { hosts: [host], dns: lan.server, router: lan.router });
  });
  after(async () => {
    await lab?.destroy();
  });

  test('d-i fetches its preseed for its MAC, the early_command reports, the machine powers off, and its next boot is local disk', async () => {
    if (!lab || !pilot) throw new Error('the lab did not start');
    const machine = await bootDebianMachine(lab, { name: 'di-bios', firmware: 'bios', mac: host.mac, memoryMiB: 1024 });
    // Powered off by the preseed's early_command; the firmware moving on means the network boot failed.
    await waitForInstallerPowerOff(machine, installerMs);
    const seconds = (Date.now() - machine.startedAt) / 1000;
    const serial = plainSerial(await machine.serial());
    assert.equal(await machine.exited, 0, 'QEMU exited by itself: the guest powered off');
    assert.match(serial, /Linux version .*Debian/, "d-i's kernel booted (the package's linux)");

    const events = await pilot.events(host.mac);
    const line = (e: PxeEvent) => `${e.protocol}/${e.kind}/${e.decision}: ${e.reason}`;
    const all = events.map(line).join('\n');
    const script = events.find((e) => e.protocol === 'http' && e.kind === 'GET /boot' && e.decision === 'install');
    assert.ok(script, `pxe-pilot served the install script for ${debianProfile}; events:\n${all}`);
    assert.equal(script.detail?.profile, debianProfile);
    assert.match(script.reason, /install consumed now \(this installer fetches no answer\)/, 'a Debian install is consumed when /boot serves the installer');

    const preseed = events.find((e) => e.protocol === 'answer' && e.kind === 'GET /preseed/<mac>.cfg' && e.decision === 'served');
    assert.ok(preseed, `pxe-pilot served a preseed; events:\n${all}`);
    assert.equal(preseed.detail?.file, `preseed/hosts/${host.mac.replace(/:/g, '-')}.cfg`, "the machine's own preseed, chosen by the MAC in the URL");
    assert.match(preseed.reason, /node is installing$/, 'the preseed fetch finds the install already consumed');

    const webhook = events.find((e) => e.protocol === 'webhook' && e.decision === 'installed');
    assert.ok(webhook, `the early_command's report reached the webhook; events:\n${all}`);
    assert.equal(webhook.detail?.fqdn, `${host.hostname}.lab.example`);
    assert.ok(eventTime(script) <= eventTime(preseed) && eventTime(preseed) <= eventTime(webhook), `script, preseed, report in that order:\n${all}`);
    assert.equal(await pilot.nodeState(host.mac), 'installed');
    process.stdout.write(`# di-bios: power on to power off ${seconds.toFixed(0)} s\n`);

    const again = await bootToLocalDisk(lab, { name: 'di-bios-again', firmware: 'bios', mac: host.mac }, localBootMs);
    const since = again.machine.startedAt - 1000;
    const later = (await pilot.events(host.mac)).filter((e) => eventTime(e) >= since);
    assert.ok(
      later.some((e) => e.protocol === 'http' && e.kind === 'GET /boot' && e.decision === 'local'),
      `the second network boot went to local disk; it recorded:\n${later.map(line).join('\n')}`,
    );
  });
});
