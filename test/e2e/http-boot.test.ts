// UEFI HTTP boot end to end, server mode (in CI): OVMF's own HTTP boot client (PXE off, so
// HTTPv4 is its first boot entry) asks DHCP with option 93 = 16 and vendor class HTTPClient,
// gets a URL from pxe-pilot, HEADs and GETs the iPXE binary from /ipxe/… over HTTP (no TFTP at
// all), and that iPXE goes on as any iPXE machine: /boot → install script → the stand-in
// installs and reports back. Proxy mode: http-boot-proxy.full.test.ts.
import { describe, test } from 'node:test';
import type { InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk } from './scenarios.ts';
import { expectLocalBoot } from './expect.ts';
import { expectHttpBootInstall, installMs, labInSuite, localBootMs, needs } from './http-boot-lab.ts';

describe('UEFI HTTP boot with pxe-pilot as the DHCP server', { skip: needs, timeout: 600_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:e2:e4:01', hostname: 'http-node' };
  const under = labInSuite('hsrv', 'server', host);

  test("OVMF's HTTP boot client loads iPXE from /ipxe/ over HTTP, installs with its own answer, then boots its local disk", async () => {
    const { lab, pilot } = under();
    const run = await bootAndInstall(lab, { name: 'hsrv-http', firmware: 'uefi-http', mac: host.mac, serial: 'E2E-HTTP' }, installMs);
    process.stdout.write(`# server mode: HTTP boot power-on → installed in ${run.seconds.toFixed(0)} s\n`);
    await expectHttpBootInstall(pilot, run, host, 'server');
    const second = await bootToLocalDisk(lab, { name: 'hsrv-http-again', firmware: 'uefi-http', mac: host.mac }, localBootMs);
    process.stdout.write(`# server mode: HTTP boot to local disk in ${second.seconds.toFixed(0)} s\n`);
    await expectLocalBoot(pilot, second, host.mac);
  });
});
