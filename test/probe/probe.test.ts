// `pxe-pilot probe` as an operator runs it, against pxe-pilot in server mode and in proxy mode
// beside a dnsmasq router, all inside namespaces this test makes and removes.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NetLab } from '../helpers/netns.ts';
import { repoRoot } from '../helpers/standin.ts';
import { skipUnless } from '../helpers/requirements.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import type { ProbeResult } from '../../src/probe/probe.ts';
import { buildBootNet, httpBase, installProfile, net, startPilot, writeBootFiles, type Mode } from '../helpers/boot-net.ts';

const KERNEL_BYTES = 300_000;
const INITRD_BYTES = 1_200_000;
const archs = ['bios', 'efi64', 'efi64-http', 'ipxe'] as const;
const macFor = (mode: Mode, i: number): string => `52:54:00:7${mode === 'server' ? 1 : 2}:00:${i.toString(16).padStart(2, '0')}`;

async function probe(lab: NetLab, args: string[]): Promise<{ code: number; result: ProbeResult | null; stdout: string; stderr: string }> {
  const r = await lab.exec('clients', ['sh', '-c', 'cd "$0" && exec "$@"', repoRoot, process.execPath, '--import', 'tsx', 'src/cli.ts', 'probe', ...args], {
    allowFail: true,
    timeoutMs: 90_000,
  });
  let result: ProbeResult | null = null;
  if (args.includes('--json') && r.stdout.trim().startsWith('{')) result = JSON.parse(r.stdout) as ProbeResult;
  return { code: r.code, result, stdout: r.stdout, stderr: r.stderr };
}

