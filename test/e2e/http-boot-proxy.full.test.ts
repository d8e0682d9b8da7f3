// UEFI HTTP boot end to end beside a dnsmasq router (the full matrix: PXE_PILOT_FULL_MATRIX=1):
// the firmware takes the URL from pxe-pilot's proxy offer and installs as in server mode.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstallHost } from './lab.ts';
import { bootAndInstall, plainSerial } from './scenarios.ts';
import { expectHttpBootInstall, installMs, labInSuite, needs } from './http-boot-lab.ts';

describe('UEFI HTTP boot with pxe-pilot as ProxyDHCP beside a dnsmasq router', { skip: needs, timeout: 600_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:e2:e4:02', hostname: 'http-proxy-node' };
  const under = labInSuite('hpxy', 'proxy', host);

  test("OVMF's HTTP boot client takes the URL from the proxy's offer and installs with the answer URL from the ISO", async () => {
    const { lab, pilot } = under();
    const run = await bootAndInstall(lab, { name: 'hpxy-http', firmware: 'uefi-http', mac: host.mac, serial: 'E2E-HTTP-PROXY' }, installMs);
    process.stdout.write(`# proxy mode: HTTP boot power-on → installed in ${run.seconds.toFixed(0)} s\n`);
    await expectHttpBootInstall(pilot, run, host, 'proxy');
    assert.match(plainSerial(run.serial), /standin: answer URL from \/auto-installer-mode\.toml in \/proxmox\.iso/);
  });
});
