// End to end with real firmware: QEMU machines PXE-boot through pxe-pilot, install the
// stand-in installer, report back, and boot their local disk the next time.
// Each describe builds its own namespaces and removes them (and every process it started,
// by pid) in after(), whatever the tests did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary, type Firmware } from '../helpers/qemu.ts';
import { buildStandin, standinTools, type Standin } from '../helpers/standin.ts';
import { standinIsoTools } from '../helpers/standin-iso.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { BootLab, type InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk, plainSerial } from './scenarios.ts';
import { expectInstalled, expectLocalBoot } from './expect.ts';

const skip = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...standinIsoTools, ...firmwareFiles.bios, ...firmwareFiles.uefi]);

// Generous bounds for TCG in a busy CI runner; measured typical figures are in docs/e2e.md.
// With HTTPS the stand-in runs openssl under TCG (handshake, fingerprint) before its answer.
const biosInstallMs = 240_000;
const uefiInstallMs = 270_000;
const localBootMs = 120_000;

interface LabUnderTest {
  lab: BootLab;
  pilot: PxePilot;
  mode: 'server' | 'proxy';
}

/** Builds the lab in before() and removes it, with every process it started, in after(). */
function labInSuite(tag: string, mode: 'server' | 'proxy', start: (lab: BootLab, standin: Standin) => Promise<PxePilot>): () => LabUnderTest {
  let current: LabUnderTest | undefined;
  let lab: BootLab | undefined;
  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create(tag);
    current = { lab, pilot: await start(lab, standin), mode };
  });
  after(async () => {
    await lab?.destroy();
  });
  return () => {
    if (!current) throw new Error('the lab did not start');
    return current;
  };
}

/** Power on, install, check; optionally power on again and check it went to local disk. */
async function installs(under: LabUnderTest, host: InstallHost, firmware: Firmware, name: string, thenLocalDisk: boolean): Promise<void> {
  const timeout = firmware === 'bios' ? biosInstallMs : uefiInstallMs;
  const install = await bootAndInstall(under.lab, { name, firmware, mac: host.mac, serial: `E2E-${name}` }, timeout);
  await expectInstalled(under.pilot, install, { host, firmware, mode: under.mode, tls: under.lab.tls });
  if (!thenLocalDisk) return;
  const second = await bootToLocalDisk(under.lab, { name: `${name}-again`, firmware, mac: host.mac }, localBootMs);
  await expectLocalBoot(under.pilot, second, host.mac);
}

describe('pxe-pilot as the DHCP server', { skip, concurrency: true, timeout: 480_000 }, () => {
  const biosHost: InstallHost = { mac: '52:54:00:e2:e0:01', hostname: 'bios-node' };
  const uefiHost: InstallHost = { mac: '52:54:00:e2:e0:02', hostname: 'uefi-node' };
  const under = labInSuite('srv', 'server', async (lab, standin) => {
    // The router only advertises IPv6 here; pxe-pilot is the DHCP server.
    await lab.startRouter({ kind: 'router-advertisements-only' });
    // snponly.efi, the shipped profile's UEFI choice (see UefiLoader for why not ipxe.efi).
    // HTTPS with require_tls: the answer comes from https://… in option 250, pinned by option 251.
    return lab.startPxePilot({ mode: 'server', standin, installHosts: [biosHost, uefiHost], uefiLoader: 'snponly.efi', https: true });
  });

  test('a BIOS machine (SeaBIOS + iPXE ROM) installs with its own answer from option 250, then boots its local disk', async () => {
    await installs(under(), biosHost, 'bios', 'srv-bios', true);
  });

  test('a UEFI machine (OVMF PXE → TFTP snponly.efi → iPXE → HTTP) installs with its own answer', async () => {
    await installs(under(), uefiHost, 'uefi', 'srv-uefi', false);
  });

  test('an unknown machine gets the menu and, after its timeout, local disk', async () => {
    const { lab, pilot } = under();
    const mac = '52:54:00:e2:e0:99';
    const run = await bootToLocalDisk(lab, { name: 'srv-unknown', firmware: 'bios', mac }, localBootMs);
    const serial = plainSerial(run.serial);
    assert.match(serial, new RegExp(`pxe-pilot: ${mac}`), 'the iPXE menu (titled with the MAC) was shown');
    const events = await pilot.events(mac);
    assert.ok(
      events.some((e) => e.protocol === 'http' && e.decision === 'menu'),
      `pxe-pilot recorded the menu; it recorded ${events.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`,
    );
    // The timeout runs out inside the menu script, on the machine: the firmware moving on is the proof.
    assert.doesNotMatch(serial, /standin: init started/);
    const state = await pilot.nodeState(mac);
    assert.ok(state !== 'installed' && state !== 'installing' && state !== 'install-pending', `an unknown machine is never armed for install (state ${state})`);
  });
});

describe('pxe-pilot as ProxyDHCP beside a dnsmasq router', { skip, concurrency: true, timeout: 480_000 }, () => {
  const uefiHost: InstallHost = { mac: '52:54:00:e2:e1:01', hostname: 'proxy-uefi' };
  const biosHost: InstallHost = { mac: '52:54:00:e2:e1:02', hostname: 'proxy-bios' };
  const under = labInSuite('pxy', 'proxy', async (lab, standin) => {
    await lab.startRouter({ kind: 'addresses' });
    // HTTPS with require_tls: `assets add` writes the https:// URL and cert_fingerprint into the ISO.
    return lab.startPxePilot({ mode: 'proxy', standin, installHosts: [uefiHost, biosHost], uefiLoader: 'snponly.efi', https: true });
  });

  test('a UEFI machine (OVMF PXE → TFTP snponly.efi → iPXE) installs with the answer URL from the ISO `assets add` prepared (found at /proxmox.iso), then boots past the network', async () => {
    await installs(under(), uefiHost, 'uefi', 'pxy-uefi', true);
  });

  test('a BIOS machine installs with the answer URL from the ISO `assets add` prepared', async () => {
    await installs(under(), biosHost, 'bios', 'pxy-bios', false);
  });
});
