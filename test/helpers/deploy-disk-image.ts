// The disk image the deploy tests write onto a machine, made without root and without loop
// mounts: a GPT raw disk whose ESP holds a standalone GRUB as \EFI\BOOT\BOOTX64.EFI, a kernel and
// an initrd, and whose ext4 root (mke2fs -d) is what the agent seeds. Booted from the disk, the
// initrd's /init mounts that root and prints DEPLOYED_MARKER with the host name it finds in the
// cloud-init seed, then powers off. The kernel is the agent image's (Debian's generic kernel); the
// initrd is the agent's with a second archive appended whose /init replaces the agent's.
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentImage } from './agent-image.ts';

export const deployDiskImageTools = ['grub-mkstandalone', 'sfdisk', 'mkfs.vfat', 'mcopy', 'mmd', 'mke2fs', 'cpio', 'zstd'];

/** What the deployed system prints, booted from its disk, before the host name from its seed. */
export const DEPLOYED_MARKER = 'deployed-os: booted from its own disk; hostname from its cloud-init seed:';

const MiB = 1 << 20;
const SECTOR = 512;
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

export interface DeployDiskImage {
  /** The raw image, and the same compressed with zstd (what `assets add` is given). */
  raw: string;
  zst: string;
  sizeBytes: number;
  /** Where the ext4 root partition lies in the image. */
  root: { start: number; bytes: number };
}

const grubCfg = `set timeout=0
search --no-floppy --file --set=esp /pxe-pilot-deploy-test
echo "deployed-os: GRUB from the disk, kernel from ($esp)"
linux ($esp)/vmlinuz console=ttyS0 quiet no_timer_check panic=-1
initrd ($esp)/initrd
boot
`;

// The deployed system: load the disk and ext4 drivers, mount the root, read local-hostname from the
// seed the agent wrote (meta-data is JSON), say it, power off.
const deployedInit = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /sbin /usr/bin /usr/sbin /mnt/root
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
for pass in 1 2; do
  cat /sys/bus/*/devices/*/modalias 2>/dev/null | sort -u | while read -r a; do modprobe -q "$a" 2>/dev/null; done
done
modprobe crc32c_generic 2>/dev/null
modprobe ext4
root=
for i in $(seq 1 60); do
  for p in /sys/class/block/*; do
    [ "$(cat "$p/partition" 2>/dev/null)" = 2 ] && root=/dev/\${p##*/} && break
  done
  [ -n "$root" ] && [ -b "$root" ] && break
  sleep 0.5
done
if mount -t ext4 -o ro "$root" /mnt/root; then
  name=$(sed -n 's/.*"local-hostname": *"\\([^"]*\\)".*/\\1/p' /mnt/root/var/lib/cloud/seed/nocloud/meta-data 2>/dev/null)
  echo "${DEPLOYED_MARKER} \${name:-none}"
  echo "deployed-os: root $root holds $(cat /mnt/root/etc/os-release)"
else
  echo "deployed-os: cannot mount the root partition ($root)"
fi
sync
poweroff -f
`;

function sh(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): string {
  return execFileSync(cmd, args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Builds the image in `work` (emptied first). A few seconds; no root, no loop device. */
export function buildDeployDiskImage(agent: AgentImage, work: string): DeployDiskImage {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  // The initrd: the agent's (its busybox and modules), unpacked, with this /init appended as a second
  // archive. Unpacked because the kernel finds no archive after the agent's zstd one.
  const initDir = join(work, 'init-archive');
  mkdirSync(initDir);
  writeFileSync(join(initDir, 'init'), deployedInit);
  chmodSync(join(initDir, 'init'), 0o755);
  const appended = execFileSync('cpio', ['-o', '-H', 'newc', '-R', '0:0', '--quiet'], { cwd: initDir, input: 'init\n' });
  const initrd = join(work, 'initrd');
  writeFileSync(initrd, Buffer.concat([execFileSync('zstd', ['-dc', join(agent.folder, 'initrd')], { maxBuffer: 1 << 30 }), appended]));

  const cfg = join(work, 'grub.cfg');
  writeFileSync(cfg, grubCfg);
  const efi = join(work, 'BOOTX64.EFI');
  sh('grub-mkstandalone', [
    '-O',
    'x86_64-efi',
    '--modules=part_gpt part_msdos fat search search_fs_file linux echo normal',
    '--install-modules=part_gpt part_msdos fat search search_fs_file linux echo normal configfile test',
    '--locales=',
    '--themes=',
    '--fonts=',
    '-o',
    efi,
    `boot/grub/grub.cfg=${cfg}`,
  ]);

  // The ESP: FAT, sized for what it holds with room to spare.
  const espPayload = [efi, join(agent.folder, 'vmlinuz'), initrd].reduce((n, f) => n + readFileSync(f).length, 0);
  const espBytes = Math.ceil((espPayload * 1.1 + 4 * MiB) / MiB) * MiB;
  const esp = join(work, 'esp.img');
  sh('mkfs.vfat', ['-C', '-n', 'ESP', esp, String(espBytes / 1024)]);
  const mtools = (cmd: string, args: string[]): string =>
    execFileSync(cmd, ['-i', esp, ...args], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  mtools('mmd', ['::/EFI', '::/EFI/BOOT']);
  mtools('mcopy', [efi, '::/EFI/BOOT/BOOTX64.EFI']);
  mtools('mcopy', [join(agent.folder, 'vmlinuz'), '::/vmlinuz']);
  mtools('mcopy', [initrd, '::/initrd']);
  writeFileSync(join(work, 'pxe-pilot-deploy-test'), 'the ESP of the deploy test image\n');
  mtools('mcopy', [join(work, 'pxe-pilot-deploy-test'), '::/pxe-pilot-deploy-test']);

  // The root: ext4 from a folder, with the folder cloud-init's NoCloud seed goes into.
  const rootDir = join(work, 'rootfs');
  mkdirSync(join(rootDir, 'etc'), { recursive: true });
  mkdirSync(join(rootDir, 'var', 'lib', 'cloud'), { recursive: true });
  writeFileSync(join(rootDir, 'etc', 'os-release'), 'NAME="pxe-pilot deploy test"\n');
  const rootBytes = 16 * MiB;
  const rootImg = join(work, 'root.ext4');
  sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'root', '-d', rootDir, rootImg, `${rootBytes / 1024}k`]);

  // The disk: 1 MiB for the GPT, the two partitions, 1 MiB for the backup GPT.
  const espStart = MiB;
  const rootStart = espStart + espBytes;
  const sizeBytes = rootStart + rootBytes + MiB;
  const raw = join(work, 'disk.raw');
  sh('truncate', ['-s', String(sizeBytes), raw]);
  sh('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', raw], {
    input: [
      'label: gpt',
      `start=${espStart / SECTOR}, size=${espBytes / SECTOR}, type=${ESP_TYPE}, name="EFI system"`,
      `start=${rootStart / SECTOR}, size=${rootBytes / SECTOR}, type=${LINUX_TYPE}, name="root"`,
      '',
    ].join('\n'),
  });
  const fd = openSync(raw, 'r+');
  try {
    writeSync(fd, readFileSync(esp), 0, espBytes, espStart);
    writeSync(fd, readFileSync(rootImg), 0, rootBytes, rootStart);
  } finally {
    closeSync(fd);
  }
  const zst = `${raw}.zst`;
  sh('zstd', ['-q', '-f', '-T0', raw, '-o', zst]);
  return { raw, zst, sizeBytes, root: { start: rootStart, bytes: rootBytes } };
}
