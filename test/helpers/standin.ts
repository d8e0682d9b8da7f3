// Builds the installer stand-in the QEMU machines boot: Debian's cloud kernel taken from its
// .deb (apt-get download, no install) and a small initrd made of busybox-static, the kernel's
// virtio-net modules and test/e2e/standin/init.sh. Everything lands in a cache directory and is
// rebuilt only when the kernel version or the scripts change. The architecture is a parameter:
// amd64 (the host's own) by default, arm64 for the AAVMF machine (see standin-arch.ts).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { debianPackageTools, type StandinArch } from './standin-arch.ts';

export type { StandinArch };

const run = promisify(execFile);

export const repoRoot = resolve(import.meta.dirname, '..', '..');
/** Under the repository's gitignored tmp/, so a second run needs no download. */
export const defaultCacheDir = join(repoRoot, 'tmp', 'e2e-cache');
const scriptDir = join(repoRoot, 'test', 'e2e', 'standin');

/**
 * Load order the cloud kernel needs for virtio-net (each depends on the ones before it). The
 * same for amd64 and arm64: both cloud kernels build these as modules at the same paths (and the
 * PCI host bridge of QEMU's arm64 `virt` machine, PCI_HOST_GENERIC, is built in).
 */
export const virtioNetModules = [
  'virtio_ring',
  'virtio',
  'virtio_pci_modern_dev',
  'virtio_pci_legacy_dev',
  'virtio_pci',
  'failover',
  'net_failover',
  'virtio_net',
] as const;

/**
 * What the real installer's init needs to open /proxmox.iso: a loop device and ISO 9660
 * (isofs depends on cdrom). Load order as listed.
 */
export const isoModules = ['loop', 'cdrom', 'isofs'] as const;

const allModules = [...virtioNetModules, ...isoModules] as const;

/** Where each module lives under lib/modules/<version>/kernel/. */
const moduleDirs: Record<(typeof allModules)[number], string> = {
  loop: 'drivers/block',
  cdrom: 'drivers/cdrom',
  isofs: 'fs/isofs',
  virtio_ring: 'drivers/virtio',
  virtio: 'drivers/virtio',
  virtio_pci_modern_dev: 'drivers/virtio',
  virtio_pci_legacy_dev: 'drivers/virtio',
  virtio_pci: 'drivers/virtio',
  failover: 'net/core',
  net_failover: 'drivers/net',
  virtio_net: 'drivers/net',
};

/** The tools building the stand-in needs (for skipUnless). */
export const standinTools = ['apt-get', 'apt-cache', 'dpkg-deb', 'tar', 'cpio', 'gzip', '/bin/busybox', 'openssl', 'ldd'];

/**
 * The stand-in pins HTTPS by certificate fingerprint with Debian's openssl (s_client), which is
 * dynamically linked: the binary and every library ldd names go into the initrd at the same paths.
 */
export const opensslBinary = '/usr/bin/openssl';

