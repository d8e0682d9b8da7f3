// The dynamically linked programs the agent image carries (dmidecode, tcpdump for LLDP, ipmitool
// for the BMC, zstd and openssl for deploys, wipefs), each with exactly the shared libraries it loads: the closure of their DT_NEEDED
// names, looked up in the unpacked packages. A library not found in what is unpacked is looked up
// in the library packages those packages depend on, one layer at a time, so only the packages
// that hold a needed library are fetched. Pre-Depends count as Depends: util-linux names its
// libraries (libblkid1, libsmartcols1) there.
import { lstat, mkdir, readFile, readlink, copyFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { badInput } from '../assets/errors.ts';
import type { AptPackage } from './debs.ts';
import { elfNeeded } from './elf.ts';

/** A program the agent runs: the package holding it, and its path in that package and in the image. */
export interface CarriedProgram {
  pkg: string;
  path: string;
  /** Why the agent has it (agent.json). */
  purpose: string;
  /** Where else the package may hold it (before /usr was merged: sbin/…); copied to `path` in the image. */
  alsoAt?: readonly string[];
}

export const CARRIED_PROGRAMS: readonly CarriedProgram[] = [
  { pkg: 'dmidecode', path: 'usr/sbin/dmidecode', purpose: 'DIMMs (SMBIOS type 17)' },
  { pkg: 'tcpdump', path: 'usr/bin/tcpdump', purpose: 'LLDP frames (ethertype 0x88cc) captured on each NIC that is up' },
  { pkg: 'ipmitool', path: 'usr/bin/ipmitool', purpose: "the BMC's address through /dev/ipmi0 (lan print)" },
  // busybox has gzip and xz, not zstd: Debian's, with the libraries it loads.
  { pkg: 'zstd', path: 'usr/bin/zstd', purpose: 'decompresses .zst disk images as the deploy writes them' },
  // busybox's sha256sum has no SHA extensions: openssl's libcrypto (already carried for ipmitool) does, about 7x as fast.
  { pkg: 'openssl', path: 'usr/bin/openssl', purpose: 'hashes a disk image (SHA-256) as the deploy writes it' },
  // busybox has blkdiscard, not wipefs: util-linux's (Debian 12 keeps it in /sbin, later releases in /usr/sbin).
  { pkg: 'util-linux', path: 'usr/sbin/wipefs', alsoAt: ['sbin/wipefs'], purpose: 'erases every signature of each disk before a release (wipe mode)' },
];

/** Whether a package name is a shared library's package: lib…, and zlib's (zlib1g, which zstd loads). */
export function isLibraryPackage(name: string): boolean {
  return name.startsWith('lib') || name === 'zlib1g';
}

/** Debian's multiarch triplet: where libraries are, and where the image keeps them. */
export const TRIPLET: Record<string, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** The names of the packages a Depends field needs: the first alternative of each, version and :arch dropped. */
export function dependencyNames(depends: string): string[] {
  const names: string[] = [];
  for (const clause of depends.split(',')) {
    const m = /^\s*([a-z0-9][a-z0-9+.-]*)/.exec(clause.split('|')[0] ?? '');
    if (m) names.push(m[1]!);
  }
  return names;
}

/**
 * The file a path inside an unpacked package is, following symbolic links inside that package
 * (an absolute target is read in the package, never on this machine); null when absent.
 */
export async function resolveInPackage(pkgDir: string, rel: string): Promise<string | null> {
  let current = normalize(rel).replace(/^\/+/, '');
  for (let hops = 0; hops < 16; hops++) {
    const full = join(pkgDir, current);
    const st = await lstat(full).catch(() => null);
    if (!st) return null;
    if (!st.isSymbolicLink()) return st.isFile() ? full : null;
    const target = await readlink(full);
    current = normalize(target.startsWith('/') ? target : join(dirname(current), target)).replace(/^\/+/, '');
    if (current.startsWith('..')) return null;
  }
  return null;
}

export interface ProgramsRequest {
  arch: string;
  /** The image's root folder. */
  root: string;
  /** Packages unpacked so far: name → folder (the programs' packages and libc6 at least). */
  unpacked: Map<string, { pkg: AptPackage; dir: string }>;
  /** Fetches and unpacks more packages by name; a package apt does not know is an error naming it. */
  unpack: (names: string[]) => Promise<{ pkg: AptPackage; dir: string }[]>;
}

export interface ProgramsResult {
  /** Library file names carried, in lib/<triplet>/ of the image, sorted. */
  libraries: string[];
}

/** Copies the programs into the image and every library they need into lib/<triplet>/. */
export async function carryPrograms(programs: readonly CarriedProgram[], req: ProgramsRequest): Promise<ProgramsResult> {
  const triplet = TRIPLET[req.arch];
  if (!triplet) throw badInput(`no library folder known for ${req.arch}`);
  const libDir = join(req.root, 'lib', triplet);
  await mkdir(libDir, { recursive: true });
  const carried = new Set<string>();
  const searchDirs = [`lib/${triplet}`, `usr/lib/${triplet}`, 'lib', 'usr/lib'];
  const findLibrary = async (soname: string): Promise<string | null> => {
    for (const { dir } of req.unpacked.values())
      for (const d of searchDirs) {
        const file = await resolveInPackage(dir, join(d, soname));
        if (file) return file;
      }
    return null;
  };
  // Each entry: a file in the image whose needed libraries are still to be carried, and who asked.
  const pending: { file: string; by: string }[] = [];
  for (const p of programs) {
    const entry = req.unpacked.get(p.pkg);
    if (!entry) throw badInput(`${p.pkg} is not unpacked`);
    let source = await resolveInPackage(entry.dir, p.path);
    for (const other of p.alsoAt ?? []) source ??= await resolveInPackage(entry.dir, other);
    if (!source) throw badInput(`${p.pkg} ${entry.pkg.version} has no ${p.path}`);
    const target = join(req.root, p.path);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(source, target);
    pending.push({ file: target, by: p.path });
  }
  while (pending.length > 0) {
    const { file, by } = pending.shift()!;
    const r = elfNeeded(await readFile(file));
    if (!r.ok) throw badInput(`${by}: ${r.reason}`);
    for (const soname of r.needed) {
      if (carried.has(soname)) continue;
      let source = await findLibrary(soname);
      // Not in what is unpacked: the library packages the unpacked ones depend on, layer by layer.
      while (!source) {
        const next = new Set<string>();
        for (const { pkg } of req.unpacked.values())
          for (const name of dependencyNames([pkg.depends, pkg.preDepends ?? ''].join(',')))
            if (isLibraryPackage(name) && !req.unpacked.has(name)) next.add(name);
        if (next.size === 0) throw badInput(`${by} needs ${soname}, which no package it depends on holds`);
        for (const u of await req.unpack([...next].sort())) req.unpacked.set(u.pkg.name, u);
        source = await findLibrary(soname);
      }
      carried.add(soname);
      const target = join(libDir, soname);
      if (!existsSync(target)) await copyFile(source, target);
      pending.push({ file: target, by: `${by} → ${soname}` });
    }
  }
  return { libraries: [...carried].sort() };
}
