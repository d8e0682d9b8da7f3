// UEFI HTTP boot end to end: OVMF's own HTTP boot client (PXE off, so HTTPv4 is its first boot
// entry) asks DHCP with option 93 = 16 and vendor class HTTPClient, gets a URL from pxe-pilot,
// HEADs and GETs the iPXE binary from /ipxe/… over HTTP (no TFTP at all), and that iPXE goes on
// as any iPXE machine: /boot → install script → the stand-in installs and reports back.
// The lab and the checks both HTTP boot test files share (server mode runs in CI; proxy mode in
// the full matrix, http-boot-proxy.full.test.ts). Each suite builds its own namespaces and
// removes them (and every process it started, by pid).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { standinIsoTools } from '../helpers/standin-iso.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { BootLab, answerFor, lan, pilotBase, type InstallHost } from './lab.ts';
import { plainSerial, type InstallRun } from './scenarios.ts';
import { tomlStatements } from './expect.ts';

export const needs = skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...standinIsoTools, ...firmwareFiles['uefi-http']]);

// Generous bounds for TCG on a busy runner; measured figures are in docs/firmware.md.
export const installMs = 240_000;
export const localBootMs = 150_000;

/** The loader pxe-pilot names in the URL: Debian's snponly.efi, the shipped UEFI choice. */
const loader = 'snponly.efi';

export interface Under {
  lab: BootLab;
  pilot: PxePilot;
}

export function labInSuite(tag: string, mode: 'server' | 'proxy', host: InstallHost): () => Under {
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
export async function expectHttpBootInstall(pilot: PxePilot, run: InstallRun, host: InstallHost, mode: 'server' | 'proxy'): Promise<void> {
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