/** openssl and the shared objects it loads (absolute paths, the loader included). */
async function opensslFiles(): Promise<string[]> {
  const out = await sh('ldd "$1"', [opensslBinary]);
  const libs = out
    .split('\n')
    .map((l) => /(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
  return [opensslBinary, ...libs];
}

export interface Standin {
  kernel: string;
  initrd: string;
  kernelVersion: string;
  /** Which CPU the kernel and busybox are for (amd64 when built by the default call). */
  arch?: StandinArch;
}

/** The serial console each architecture's QEMU machine has: the kernel's `console=`. */
export const standinConsole: Record<StandinArch, string> = { amd64: 'ttyS0', arm64: 'ttyAMA0' };

/** Lines the stand-in prints on the serial console, for tests to look for. */
export const standinSays = {
  init: 'standin: init started',
  answerBegin: 'standin: answer begin',
  answerEnd: 'standin: answer end',
  webhookDelivered: 'standin: webhook delivered',
  poweringOff: 'standin: powering off',
  rebooting: 'standin: rebooting',
} as const;

/** The TOML between the stand-in's answer markers in a serial log, or null. */
export function answerFromSerial(serial: string): string | null {
  const text = serial.replace(/\r/g, '');
  const begin = text.indexOf(standinSays.answerBegin);
  if (begin < 0) return null;
  const start = text.indexOf('\n', begin) + 1;
  const end = text.indexOf(standinSays.answerEnd, start);
  if (end < 0) return null;
  return text.slice(start, end).trim();
}

async function sh(script: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await run('sh', ['-c', script, 'sh', ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' });
  return r.stdout;
}

/** The versioned kernel package the linux-image-cloud-<arch> metapackage points at now. */
async function cloudKernelPackage(arch: StandinArch, aptOptions: string[]): Promise<string> {
  const meta = `linux-image-cloud-${arch}`;
  const resolveName = async (): Promise<string | null> => {
    const out = await sh('apt-cache "$@" 2>/dev/null || true', [...aptOptions, 'depends', meta]);
    // The signed image (not -unsigned): the Secure Boot tests boot it through shim and GRUB.
    const m = new RegExp(`Depends:\\s*(linux-image-[0-9][^\\s]*-cloud-${arch})(?![-\\w])`).exec(out);
    return m?.[1] ?? null;
  };
  const found = (await resolveName()) ?? (await sh('apt-get -qq "$@" >/dev/null 2>&1 || true', [...aptOptions, 'update']), await resolveName());
  if (!found) throw new Error(`apt-cache does not know ${meta}: is a Debian main source configured?`);
  return found;
}

/** Statically linked (no PT_INTERP program header), so it runs alone in the initrd. */
function isStaticElf(path: string): boolean {
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i += 1) {
    if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false;
  }
  return true;
}

/** Kernel image and modules extracted from the .deb into cacheDir/kernel-<version>/. */
async function extractKernel(cacheDir: string, arch: StandinArch): Promise<{ dir: string; version: string }> {
  // A kernel extracted before is used as is: runs after the first need no network.
  // A kernel extracted by an older version of this helper may lack modules added since: extract again.
  const hasAll = (d: string): boolean =>
    existsSync(join(cacheDir, d, 'complete')) && allModules.every((m) => existsSync(join(cacheDir, d, 'modules', `${m}.ko`)));
  // Versions end in the architecture (6.1.0-57-cloud-amd64), so one cache holds both.
  const existing = (await readdir(cacheDir)).filter((d) => d.startsWith('kernel-') && d.endsWith(`-${arch}`) && hasAll(d)).sort();
  const last = existing.at(-1);
  if (last) return { dir: join(cacheDir, last), version: last.slice('kernel-'.length) };

  const apt = await debianPackageTools(arch, cacheDir);
  const pkg = await cloudKernelPackage(arch, apt.options);
  const downloadDir = await mkdtemp(join(cacheDir, 'download-'));
  try {
    await apt.download(pkg, downloadDir);
    const deb = (await readdir(downloadDir)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
    const unpack = join(downloadDir, 'unpack');
    await mkdir(unpack);
    const members = ['./boot/vmlinuz-*', ...allModules.map((m) => `./lib/modules/*/kernel/${moduleDirs[m]}/${m}.ko*`)];
    await sh('deb=$1; into=$2; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$into" --wildcards "$@"', [join(downloadDir, deb), unpack, ...members]);
    const vmlinuz = (await readdir(join(unpack, 'boot'))).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${deb} holds no /boot/vmlinuz-*`);
    const version = vmlinuz.slice('vmlinuz-'.length);
    // Assembled beside the cache and renamed into place: a concurrent run never sees half a kernel.
    const dir = join(cacheDir, `kernel-${version}`);
    const staging = join(downloadDir, 'kernel');
    await mkdir(join(staging, 'modules'), { recursive: true });
    await copyFile(join(unpack, 'boot', vmlinuz), join(staging, 'vmlinuz'));
    for (const m of allModules) {
      await copyFile(join(unpack, 'lib', 'modules', version, 'kernel', moduleDirs[m], `${m}.ko`), join(staging, 'modules', `${m}.ko`));
    }
    await writeFile(join(staging, 'complete'), `${deb}\n`);
    if (!hasAll(`kernel-${version}`)) {
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir).catch((err: unknown) => {
        if (!hasAll(`kernel-${version}`)) throw err;
      });
    }
    return { dir, version };
  } finally {
    await rm(downloadDir, { recursive: true, force: true });
  }
}

/**
 * Returns the stand-in's kernel and initrd, building what the cache lacks. Needs network
 * access to the Debian mirror the first time only.
 */
export async function buildStandin(cacheDir = defaultCacheDir, arch: StandinArch = 'amd64'): Promise<Standin> {
  await mkdir(cacheDir, { recursive: true });
  const kernel = await extractKernel(cacheDir, arch);
  const busybox = await (await debianPackageTools(arch, cacheDir)).busybox();
  if (!existsSync(busybox) || !isStaticElf(busybox)) throw new Error(`${busybox} is missing or not static: install busybox-static`);

  const init = await readFile(join(scriptDir, 'init.sh'));
  const dhcpEvent = await readFile(join(scriptDir, 'dhcp-event.sh'));
  const pinnedPost = await readFile(join(scriptDir, 'pinned-post.sh'));
  const busyboxSize = (await stat(busybox)).size;
  const tlsFiles = await opensslFiles();
  const tlsSizes = await Promise.all(tlsFiles.map(async (f) => `${f}:${(await stat(f)).size}`));
  const digest = createHash('sha256')
    .update(kernel.version)
    .update(allModules.join(','))
    .update(init)
    .update(dhcpEvent)
    .update(pinnedPost)
    .update(tlsSizes.join(','))
    .update(String(busyboxSize))
    .digest('hex')
    .slice(0, 12);
  const initrd = join(cacheDir, `standin-${digest}.initrd`);
  if (!existsSync(initrd)) {
    const root = await mkdtemp(join(cacheDir, 'initrd-'));
    try {
      await mkdir(join(root, 'bin'));
      await mkdir(join(root, 'standin'));
      await mkdir(join(root, 'lib', 'modules'), { recursive: true });
      await copyFile(busybox, join(root, 'bin', 'busybox'));
      await chmod(join(root, 'bin', 'busybox'), 0o755);
      await writeFile(join(root, 'init'), init, { mode: 0o755 });
      await writeFile(join(root, 'standin', 'dhcp-event.sh'), dhcpEvent, { mode: 0o755 });
      await writeFile(join(root, 'standin', 'pinned-post.sh'), pinnedPost, { mode: 0o755 });
      for (const file of tlsFiles) {
        // Real files at the paths ldd printed (copyFile follows symlinks such as /lib64's loader).
        await mkdir(join(root, dirname(file)), { recursive: true });
        await copyFile(file, join(root, file));
        await chmod(join(root, file), 0o755);
      }
      for (const m of allModules) await copyFile(join(kernel.dir, 'modules', `${m}.ko`), join(root, 'lib', 'modules', `${m}.ko`));
      const partial = `${initrd}.${process.pid}.partial`;
      await sh('cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "$2"', [root, partial]);
      await rename(partial, initrd);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  return { kernel: join(kernel.dir, 'vmlinuz'), initrd, kernelVersion: kernel.version, arch };
}
