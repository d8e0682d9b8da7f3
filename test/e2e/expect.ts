// Assertions on what a machine in the lab showed (serial console) and what pxe-pilot recorded.
import assert from 'node:assert/strict';
import type { PxeEvent, PxePilot } from '../helpers/daemon.ts';
import { isUefi, type Firmware } from '../helpers/qemu.ts';
import { answerFor, lan, pilotBase, pilotHttpsBase, type InstallHost, type LabTls } from './lab.ts';
import { plainSerial, type InstallRun, type LocalBootRun } from './scenarios.ts';

/** TOML lines that carry meaning (no blanks, no comments), for comparing what was served with the file. */
export function tomlStatements(toml: string): string[] {
  return toml
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export interface InstallExpectation {
  host: InstallHost;
  firmware: Firmware;
  /** Who handed out the address: pxe-pilot (server mode) or the dnsmasq router (proxy mode). */
  mode: 'server' | 'proxy';
  /** The first three octets of the address the machine should get; default the boot LAN's 10.77.0. */
  network?: string;
  /** The lab ran with HTTPS (BootLab.tls): the answer must have come over HTTPS pinned to this. */
  tls?: LabTls | undefined;
  /** loader = grub: GRUB fetches its configuration over TFTP (event "GRUB config") instead of GET /boot. */
  loader?: 'ipxe' | 'grub';
}

/** The machine installed itself with its own answer, and pxe-pilot knows it is installed. */
export async function expectInstalled(pilot: PxePilot, run: InstallRun, want: InstallExpectation): Promise<PxeEvent[]> {
  const serial = plainSerial(run.serial);
  const dhcpServer = want.mode === 'server' ? lan.server : lan.router;
  assert.match(
    serial,
    new RegExp(`standin: address ${(want.network ?? '10.77.0').replace(/\./g, '\\.')}\\.\\d+/24 from DHCP server ${dhcpServer.replace(/\./g, '\\.')}`),
    'the stand-in got its address from the expected DHCP server',
  );
  const answerBase = want.tls ? pilotHttpsBase : pilotBase;
  if (want.tls) {
    const source = want.mode === 'server' ? 'DHCP option 251' : '/auto-installer-mode.toml';
    assert.ok(
      serial.includes(`standin: certificate fingerprint from ${source}: ${want.tls.fingerprint}`),
      `the stand-in took the fingerprint \`pxe-pilot cert\` printed from ${source}`,
    );
    assert.ok(
      serial.includes(`standin: answer fetched over HTTPS: certificate SHA-256 ${want.tls.fingerprint} matches the pinned fingerprint`),
      'the answer came over HTTPS from a server whose certificate matched the pin',
    );
    assert.ok(serial.includes(`standin: webhook delivered to ${pilotHttpsBase}/webhook/proxmox`), 'the webhook went over HTTPS, pinned by the answer');
  }
  if (want.mode === 'server') {
    assert.match(serial, new RegExp(`standin: answer URL from DHCP option 250: ${answerBase}/`), 'in server mode the answer URL comes from DHCP option 250');
  } else {
    assert.match(serial, /standin: mounted \/proxmox\.iso/, 'the ISO was placed at /proxmox.iso in the initramfs and loop-mounted');
    assert.match(
      serial,
      new RegExp(`standin: answer URL from /auto-installer-mode\\.toml in /proxmox\\.iso: ${answerBase}/answer`),
      'in proxy mode the answer URL comes from the ISO `assets add` prepared',
    );
    assert.doesNotMatch(serial, /pxe_answer=/, 'nothing on the kernel command line tells it');
  }
  assert.ok(run.answer !== null, `the stand-in printed no answer; serial:\n${serial.slice(-2000)}`);
  assert.deepEqual(
    tomlStatements(run.answer),
    tomlStatements(answerFor(want.host, pilotBase, want.tls)),
    `the answer is hosts/${want.host.mac.replace(/:/g, '-')}.toml`,
  );
  assert.match(serial, new RegExp(`standin: webhook delivered to .* \\(boot mode ${isUefi(want.firmware) ? 'efi' : 'bios'}\\)`));

  assert.equal(await pilot.nodeState(want.host.mac), 'installed', 'GET /nodes/<mac> says installed after the webhook');
  const events = await pilot.events(want.host.mac);
  const protocols = new Set(events.map((e) => e.protocol));
  const expected = [want.mode === 'server' ? 'dhcp' : 'proxydhcp', want.loader === 'grub' ? 'tftp' : 'http', 'answer', 'webhook'];
  if (want.loader === 'grub') {
    assert.ok(
      events.some((e) => e.kind === 'GRUB config' && e.decision === 'install'),
      `GRUB fetched its configuration and was told to install; recorded: ${events.map((e) => `${e.protocol}/${e.kind}/${e.decision}`).join(', ')}`,
    );
  }
  if (isUefi(want.firmware)) {
    assert.match(serial, /NBP file downloaded successfully/, 'OVMF loaded its boot file (iPXE, or the signed shim) over TFTP');
    // Only in server mode does pxe-pilot know which MAC a TFTP client's address belongs to (its lease).
    if (want.mode === 'server') expected.push('tftp');
  }
  for (const p of expected) assert.ok(protocols.has(p), `pxe-pilot recorded a ${p} event for ${want.host.mac}; it recorded: ${[...protocols].join(', ')}`);
  return events;
}

/** The machine's firmware moved on past the network, and pxe-pilot said local disk on purpose. */
export async function expectLocalBoot(pilot: PxePilot, run: LocalBootRun, mac: string): Promise<void> {
  const serial = plainSerial(run.serial);
  assert.doesNotMatch(serial, /standin: init started/, 'a machine sent to its local disk must not start the installer');
  const since = run.machine.startedAt - 1000;
  const events = (await pilot.events(mac)).filter((e) => eventTime(e) >= since);
  assert.ok(
    // iPXE asks over HTTP (GET /boot); GRUB (loader = grub) over TFTP (its per-machine config).
    events.some((e) => (e.protocol === 'http' || e.kind === 'GRUB config') && e.decision === 'local'),
    `pxe-pilot recorded a decision "local" for this boot (http, or the GRUB config); it recorded: ${events.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`,
  );
}

export function eventTime(e: PxeEvent): number {
  return typeof e.time === 'number' ? e.time : Date.parse(e.time);
}