for (const mode of ['server', 'proxy'] as const) {
  describe(`probe against pxe-pilot in ${mode} mode`, { skip: skipUnless(['root', 'dnsmasq']) }, () => {
    let lab: NetLab;
    let dir: string;
    let pilot: PxePilot;
    let tftpRoot: string;

    before(async () => {
      lab = new NetLab(`probe${mode[0]}`);
      dir = mkdtempSync(join(tmpdir(), 'pxp-probe-'));
      const files = writeBootFiles(dir, KERNEL_BYTES, INITRD_BYTES);
      tftpRoot = files.tftpRoot;
      await buildBootNet(lab, mode, dir);
      pilot = await startPilot(lab, { mode, dir, ...files, installMacs: [...archs.map((_, i) => macFor(mode, i)), macFor(mode, 0x40)] });
    });

    after(async () => {
      await lab?.destroy();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    archs.forEach((arch, i) => {
      test(`${arch}: the whole chain, DHCP to initrd, each step timed`, async () => {
        const mac = macFor(mode, i);
        const r = await probe(lab, [
          '--mac',
          mac,
          '--arch',
          arch,
          '--interface',
          'eth0',
          '--json',
          ...(mode === 'proxy' ? ['--proxy', '--server', net.pxe] : []),
        ]);
        assert.equal(r.code, 0, `probe failed: ${r.stdout}${r.stderr}\n--- pxe-pilot ---\n${pilot.logText().slice(-3000)}`);
        const result = r.result!;
        assert.equal(result.ok, true);
        const names = result.phases.map((p) => p.name);
        const loader = arch === 'bios' || arch === 'efi64' ? ['tftp'] : arch === 'efi64-http' ? ['http-loader'] : [];
        const firmwareDhcp = mode === 'proxy' && arch === 'efi64' ? ['dhcp', 'proxy-4011'] : ['dhcp'];
        const ipxeDhcp = mode === 'proxy' ? ['dhcp-ipxe', 'proxy-4011-ipxe'] : ['dhcp-ipxe'];
        const expected = arch === 'ipxe' ? (mode === 'proxy' ? ['dhcp', 'proxy-4011'] : ['dhcp']) : [...firmwareDhcp, ...loader, ...ipxeDhcp];
        assert.deepEqual(names, [...expected, 'bootstrap', 'boot-script', 'kernel', 'initrd']);
        for (const p of result.phases) assert.ok(p.ok && p.ms >= 0, `${p.name}: ${p.detail}`);
        const byName = new Map(result.phases.map((p) => [p.name, p]));
        assert.equal(byName.get('kernel')!.bytes, KERNEL_BYTES);
        assert.equal(byName.get('initrd')!.bytes, INITRD_BYTES);
        if (loader[0] === 'tftp') assert.equal(byName.get('tftp')!.bytes, arch === 'bios' ? 74213 : 173792);
        if (loader[0] === 'http-loader') assert.match(byName.get('http-loader')!.detail, /snponly\.efi: 173792 bytes/);
        assert.match(byName.get('bootstrap')!.detail, new RegExp(`${httpBase.replace(/\./g, '\\.')}/boot\\.ipxe: chains to `));
        assert.match(
          byName.get('boot-script')!.detail,
          new RegExp(`/boot\\?mac=${mac.replace(/:/g, '-')}&.*loads .*/assets/${installProfile}/vmlinuz and 1 initrd`),
        );
        // The range is 10.77.1.0-10.77.15.255 in both modes (pxe-pilot's pool, or the router's).
        assert.match(result.ip ?? '', /^10\.77\.([1-9]|1[0-5])\.\d+$/);
        // pxe-pilot saw the machine and consumed its install: the chain really reached it.
        assert.equal(await pilot.nodeState(mac), 'installing');
      });
    });

    test('the text report names every step and says the chain is complete', async () => {
      const mac = macFor(mode, 0x40);
      const r = await probe(lab, ['--mac', mac, '--arch', 'ipxe', ...(mode === 'proxy' ? ['--proxy'] : [])]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^probe ${mac} \\(ipxe, ${mode} mode\\) on eth0\\n`));
      assert.match(r.stdout, /^ {2}ok {2}kernel +\d+ ms {2}http:\/\/10\.77\.0\.1:8080\/assets\/debian\/12\/vmlinuz: 300000 bytes$/m);
      assert.match(r.stdout, /^complete boot chain in /m);
    });

    test('an unknown machine gets the menu, whose default is the local disk: the probe stops there and says so', async () => {
      // No [host] section: the menu; it times out to its default, the local disk.
      const r = await probe(lab, ['--mac', '52:54:00:7f:00:01', '--arch', 'ipxe', '--json', ...(mode === 'proxy' ? ['--proxy'] : [])]);
      assert.equal(r.code, 1);
      assert.equal(r.result!.ok, false);
      assert.equal(r.result!.failure!.phase, 'boot-script');
      assert.match(r.result!.failure!.reason, /\/boot\?mac=52-54-00-7f-00-01.* returns to the firmware: pxe-pilot: booting from local disk$/);
    });

    test("a missing boot file stops the probe at TFTP with the server's error", async () => {
      renameSync(join(tftpRoot, 'snponly.efi'), join(tftpRoot, 'snponly.efi.away'));
      try {
        const r = await probe(lab, ['--mac', '52:54:00:7f:00:02', '--arch', 'efi64', ...(mode === 'proxy' ? ['--proxy'] : [])]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stdout, /^ {2}FAIL tftp +\d+ ms {2}snponly\.efi from 10\.77\.0\.1: TFTP error 1 from 10\.77\.0\.1: /m);
        assert.match(r.stdout, /^stopped at tftp after /m);
      } finally {
        renameSync(join(tftpRoot, 'snponly.efi.away'), join(tftpRoot, 'snponly.efi'));
      }
    });

    if (mode === 'server') {
      test('bad arguments exit 2 with what to fix, before anything is sent', async () => {
        const cases: [string[], RegExp][] = [
          [['--arch', 'bios'], /--mac is required/],
          [['--mac', 'nope', '--arch', 'bios'], /--mac "nope" is not a MAC address/],
          [['--mac', '52:54:00:00:00:01', '--arch', 'arm'], /--arch "arm": one of bios, efi64, efi64-http, ipxe/],
          [['--mac', '52:54:00:00:00:01', '--arch', 'bios', '--interface', 'nosuch0'], /--interface "nosuch0": no such network interface/],
          [['--mac', '52:54:00:00:00:01', '--arch', 'bios', '--blksize', '0'], /--blksize "0": give a whole number from 1 to 65464/],
          [['--mac', '52:54:00:00:00:01', '--arch', 'bios', '--server', 'pxe.example'], /--server "pxe\.example" is not an IPv4 address/],
          [['--mac', '52:54:00:00:00:01', '--arch', 'bios', '--frobnicate'], /unknown flag --frobnicate/],
        ];
        for (const [args, message] of cases) {
          const r = await probe(lab, args);
          assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
          assert.match(r.stderr, message);
          assert.match(r.stderr, /usage:/);
          assert.equal(r.stdout, '');
        }
      });
    }
  });
}
