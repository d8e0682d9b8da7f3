// The agent's wipe (agent/wipe), run on the host under busybox sh with busybox's applets first on
// PATH, as in the agent image, and Debian's wipefs (util-linux, as the image carries it). The
// "disks" are regular files on a disk-backed filesystem (/var/tmp) holding GPT images made with
// sfdisk, described by a stand-in sysfs tree (size, removable, partitions, discard_max_bytes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';
import { parseWipeReport, wipeOutcome } from '../../src/boot/wipe.ts';

const skip = skipUnless(['busybox', 'sfdisk', 'wipefs']);
const SCRIPT = join(repoRoot, 'agent', 'wipe');
const MiB = 1024 * 1024;
const DISK_BYTES = 16 * MiB;

interface Disk {
  name: string;
  removable?: boolean;
  discard?: number;
  /** Partition names sysfs lists (their device files made apart). */
  partitions?: string[];
}

describe('agent/wipe: clearing every non-removable disk', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let bin: string;
  let wipefs: string;

  before(() => {
    dir = mkdtempSync('/var/tmp/pxp-wipe-');
    bin = join(dir, 'bin');
    mkdirSync(bin);
    execFileSync('busybox', ['--install', '-s', bin]);
    wipefs = execFileSync('sh', ['-c', 'command -v wipefs'], { encoding: 'utf8' }).trim();
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh machine: its sysfs, /dev with a GPT image per disk in `withDevice`, and a work folder. */
  function machine(label: string, disks: Disk[], withDevice: string[]): { sys: string; dev: string; work: string } {
    const root = join(dir, label);
    const sys = join(root, 'sys');
    const dev = join(root, 'dev');
    const work = join(root, 'work');
    mkdirSync(dev, { recursive: true });
    for (const d of disks) {
      const block = join(sys, 'block', d.name);
      mkdirSync(join(block, 'queue'), { recursive: true });
      writeFileSync(join(block, 'size'), `${DISK_BYTES / 512}\n`);
      writeFileSync(join(block, 'removable'), d.removable ? '1\n' : '0\n');
      writeFileSync(join(block, 'queue', 'discard_max_bytes'), `${d.discard ?? 0}\n`);
      for (const p of d.partitions ?? []) {
        mkdirSync(join(block, p), { recursive: true });
        writeFileSync(join(block, p, 'partition'), '1\n');
      }
      if (!withDevice.includes(d.name)) continue;
      const file = join(dev, d.name);
      writeFileSync(file, Buffer.alloc(DISK_BYTES, 0xee));
      execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', file], { input: 'label: gpt\n,4MiB\n,\n' });
    }
    return { sys, dev, work };
  }

  function run(m: { sys: string; dev: string; work: string }, env: Record<string, string> = {}): { code: number; stderr: string; result: unknown } {
    const r = spawnSync('busybox', ['sh', '-c', '. "$WIPE_SCRIPT"; wipe_disks'], {
      env: { PATH: `${bin}:/usr/bin:/bin`, WIPE_SCRIPT: SCRIPT, WIPE_SYS: m.sys, WIPE_DEV: m.dev, WIPE_DIR: m.work, WIPEFS: wipefs, ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { code: r.status ?? -1, stderr: r.stderr, result: JSON.parse(readFileSync(join(m.work, 'result.json'), 'utf8')) as unknown };
  }

  const gptAt = (b: Buffer, offset: number): string => b.subarray(offset, offset + 8).toString('latin1');
  const zero = (b: Buffer): boolean => b.every((x) => x === 0);

  test('GPT headers at both ends read back as zeros, partitions lose their signatures, discard where the disk can; a missing disk is a failure with its reason', () => {
    const m = machine(
      'mixed',
      [
        { name: 'vdb', partitions: ['vdb1'] },
        { name: 'vdc', discard: 4096 },
        { name: 'vdd' },
        { name: 'sdz', removable: true },
        { name: 'loop0' },
        { name: 'sr0' },
      ],
      ['vdb', 'vdc', 'sdz', 'loop0', 'sr0'],
    );
    // vdb1 as its own device file, holding a swap signature wipefs knows.
    const part = join(m.dev, 'vdb1');
    writeFileSync(part, Buffer.alloc(MiB, 0xee));
    execFileSync('busybox', ['mkswap', part], { stdio: 'ignore' });
    assert.equal(readFileSync(part).subarray(4086, 4096).toString('latin1'), 'SWAPSPACE2');
    const discarded = join(m.work, '..', 'discarded');
    const fakeDiscard = join(m.work, '..', 'blkdiscard');
    writeFileSync(fakeDiscard, `#!/bin/sh\necho "$@" >> '${discarded}'\n`);
    chmodSync(fakeDiscard, 0o755);
    for (const name of ['vdb', 'vdc']) {
      const before = readFileSync(join(m.dev, name));
      assert.equal(gptAt(before, 512), 'EFI PART', `${name}: primary GPT header before`);
      assert.equal(gptAt(before, DISK_BYTES - 512), 'EFI PART', `${name}: backup GPT header before`);
    }

    const r = run(m, { WIPE_DISCARD: fakeDiscard });
    assert.equal(r.code, 1, `vdd has no device: not every disk was cleared\n${r.stderr}`);
    const parsed = parseWipeReport(r.result);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.problem);
    assert.deepEqual(
      parsed.report.disks.map((d) => [d.name, d.sizeBytes, d.cleared, d.ok]),
      [
        ['vdb', DISK_BYTES, 'wipefs', true],
        ['vdc', DISK_BYTES, 'wipefs+discard', true],
        ['vdd', DISK_BYTES, 'none', false],
      ],
      'removable, loop and optical devices are left alone',
    );
    assert.match(parsed.report.disks[2]!.reason, /\/dev\/vdd does not exist$/);
    assert.equal(wipeOutcome(parsed.report).ok, false);

    for (const name of ['vdb', 'vdc']) {
      const after = readFileSync(join(m.dev, name));
      assert.ok(zero(after.subarray(0, 34 * 512)), `${name}: protective MBR, primary GPT header and entries are zeros`);
      assert.ok(zero(after.subarray(DISK_BYTES - 33 * 512)), `${name}: backup GPT entries and header are zeros`);
      assert.ok(zero(after.subarray(0, MiB)) && zero(after.subarray(DISK_BYTES - MiB)), `${name}: first and last MiB zeroed`);
      assert.equal(after[8 * MiB], 0xee, `${name}: the middle is left (discard clears it where the disk can)`);
    }
    assert.ok(!readFileSync(part).subarray(4086, 4096).toString('latin1').includes('SWAPSPACE2'), 'the partition was wiped by wipefs');
    assert.equal(readFileSync(discarded, 'utf8'), `${join(m.dev, 'vdc')}\n`, 'discard only where discard_max_bytes > 0');
    for (const left of ['sdz', 'loop0', 'sr0']) assert.equal(gptAt(readFileSync(join(m.dev, left)), 512), 'EFI PART', `${left} untouched`);
  });

  test('without wipefs the ends are zeroed all the same and said so; a discard that fails is a note, not a failure', () => {
    const m = machine('no-wipefs', [{ name: 'nvme0n1', discard: 512 }], ['nvme0n1']);
    const r = run(m, { WIPEFS: join(dir, 'no-such-wipefs'), WIPE_DISCARD: join(bin, 'false') });
    assert.equal(r.code, 0, r.stderr);
    const parsed = parseWipeReport(r.result);
    assert.ok(parsed.ok);
    const [d] = parsed.report.disks;
    assert.deepEqual([d!.cleared, d!.ok], ['zeroed', true]);
    assert.match(d!.reason, /no wipefs in this agent/);
    const after = readFileSync(join(m.dev, 'nvme0n1'));
    assert.ok(zero(after.subarray(0, MiB)) && zero(after.subarray(DISK_BYTES - MiB)));

    const n = machine('discard-fails', [{ name: 'sda', discard: 512 }], ['sda']);
    const failing = run(n, { WIPE_DISCARD: join(bin, 'false') });
    assert.equal(failing.code, 0, failing.stderr);
    const p = parseWipeReport(failing.result);
    assert.ok(p.ok);
    assert.deepEqual([p.report.disks[0]!.cleared, p.report.disks[0]!.ok], ['wipefs', true]);
    assert.match(p.report.disks[0]!.reason, /^blkdiscard .*sda: .*\(its signatures were erased all the same\)$/);
    assert.ok(existsSync(join(n.work, 'result.json')));
  });
});
