// The fingerprint pxe-pilot hands out is the certificate it serves. An installer pins what it is
// given (DHCP option 251, cert_fingerprint in the ISO's /auto-installer-mode.toml, or what the
// operator copied from `pxe-pilot cert`) and refuses anything else, so each of the three must be
// the SHA-256 of the certificate on the wire, read here by openssl s_client against the daemon on
// 127.0.0.1: at start, across a restart, across a reload, and when the operator's certificate
// replaces the generated one. The daemon serves DHCP in a namespace "srv"; namespace "cli" asks it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeDhcp, parseDhcp } from '../../src/dhcp/codec.ts';
import { buildProxmoxIso, isoFile } from '../assets/fixtures.ts';
import { cliArgv } from '../helpers/cli.ts';
import { PxePilot, renderIni, type ProfileSpec } from '../helpers/daemon.ts';
import { dhcpRequest, T } from '../helpers/dhcp-packets.ts';
import { helperArgv, JsonLineChild } from '../helpers/json-lines.ts';
import { lan } from '../helpers/lab-addresses.ts';
import { NetLab, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { addAssetWithCli } from '../helpers/standin-iso.ts';

const skip = skipUnless(['root', 'ip', 'curl', 'openssl', 'xorriso', 'zstd']);

const CLIENT_MAC = '52:54:00:f1:00:01';
const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

describe('the certificate fingerprint pxe-pilot hands out is the one it serves', { skip, timeout: 300_000 }, () => {
  let lab: NetLab;
  let dir: string;
  let spec: ProfileSpec;
  let configFile: string;
  let pilot: PxePilot | undefined;
  let client: JsonLineChild;
  let xid = 0x5eed0000;
  let isoVersion = 0;

  const start = async (): Promise<void> => {
    pilot = await PxePilot.start(lab, 'srv', { configFile, spec, baseUrl: 'http://127.0.0.1', adminToken: '' });
  };

  /** SHA-256 of the certificate the daemon presents on 127.0.0.1:443, as openssl reads it. */
  async function served(): Promise<string> {
    const r = await lab.exec('srv', ['sh', '-c', 'openssl s_client -connect 127.0.0.1:443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256']);
    const fp = /fingerprint=(\S+)/i.exec(r.stdout)?.[1]?.toUpperCase();
    assert.match(String(fp), FINGERPRINT, `openssl read a certificate: ${r.stdout}${r.stderr}`);
    return fp!;
  }

  /** `pxe-pilot cert --config FILE`, run where the daemon runs. */
  async function certCommand(): Promise<string> {
    const r = await lab.exec('srv', cliArgv(['cert', '--config', configFile]), { timeoutMs: 60_000 });
    return r.stdout.trim();
  }

  /** A DISCOVER from the client namespace; option 251 of the OFFER. */
  async function option251(): Promise<string> {
    xid += 1;
    const mine = xid;
    const discover = encodeDhcp(dhcpRequest({ mac: CLIENT_MAC, type: T.DISCOVER, arch: 7, xid: mine }));
    client.send({ hex: discover.toString('hex'), port: 67, address: '255.255.255.255' });
    let fingerprint: unknown;
    await client.waitFor<{ data: string }>('datagram', ({ data }) => {
      const parsed = parseDhcp(Buffer.from(data, 'hex'));
      if (!parsed.ok || parsed.packet.xid !== mine || parsed.packet.options.read('messageType') !== T.OFFER) return false;
      fingerprint = parsed.packet.options.read('proxmoxCertFingerprint');
      return true;
    });
    assert.equal(typeof fingerprint, 'string', 'the OFFER carries option 251');
    return fingerprint as string;
  }

  /** `pxe-pilot assets add` on a Proxmox-shaped ISO, pinning this server (no --cert-fingerprint); the TOML's cert_fingerprint. */
  async function isoPin(): Promise<string> {
    isoVersion += 1;
    const iso = join(dir, `proxmox-ve-${isoVersion}.iso`);
    buildProxmoxIso(iso, { isorelease: String(isoVersion) });
    const out = await addAssetWithCli(iso, configFile);
    rmSync(iso);
    const toml = (await isoFile(join(dir, 'assets', 'proxmox-ve', `9.1-${isoVersion}`, 'proxmox.iso'), '/auto-installer-mode.toml', dir)).toString('utf8');
    assert.match(toml, new RegExp(`^url = "https://${lan.server.replace(/\./g, '\\.')}/answer"$`, 'm'), out);
    return /^cert_fingerprint = "([^"]+)"$/m.exec(toml)?.[1] ?? `no cert_fingerprint in ${toml}`;
  }

  /** Everything handed out equals what is served, and is returned. */
  async function handedOutIsServed(when: string, iso?: string): Promise<string> {
    const fp = await served();
    assert.equal(await certCommand(), fp, `${when}: pxe-pilot cert prints the served certificate's SHA-256`);
    assert.equal(await option251(), fp, `${when}: DHCP option 251 is the served certificate's SHA-256`);
    assert.equal(iso ?? (await isoPin()), fp, `${when}: the ISO's cert_fingerprint is the served certificate's SHA-256`);
    return fp;
  }

  /** Rewrites the profile's [https] section and sends SIGHUP; resolves once the daemon logged the reload. */
  async function reload(https: Record<string, string>): Promise<void> {
    spec = { ...spec, sections: { ...spec.sections, https: { enabled: true, port: 443, ...https } } };
    const lines = (what: string): string[] =>
      pilot!
        .logText()
        .split('\n')
        .filter((l) => l.includes(what));
    const [reloaded, refused] = [lines('reloaded ').length, lines('reload refused').length];
    writeFileSync(configFile, renderIni(spec));
    pilot!.child.kill('SIGHUP');
    await waitFor('the daemon to log the reload', () => lines('reloaded ').length > reloaded || lines('reload refused').length > refused, 20_000);
    assert.deepEqual(lines('reload refused').slice(refused), [], 'the reload was taken');
  }

  function operatorPair(name: string): { cert: string; key: string } {
    const cert = join(dir, `${name}.crt`);
    const key = join(dir, `${name}.key`);
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert],
      { stdio: 'ignore', env: { ...process.env, OPENSSL_CONF: '/dev/null' } },
    );
    return { cert, key };
  }

  before(async () => {
    lab = new NetLab('fp');
    dir = mkdtempSync(join(tmpdir(), 'pxp-fingerprint-'));
    for (const sub of ['tftp', 'answers', 'assets']) mkdirSync(join(dir, sub));
    configFile = join(dir, 'pxe-pilot.ini');
    await lab.addNamespace('srv');
    await lab.addNamespace('cli');
    await lab.addVethPair('srv', 'eth0', `${lan.server}/${lan.prefix}`, 'cli', 'eth0', null);
    // Without a default route the kernel refuses to send to 255.255.255.255 (ENETUNREACH).
    await lab.exec('cli', ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
    spec = {
      sections: {
        // Stays root whether or not a pxe-pilot account exists, so the operator's key files may stay
        // root's; which account the daemon becomes is test/net/privileges.test.ts's subject.
        server: { address: lan.server, interface: 'eth0', state_dir: join(dir, 'state'), user: 'root' },
        http: { port: 80 },
        https: { enabled: true, port: 443 },
        tftp: { root: join(dir, 'tftp') },
        dhcp: { mode: 'server', range_start: lan.rangeStart, range_end: lan.rangeEnd, netmask: lan.netmask },
        answers: { dir: join(dir, 'answers') },
        assets: { dir: join(dir, 'assets') },
      },
    };
    await start();
    client = new JsonLineChild(lab.spawn('cli', helperArgv('dgram-peer.ts', '0.0.0.0', '68'), { stdio: ['pipe', 'pipe', 'pipe'] }));
    await client.waitFor('ready');
  });

  after(async () => {
    await pilot?.stop();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('at start: option 251, the ISO and pxe-pilot cert all give the served certificate', async () => {
    await handedOutIsServed('at start');
  });

  test('across a restart the same certificate is served, so an ISO prepared before it still matches', async () => {
    const iso = await isoPin();
    const before = await handedOutIsServed('before the restart', iso);
    await pilot!.stop();
    await start();
    assert.equal(await handedOutIsServed('after the restart', iso), before);
  });

  test('across a reload (SIGHUP) the same certificate is served and handed out', async () => {
    const iso = await isoPin();
    const before = await handedOutIsServed('before the reload', iso);
    await reload({});
    assert.equal(await handedOutIsServed('after the reload', iso), before);
  });

  test("a reload onto the operator's certificate, and one that renews it in place, hands out the new one", async () => {
    const generated = await served();
    try {
      const pair = operatorPair('operator');
      await reload({ cert: pair.cert, key: pair.key });
      const operator = await handedOutIsServed('after the reload onto [https] cert');
      assert.notEqual(operator, generated, 'the operator certificate is served now');
      // Renewed in place: same paths, new files, then SIGHUP (what a certificate tool's hook does).
      const renewed = operatorPair('renewed');
      writeFileSync(pair.cert, readFileSync(renewed.cert));
      writeFileSync(pair.key, readFileSync(renewed.key));
      await reload({ cert: pair.cert, key: pair.key });
      const after = await handedOutIsServed('after the certificate was renewed in place');
      assert.notEqual(after, operator);
    } finally {
      await reload({});
    }
    assert.equal(await served(), generated, 'back on the generated certificate');
  });
});
