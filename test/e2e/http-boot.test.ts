// UEFI HTTP boot end to end: OVMF's own HTTP boot client (PXE off, so HTTPv4 is its first boot
// entry) asks DHCP with option 93 = 16 and vendor class HTTPClient, gets a URL from pxe-pilot,
// HEADs and GETs the iPXE binary from /ipxe/… over HTTP (no TFTP at all), and that iPXE goes on
// as any iPXE machine: /boot → install script → the stand-in installs and reports back.
// Each describe builds its own namespaces and removes them (and every process it started, by pid).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { standinIsoTools } from '../helpers/standin-iso.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { BootLab, answerFor, lan, pilotBase, type InstallHost } from './lab.ts';
import { bootAndInstall, bootToLocalDisk, plainSerial, type InstallRun } from './scenarios.ts';
import { expectLocalBoot, tomlStatements } from './expect.ts';

const needs = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...standinIsoTools, ...firmwareFiles['uefi-http']]);
const fullMatrix = process.env.PXE_PILOT_FULL_MATRIX === '1';
const proxySkip = needs || (fullMatrix ? false : 'proxy-mode HTTP boot runs with PXE_PILOT_FULL_MATRIX=1 (server mode runs always)');

// Generous bounds for TCG on a busy runner; measured figures are in docs/firmware.md.
const installMs = 240_000;
const localBootMs = 150_000;

/** The loader pxe-pilot names in the URL: Debian's snponly.efi, the shipped UEFI choice. */
const loader = 'snponly.efi';

interface Under {
  lab: BootLab;
  pilot: PxePilot;
}

function labInSuite(tag: string, mode: 'server' | 'proxy', host: InstallHost): () => Under {
  let current: Under | undefined;
  let lab: BootLab | undefined;
  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create(tag);
    await lab.startRouter({ kind: mode === 'server' ? 'router-advertisements-only' : 'addresses' });
    current = { lab, pilot: await lab.startPxePilot({ mode, standin, installHosts: [host], uefiLoader: loader }) };
  });
  after(async () => {
    await lab?.destroy();
  });
  return () => {
    if (!current) throw new Error('the lab did not start');
    return current;
  };
}

interface HttpLogLine {
  msg?: string;
  method?: string;
  path?: string;
  status?: number;
  client?: string;
}

/** The daemon's request log lines for one path. */
function requestsFor(pilot: PxePilot, path: string): HttpLogLine[] {
  return (pilot.logLines() as HttpLogLine[]).filter((l) => l.msg === 'http' && l.path === path);
}

/** What every HTTP-booted machine must show, in either mode. */
async function expectHttpBootInstall(pilot: PxePilot, run: InstallRun, host: InstallHost, mode: 'server' | 'proxy'): Promise<void> {
  const serial = plainSerial(run.serial);
  const url = `${pilotBase}/ipxe/${loader}`;
  // The firmware's HTTP boot client prints the URI it was given and its download.
  assert.match(serial, /Start HTTP Boot over IPv4/, 'OVMF started its HTTP boot client (HTTPv4 is its first entry)');
  assert.ok(serial.includes(url), `the firmware was told ${url}; serial:\n${serial.slice(0, 3000)}`);
  assert.doesNotMatch(serial, /Start PXE over IPv4/, 'no PXE: the firmware never asked for TFTP');

  const head = requestsFor(pilot, `/ipxe/${loader}`).filter((l) => l.method === 'HEAD');
  const get = requestsFor(pilot, `/ipxe/${loader}`).filter((l) => l.method === 'GET');
  assert.ok(
    head.some((l) => l.status === 200),
    `the firmware HEADs the loader and gets 200: ${JSON.stringify(head)}`,
  );
  assert.ok(
    get.some((l) => l.status === 200),
    `the firmware GETs the loader and gets 200: ${JSON.stringify(get)}`,
  );

  const dhcpServer = mode === 'server' ? lan.server : lan.router;
  assert.match(serial, new RegExp(`standin: address 10\\.77\\.0\\.\\d+/24 from DHCP server ${dhcpServer.replace(/\./g, '\\.')}`));
  assert.ok(run.answer !== null, `the stand-in printed no answer; serial:\n${serial.slice(-2000)}`);
  assert.deepEqual(tomlStatements(run.answer), tomlStatements(answerFor(host)), `the answer is hosts/${host.mac.replace(/:/g, '-')}.toml`);
  assert.match(serial, /standin: webhook delivered to .* \(boot mode efi\)/);
  assert.equal(await pilot.nodeState(host.mac), 'installed', 'GET /nodes/<mac> says installed after the webhook');

  const events = await pilot.events(host.mac);
  const dhcp = mode === 'server' ? 'dhcp' : 'proxydhcp';
  assert.ok(
    events.some((e) => e.protocol === dhcp && e.reason.includes('UEFI HTTP boot')),
    `pxe-pilot recorded its ${dhcp} answer to the HTTP boot client with the reason; it recorded: ${events.map((e) => `${e.protocol}/${e.decision}: ${e.reason}`).join(' | ')}`,
  );
  const protocols = new Set(events.map((e) => e.protocol));
  for (const p of ['http', 'answer', 'webhook']) assert.ok(protocols.has(p), `pxe-pilot recorded a ${p} event; it recorded: ${[...protocols].join(', ')}`);
  assert.ok(!protocols.has('tftp'), 'no TFTP in an HTTP boot');
}

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

describe('UEFI HTTP boot with pxe-pilot as ProxyDHCP beside a dnsmasq router', { skip: proxySkip, timeout: 600_000 }, () => {
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
