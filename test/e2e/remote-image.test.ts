// A remote image (issue 27): the installer stand-in's kernel and initrd sit on a second HTTP
// server, Debian's nginx, run in the lab's namespace only. The profile names them in an
// [image standin/remote] section: the kernel pinned by SHA-256 (pxe-pilot fetches it once into
// its cache and serves it), the initrd unpinned (handed to iPXE as its URL, fetched from nginx by
// the machine), and a kernel line with ${mac} and ${mac_hyphen}. A BIOS machine installs from it,
// and the stand-in prints the kernel line it got.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools, type Standin } from '../helpers/standin.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { answerFor, BootLab, lanNs, pilotBase, type InstallHost } from './lab.ts';
import { lan } from '../helpers/lab-addresses.ts';
import { bootAndInstall, plainSerial } from './scenarios.ts';

const skip = skipUnless(['root', qemuBinary, 'curl', '/usr/sbin/nginx', ...standinTools, ...firmwareFiles.bios]);

const biosInstallMs = 240_000;
const imagePort = 8090;
const imageBase = `http://${lan.server}:${imagePort}`;
const remoteProfile = 'standin/remote';

async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** nginx in the lab namespace, one process (no master, no daemon), logs and temp files in `dir`. */
async function startImageServer(lab: BootLab, standin: Standin, dir: string): Promise<{ nginx: ChildProcess; accessLog: string }> {
  const www = join(dir, 'www');
  await mkdir(join(www, 'standin'), { recursive: true });
  await copyFile(standin.kernel, join(www, 'standin', 'vmlinuz'));
  await copyFile(standin.initrd, join(www, 'standin', 'initrd'));
  const accessLog = join(dir, 'access.log');
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      'daemon off;',
      'master_process off;',
      'user root;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} info;`,
      'events { worker_connections 64; }',
      'http {',
      `  access_log ${accessLog};`,
      `  client_body_temp_path ${join(dir, 'body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      `  server { listen ${lan.server}:${imagePort}; root ${www}; }`,
      '}',
      '',
    ].join('\n'),
  );
  const nginx = lab.net.spawn(lanNs, ['/usr/sbin/nginx', '-p', dir, '-c', conf, '-e', join(dir, 'error.log')]);
  const out = collectOutput(nginx);
  await waitFor('nginx to serve the stand-in', async () => {
    if (nginx.exitCode !== null) throw new Error(`nginx exited at start: ${out.text()}`);
    const r = await lab.net.exec(lanNs, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${imageBase}/standin/initrd`], { allowFail: true });
    return r.stdout.trim() === '200';
  });
  return { nginx, accessLog };
}

describe('a remote image on a second HTTP server', { skip, timeout: 420_000 }, () => {
  const host: InstallHost = { mac: '52:54:00:e2:27:01', hostname: 'remote1' };
  let lab: BootLab | undefined;
  let pilot: PxePilot | undefined;
  let accessLog = '';
  let kernelSha = '';

  before(async () => {
    const standin = await buildStandin();
    lab = await BootLab.create('remote');
    const served = await startImageServer(lab, standin, lab.path('image-host'));
    accessLog = served.accessLog;
    kernelSha = await sha256Of(standin.kernel);
    pilot = await lab.startPxePilot({
      mode: 'server',
      standin,
      installHosts: [],
      uefiLoader: 'snponly.efi',
      extraHosts: [{ mac: host.mac, hostname: host.hostname, action: 'install', profile: remoteProfile }],
      extraSections: {
        [`image ${remoteProfile}`]: {
          kernel: `${imageBase}/standin/vmlinuz`,
          kernel_sha256: kernelSha,
          initrd: `${imageBase}/standin/initrd`,
          cmdline: 'console=ttyS0 quiet pxe_mac=${mac} pxe_mac_hyphen=${mac_hyphen} pxe_host=${hostname}',
          // The stand-in fetches its answer, as the Proxmox installer it imitates.
          consumed_at: 'answer',
        },
      },
    });
    await writeFile(lab.path('answers', 'hosts', `${host.mac.replace(/:/g, '-')}.toml`), answerFor(host, pilotBase));
  });
  after(async () => {
    await lab?.destroy();
  });

  test('the pinned kernel is fetched once into the cache and served by pxe-pilot; the machine installs with ${mac} filled in', async () => {
    assert.ok(lab && pilot, 'the lab started');
    const cached = `${pilotBase}/remote/${kernelSha}/vmlinuz`;
    await waitFor(
      'pxe-pilot to fetch and check the pinned kernel',
      async () => (await lab!.net.exec(lanNs, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', cached], { allowFail: true })).stdout.trim() === '200',
      60_000,
    );
    const run = await bootAndInstall(lab, { name: 'remote-bios', firmware: 'bios', mac: host.mac, serial: 'E2E-remote-bios' }, biosInstallMs);
    const serial = plainSerial(run.serial);
    const line = /standin: kernel command line: (.*)/.exec(serial)?.[1] ?? '';
    assert.match(line, /(^| )pxe_mac=52:54:00:e2:27:01( |$)/, `the kernel line the stand-in saw: ${line}`);
    assert.match(line, /(^| )pxe_mac_hyphen=52-54-00-e2-27-01( |$)/, line);
    assert.match(line, /(^| )pxe_host=remote1( |$)/, line);
    assert.doesNotMatch(line, /\$ ?\{/, 'no placeholder left unfilled or mangled');
    assert.ok(run.answer?.includes('fqdn = "remote1.lab.example"'), `the answer was fetched: ${serial.slice(-800)}`);
    assert.match(serial, /standin: webhook delivered/);
    await waitFor('the node to be installed', async () => (await pilot!.nodeState(host.mac)) === 'installed', 20_000);

    // Who fetched what from the image host: pxe-pilot the kernel (once), the machine the initrd.
    const log = await readFile(accessLog, 'utf8');
    const hits = (path: string): string[] =>
      log
        .split('\n')
        .filter((l) => l.includes(`"GET ${path} `))
        .map((l) => l.split(' ')[0]!);
    assert.deepEqual(hits('/standin/vmlinuz'), [lan.server], `the kernel came from pxe-pilot's cache, fetched once:\n${log}`);
    // (The lab's own readiness check fetched it from the server's address too.)
    assert.ok(
      hits('/standin/initrd').some((ip) => ip !== lan.server),
      `the machine fetched the unpinned initrd itself:\n${log}`,
    );
  });
});
