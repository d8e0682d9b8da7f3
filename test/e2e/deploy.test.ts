// A disk image deployed by the real agent against the real server, under OVMF: `assets add --kind
// disk-image` takes a GPT .raw.zst (a standalone GRUB, a kernel and an initrd on its ESP, an ext4
// root); a [host] with action = deploy network-boots the agent, which streams the image onto the
// machine's blank virtio disk (the lab cuts that stream at about 40 %, and the agent resumes it
// with a Range request), seeds cloud-init and reboots; the next power-on is sent to the local
// disk, which boots and prints the host name it finds in its seed. A second machine gets the same
// image with one byte changed after it was added (size and mtime kept, so only the agent's digest
// can tell): it is refused, its disk's partition tables are zeroed, and explain names both digests.
// The first machine is then released with --wipe: its next network boot clears the deployed disk
// (both GPT headers and the root's signature read zero) and the node is seen again. A third
// machine's disk is smaller than the image: the plan is refused with both sizes before a byte is
// written.
// The lab (namespaces, every process by pid) is removed in after().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary, type Machine } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { agentBuildTools, buildAgentImage, installAgentImage } from '../helpers/agent-image.ts';
import { buildDeployDiskImage, DEPLOYED_MARKER, deployDiskImageTools, type DeployDiskImage } from '../helpers/deploy-disk-image.ts';
import { addAssetWithCli } from '../helpers/standin-iso.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { waitFor } from '../helpers/netns.ts';
import { cutOneStreamAfter, type StreamCut } from '../helpers/stream-cut.ts';
import { BootLab, lan, lanNs, pilotHttpPort } from './lab.ts';
import { agentLines } from './inspect-scenario.ts';
import { plainSerial } from './scenarios.ts';

const skip = skipUnless(['root', qemuBinary, 'curl', ...standinTools, ...agentBuildTools, ...deployDiskImageTools, ...firmwareFiles.uefi]);
const MiB = 1 << 20;

const good = { mac: '52:54:00:de:01:01', hostname: 'web7', profile: 'deploy-test/1' };
const tampered = { mac: '52:54:00:de:01:02', hostname: 'web8', profile: 'deploy-test/2' };
const tooSmall = { mac: '52:54:00:de:01:03', hostname: 'web9', profile: 'deploy-test/1' };

interface NodeView {
  state: string;
  install?: { report?: { ok?: boolean; reason?: string } | null } | null;
}

describe(
  'deploying a disk image under OVMF: streamed, seeded, booted from its disk; a tampered image and a small disk refused',
  { skip, concurrency: false, timeout: 2_400_000 },
  () => {
    let lab: BootLab | undefined;
    let pilot: PxePilot | undefined;
    let image: DeployDiskImage | undefined;
    let goodDigest = '';
    let tamperedDigest = '';

    before(
      async () => {
        const agent = await buildAgentImage();
        const standin = await buildStandin();
        lab = await BootLab.create('depl');
        await lab.startRouter({ kind: 'router-advertisements-only' });
        await installAgentImage(agent, lab.path('assets'));
        image = buildDeployDiskImage(agent, lab.path('disk-image'));
        pilot = await lab.startPxePilot({
          mode: 'server',
          standin,
          installHosts: [],
          uefiLoader: 'snponly.efi',
          extraHosts: [good, tampered, tooSmall].map((h) => ({ mac: h.mac, hostname: h.hostname, action: 'deploy', profile: h.profile })),
        });
        // As a user would: the image added with the CLI, kept compressed.
        for (const version of ['1', '2'])
          await addAssetWithCli(image.zst, pilot.configFile, ['--kind', 'disk-image', '--product', 'deploy-test', '--version', version]);
        const kept = (version: string): string => join(lab!.path('assets'), 'deploy-test', version, 'disk.raw.zst');
        goodDigest = createHash('sha256')
          .update(readFileSync(kept('1')))
          .digest('hex');
        // One byte changed in the middle of version 2, its size and mtime kept: only a full digest sees it.
        const file = kept('2');
        const st = statSync(file);
        // touch -r keeps the nanoseconds the manifest compares; a Date would round them to ms.
        execFileSync('touch', ['-r', file, `${file}.times`]);
        const fd = openSync(file, 'r+');
        try {
          const at = Math.floor(st.size / 2);
          const byte = Buffer.alloc(1);
          readSync(fd, byte, 0, 1, at);
          byte[0] = byte[0]! ^ 0xff;
          writeSync(fd, byte, 0, 1, at);
        } finally {
          closeSync(fd);
        }
        execFileSync('touch', ['-r', `${file}.times`, file]);
        rmSync(`${file}.times`);
        tamperedDigest = createHash('sha256').update(readFileSync(file)).digest('hex');
      },
      { timeout: 15 * 60_000 },
    );
    after(async () => {
      await lab?.destroy();
    });

    /**
     * A blank disk, the machine on it network-booting until the agent powers it off or reboots it.
     * `onceAgentRuns` runs when the agent's /init has started (its kernel and initrd are loaded).
     */
    async function deployOnto(h: typeof good, diskBytes: number, onceAgentRuns?: () => Promise<void>): Promise<{ disk: string; serial: string }> {
      const disk = lab!.path(`${h.hostname}-disk.img`);
      execFileSync('truncate', ['-s', String(diskBytes), disk]);
      const machine = await lab!.bootMachine({
        name: `${h.hostname}-deploy`,
        firmware: 'uefi',
        mac: h.mac,
        disks: [{ file: disk, serial: `DISK-${h.hostname}`, bus: 'virtio' }],
      });
      const serial = await untilOff(machine, 'the agent to start in deploy mode', /pxe-pilot-agent: \/init started/, 600_000, onceAgentRuns);
      return { disk, serial };
    }

    async function untilOff(machine: Machine, what: string, pattern: RegExp | string, timeoutMs: number, onceSeen?: () => Promise<void>): Promise<string> {
      try {
        await machine.waitForSerial(what, pattern, timeoutMs);
        await onceSeen?.();
        await machine.waitForPowerOff(timeoutMs);
      } finally {
        await machine.stop();
      }
      return plainSerial(await machine.serial());
    }

    test('the stream cut at about 40 % is resumed with Range; the agent writes and seeds the image; the node is installed; the next power-on boots the disk with its own host name', async () => {
      if (!lab || !pilot || !image) throw new Error('the lab did not start');
      const compressed = statSync(image.zst).size;
      const started = Date.now();
      // Once the agent runs (its kernel and initrd are loaded), the first connection that has
      // delivered 40 % of the compressed image is cut: only the image's stream carries that much.
      // The LAN is held to 40 Mbit/s meanwhile, so the cut lands mid-stream, not after its end.
      let cutter: StreamCut | undefined;
      const { disk, serial } = await deployOnto(good, 256 * MiB, async () => {
        cutter = cutOneStreamAfter(lab!.net, lanNs, pilotHttpPort, compressed * 0.4, { slowDown: { dev: lan.bridge, mbit: 40 } });
      });
      await cutter?.stop();
      const cut = await cutter?.cut.catch((err: Error) => assert.fail(`${err.message}:\n${agentLines(serial)}`));
      const deploySeconds = (Date.now() - started) / 1000;
      assert.match(serial, /pxe-pilot-agent: .*written to \/dev\/vda and verified/, agentLines(serial));
      // The agent went on from the bytes it had, into the same decompressor and hash.
      const resumed = /pxe-pilot-agent: resuming at byte (\d+) of (\d+)/.exec(serial);
      assert.ok(resumed, `the agent never resumed a cut stream (${JSON.stringify(cut)}):\n${agentLines(serial)}`);
      assert.equal(Number(resumed[2]), compressed);
      const at = Number(resumed[1]) / compressed;
      assert.ok(at > 0.3 && at < 0.6, `resumed at ${(at * 100).toFixed(1)} % of the compressed image, not near the 40 % cut (${JSON.stringify(cut)})`);
      await waitFor('the deploy to be reported', async () => (await pilot!.admin<NodeView>(`/nodes/${good.mac}`)).body?.state === 'installed', 60_000);
      const events = await pilot.events(good.mac);
      const phases = new Set(events.filter((e) => e.kind === 'deploy-progress').map((e) => String((e.detail as { phase?: string } | undefined)?.phase)));
      for (const phase of ['download', 'verify', 'seed']) assert.ok(phases.has(phase), `no ${phase} progress event: ${[...phases].join(', ')}`);
      // The disk holds the image's partition table as written (the first sector and the GPT header).
      const written = readFileSync(disk);
      const raw = readFileSync(image.raw);
      assert.ok(written.subarray(0, 1024).equals(raw.subarray(0, 1024)), 'the protective MBR and GPT header are the image’s');

      const local = await lab.bootMachine({
        name: `${good.hostname}-local`,
        firmware: 'uefi',
        mac: good.mac,
        disks: [{ file: disk, serial: `DISK-${good.hostname}`, bus: 'virtio' }],
      });
      const booted = await untilOff(local, 'the deployed system to boot from its disk', DEPLOYED_MARKER, 420_000);
      const localSeconds = (Date.now() - started) / 1000 - deploySeconds;
      assert.match(booted, new RegExp(`${DEPLOYED_MARKER.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ${good.hostname}\\b`), booted.slice(-3000));
      const explained = await pilot.admin<unknown>(`/nodes/${good.mac}/explain`);
      assert.match(explained.text, /local/i, explained.text.slice(0, 2000));
      process.stderr.write(
        `deploy under OVMF (TCG): power-on to deployed and rebooting ${deploySeconds.toFixed(1)} s for a ${(image.sizeBytes / MiB).toFixed(0)} MiB image ` +
          `(${(readFileSync(image.zst).length / MiB).toFixed(1)} MiB zstd); the next power-on to the deployed system's marker ${localSeconds.toFixed(1)} s\n${agentLines(serial)}\n`,
      );
    });

    test('released with --wipe, the deployed machine’s next network boot clears its disk; the node is seen again, its inventory kept', async () => {
      if (!lab || !pilot || !image) throw new Error('the lab did not start');
      const disk = lab.path(`${good.hostname}-disk.img`);
      const ext4Magic = image.root.start + 1080;
      const before = readFileSync(disk);
      assert.equal(before.readUInt16LE(ext4Magic), 0xef53, 'the deployed root file system is on the disk before the wipe (the first test ran)');
      const released = await pilot.cli(['nodes', 'release', good.mac, '--wipe']);
      assert.equal(released.code, 0, `${released.stdout}\n${released.stderr}`);
      assert.equal(await pilot.nodeState(good.mac), 'wipe-pending');

      const machine = await lab.bootMachine({
        name: `${good.hostname}-wipe`,
        firmware: 'uefi',
        mac: good.mac,
        disks: [{ file: disk, serial: `DISK-${good.hostname}`, bus: 'virtio' }],
      });
      const serial = await untilOff(machine, 'the agent to start in wipe mode', /pxe-pilot-agent: \/init started/, 600_000);
      await waitFor('the wipe to be reported', async () => (await pilot!.nodeState(good.mac)) === 'seen', 60_000);
      const wiped = readFileSync(disk);
      const zero = Buffer.alloc(MiB);
      assert.ok(wiped.subarray(0, MiB).equals(zero), `the protective MBR and the GPT header are zeros:\n${agentLines(serial)}`);
      assert.ok(wiped.subarray(wiped.length - MiB).equals(zero), 'the backup GPT at the end is zeros');
      assert.equal(wiped.readUInt16LE(ext4Magic), 0, 'wipefs erased the root file system’s signature too');
      const result = (await pilot.events(good.mac)).filter((e) => e.kind === 'wipe-result').at(-1);
      assert.equal(result?.decision, 'wiped', JSON.stringify(result));
      const node = await pilot.admin<{ inventory?: { document?: { disks?: unknown[] } } | null }>(`/nodes/${good.mac}`);
      assert.ok((node.body?.inventory?.document?.disks ?? []).length > 0, `the inventory is kept: ${node.text.slice(0, 1500)}`);
    });

    test('an image changed after it was added is refused by its digest; its disk has no partition table left; explain names both digests', async () => {
      if (!lab || !pilot || !image) throw new Error('the lab did not start');
      const { disk, serial } = await deployOnto(tampered, 256 * MiB);
      await waitFor(
        'the failed deploy to be reported',
        async () => (await pilot!.admin<NodeView>(`/nodes/${tampered.mac}`)).body?.state === 'deploy-failed',
        60_000,
      );
      const written = readFileSync(disk);
      const zero = Buffer.alloc(MiB);
      assert.ok(written.subarray(0, MiB).equals(zero), `the first MiB (MBR, GPT header) is zeroed:\n${agentLines(serial)}`);
      assert.ok(written.subarray(written.length - MiB).equals(zero), 'the last MiB (the backup GPT) is zeroed');
      const explained = await pilot.admin<unknown>(`/nodes/${tampered.mac}/explain`);
      assert.match(explained.text, new RegExp(`digest mismatch: expected sha256 ${goodDigest}, received ${tamperedDigest}`), explained.text.slice(0, 3000));
      assert.notEqual(goodDigest, tamperedDigest);
      // Kept for a look by hand when the lab is kept (PXP_E2E_KEEP=1).
      if (process.env.PXP_E2E_KEEP) await cp(disk, `${disk}.after`);
    });

    test('a disk smaller than the image is refused before anything is written, with both sizes', async () => {
      if (!lab || !pilot || !image) throw new Error('the lab did not start');
      const { disk, serial } = await deployOnto(tooSmall, 64 * MiB);
      await waitFor('the refusal to be recorded', async () => (await pilot!.admin<NodeView>(`/nodes/${tooSmall.mac}`)).body?.state === 'deploy-failed', 60_000);
      assert.match(serial, /pxe-pilot-agent: no deploy: the server answered 409/, agentLines(serial));
      assert.ok(readFileSync(disk).equals(Buffer.alloc(64 * MiB)), 'not a byte was written');
      const explained = await pilot.admin<unknown>(`/nodes/${tooSmall.mac}/explain`);
      // Both sizes: the image's (it follows the agent's initrd on its ESP) and the disk's.
      const need = `(${(image.sizeBytes / MiB).toFixed(1)} MiB (${image.sizeBytes} bytes))`;
      assert.ok(explained.text.includes(`no non-removable disk holds ${tooSmall.profile} ${need}: vda 64.0 MiB`), explained.text.slice(0, 3000));
    });
  },
);
