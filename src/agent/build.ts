// `pxe-pilot agent build`: the inspection agent's image, made from Debian's packages as any user,
// no root: the signed generic kernel, and an initramfs of busybox, the programs of
// src/agent/programs.ts (dmidecode, tcpdump, ipmitool) with exactly the libraries they load, the
// drivers of src/agent/modules.ts, any firmware apt has for them, and the agent (agent/init). The folder is <assets dir>/pxe-pilot-agent/<kernel release>/, written
// like `assets add` writes: staged, manifested, renamed into place.
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetError, badInput } from '../assets/errors.ts';
import { abortStaging, beginStaging, commitStaging, fileSize, filesUnder, pendingPaths, requireFreeSpace, type Staging } from '../assets/layout.ts';
import { hashFile, writeImageManifest, type ImageManifest, type ManifestFile } from '../assets/manifest.ts';
import { formatBytes, Progress } from '../assets/progress.ts';
import { findOnPath, runTool } from '../assets/tools.ts';
import { aptShow, fetchDebs, firstDependency, requirePackage, type AptPackage } from './debs.ts';
import { moduleName, parseModulesDep, selectModules, WANTED_MODULES } from './modules.ts';
import { CARRIED_PROGRAMS, carryPrograms } from './programs.ts';

export const AGENT_PRODUCT = 'pxe-pilot-agent';
export const AGENT_ARCHES = ['amd64', 'arm64'] as const;
export type AgentArch = (typeof AGENT_ARCHES)[number];

/** Size aims (issue 24): the initramfs, and kernel + initramfs together. */
export const INITRD_LIMIT = 25_000_000;
export const IMAGE_LIMIT = 40_000_000;

/** The agent's /init, beside src/ and dist/ alike (both are one level under the project). */
export const AGENT_INIT = fileURLToPath(new URL('../../agent/init', import.meta.url));
/** The agent's disk image writer (busybox sh), /lib/pxe-pilot-agent/deploy in the image. */
export const AGENT_DEPLOY = fileURLToPath(new URL('../../agent/deploy', import.meta.url));
export const AGENT_WIPE = fileURLToPath(new URL('../../agent/wipe', import.meta.url));
/** The agent's LLDP decoder (busybox awk), /lib/pxe-pilot/lldp.awk in the image. */
export const AGENT_LLDP_AWK = fileURLToPath(new URL('../../agent/lldp.awk', import.meta.url));

/** Firmware packages (non-free-firmware) taken when apt knows them; most appliances do not reach that component. */
const FIRMWARE_PACKAGES = ['firmware-bnx2x', 'firmware-qlogic', 'firmware-misc-nonfree', 'firmware-netronome'];

/** The dynamic loader's path in the image (the programs' PT_INTERP), and where libc6 has it. */
const INTERPRETER: Record<AgentArch, string> = {
  amd64: 'lib64/ld-linux-x86-64.so.2',
  arm64: 'lib/ld-linux-aarch64.so.1',
};
const INTERPRETER_SOURCE: Record<AgentArch, string> = {
  amd64: 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
  arm64: 'lib/aarch64-linux-gnu/ld-linux-aarch64.so.1',
};

const TOOLS: Record<string, string> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  cpio: 'cpio',
  depmod: 'kmod',
  modinfo: 'kmod',
  zstd: 'zstd',
  find: 'findutils',
};

export interface AgentBuildRequest {
  assetsDir: string;
  arch: AgentArch;
  force: boolean;
  builtBy: string;
  /** Where .debs are kept between builds (default ~/.cache/pxe-pilot/debs). */
  cacheDir?: string;
  progress?: Progress;
}

/** What the image carries, written into it as agent.json and /etc/pxe-pilot-agent/contents.json. */
export interface AgentContents {
  schema: 1;
  arch: AgentArch;
  kernelRelease: string;
  compression: 'zstd';
  packages: { name: string; version: string; sha256: string }[];
  /** The programs the agent runs besides busybox, and the shared libraries they load (file names in lib/<triplet>/). */
  programs: { path: string; package: string; purpose: string }[];
  libraries: string[];
  /** Module names carried (wanted ones and their dependencies). */
  modules: string[];
  /** Wanted drivers built into the kernel (nothing to carry). */
  builtin: string[];
  /** Firmware files the carried modules may ask for: carried, or missing (their package is unavailable). */
  firmware: { module: string; file: string; present: boolean }[];
  sizes: { kernel: number; initrd: number; uncompressed: number };
}

export interface AgentBuildResult {
  folder: string;
  profile: string;
  manifest: ImageManifest;
  contents: AgentContents;
}

function requireBuildTools(): void {
  const missing = Object.keys(TOOLS).filter((c) => !findOnPath(c));
  if (missing.length > 0)
    throw new AssetError(`${missing.join(', ')} not installed (not found on PATH): apt-get install ${[...new Set(missing.map((c) => TOOLS[c]))].join(' ')}`, 2);
}

/** `cd dir && bash -o pipefail -c script` with the paths quoted. */
function sh(script: string): Promise<unknown> {
  return runTool('bash', ['-o', 'pipefail', '-c', script]);
}
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

async function defaultCacheDir(scratch: string): Promise<string> {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const dir = join(base, 'pxe-pilot', 'debs');
  try {
    await mkdir(dir, { recursive: true });
    return dir;
  } catch {
    // No writable home (a system account): a cache for this build only.
    return join(scratch, 'debs');
  }
}

/** The packages to fetch first: the signed kernel the meta-package points at, busybox, the programs' packages, libc, and any firmware apt has. */
async function resolvePackages(arch: AgentArch): Promise<{ kernel: AptPackage; tools: AptPackage[]; firmware: AptPackage[] }> {
  const meta = await requirePackage(`linux-image-${arch}`, arch);
  const kernelName = firstDependency(meta.depends);
  if (!kernelName) throw badInput(`linux-image-${arch} ${meta.version} names no kernel package in Depends (${meta.depends || 'empty'})`);
  const kernel = await requirePackage(kernelName, arch);
  const tools: AptPackage[] = [];
  for (const name of ['busybox-static', 'libc6', ...CARRIED_PROGRAMS.map((p) => p.pkg)]) tools.push(await requirePackage(name, arch));
  const firmware: AptPackage[] = [];
  for (const name of FIRMWARE_PACKAGES) {
    const p = await aptShow(name, arch);
    if (p) firmware.push(p);
  }
  return { kernel, tools, firmware };
}

export async function buildAgent(req: AgentBuildRequest): Promise<AgentBuildResult> {
  const progress = req.progress ?? new Progress();
  requireBuildTools();
  for (const file of [AGENT_INIT, AGENT_LLDP_AWK]) if (!existsSync(file)) throw new AssetError(`the agent's ${file} is missing: reinstall pxe-pilot`, 1);
  // Refused before a minute of downloading and unpacking, not after.
  if (!existsSync(req.assetsDir))
    throw badInput(`the assets folder ${req.assetsDir} does not exist: create it (owned by the user pxe-pilot runs as), or give --assets DIR`);
  const scratch = await mkdtemp(join(tmpdir(), 'pxe-pilot-agent-'));
  // Removed by the interrupt handler too: an unpacked kernel is about 400 MB.
  pendingPaths.add(scratch);
  let staging: Staging | null = null;
  try {
    progress.begin('asking apt for the packages');
    const { kernel, tools, firmware } = await resolvePackages(req.arch);
    progress.end();
    const all = [kernel, ...tools, ...firmware];
    const release = kernel.name.replace(/^linux-image-/, '');
    if (!req.force && existsSync(join(req.assetsDir, AGENT_PRODUCT, release)))
      throw badInput(`${join(req.assetsDir, AGENT_PRODUCT, release)} already exists: give --force to build it again and replace it`);
    const cacheDir = req.cacheDir ?? (await defaultCacheDir(scratch));
    const debs = await fetchDebs(all, cacheDir, progress);
    const deb = (p: AptPackage): string => debs.get(p.name)!;

    // Everything is unpacked in scratch; only the chosen files go into root/.
    const unpack = async (p: AptPackage): Promise<string> => {
      const dir = join(scratch, 'pkg', p.name);
      await mkdir(dir, { recursive: true });
      await runTool('dpkg-deb', ['-x', deb(p), dir]);
      return dir;
    };
    const kernelDir = join(scratch, 'pkg', kernel.name);
    progress.begin(`unpacking ${kernel.name} ${kernel.version}`);
    await unpack(kernel);
    progress.end();
    const vmlinuz = join(kernelDir, 'boot', `vmlinuz-${release}`);
    if (!existsSync(vmlinuz)) throw badInput(`${kernel.name} ${kernel.version} has no boot/vmlinuz-${release}: not a kernel package pxe-pilot knows`);
    const modulesDir = join(kernelDir, 'lib', 'modules', release);

    progress.begin('resolving module dependencies (depmod)');
    await runTool('depmod', ['-b', kernelDir, release]);
    const deps = parseModulesDep(await readFile(join(modulesDir, 'modules.dep'), 'utf8'));
    const builtinList = (await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
    const selection = selectModules(WANTED_MODULES, deps, builtinList);
    progress.end();
    if (selection.unknown.length > 0)
      throw badInput(`${kernel.name} ${kernel.version} has no driver ${selection.unknown.join(', ')}: the agent would miss hardware; report this`);

    const root = join(scratch, 'root');
    const modRoot = join(root, 'lib', 'modules', release);
    for (const rel of selection.paths) {
      await mkdir(dirname(join(modRoot, rel)), { recursive: true });
      await copyFile(join(modulesDir, rel), join(modRoot, rel));
    }
    for (const f of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
      if (existsSync(join(modulesDir, f))) await copyFile(join(modulesDir, f), join(modRoot, f));
    }
    await runTool('depmod', ['-b', root, release]);

    // Firmware each carried module may request; carried when a firmware package apt has holds it.
    const firmwareDirs: string[] = [];
    for (const p of firmware) firmwareDirs.push(await unpack(p));
    const firmwareList: AgentContents['firmware'] = [];
    for (const rel of selection.paths) {
      const { stdout } = await runTool('modinfo', ['-F', 'firmware', join(modRoot, rel)]);
      for (const file of stdout.split('\n').filter(Boolean)) {
        const source = firmwareDirs.map((d) => join(d, 'lib', 'firmware', file)).find((f) => existsSync(f));
        if (source) {
          await mkdir(dirname(join(root, 'lib', 'firmware', file)), { recursive: true });
          await copyFile(source, join(root, 'lib', 'firmware', file));
        }
        firmwareList.push({ module: moduleName(rel), file, present: source !== undefined });
      }
    }

    // busybox, and the programs with exactly the libraries they load (their DT_NEEDED closure).
    const unpacked = new Map<string, { pkg: AptPackage; dir: string }>();
    for (const p of tools) unpacked.set(p.name, { pkg: p, dir: await unpack(p) });
    await mkdir(join(root, 'bin'), { recursive: true });
    await copyFile(join(unpacked.get('busybox-static')!.dir, 'bin', 'busybox'), join(root, 'bin', 'busybox'));
    await symlink('busybox', join(root, 'bin', 'sh'));
    const { libraries } = await carryPrograms(CARRIED_PROGRAMS, {
      arch: req.arch,
      root,
      unpacked,
      unpack: async (names) => {
        progress.begin(`fetching the libraries' packages ${names.join(', ')}`);
        const more: AptPackage[] = [];
        for (const name of names) more.push(await requirePackage(name, req.arch));
        const files = await fetchDebs(more, cacheDir, progress);
        for (const p of more) debs.set(p.name, files.get(p.name)!);
        all.push(...more);
        const out = [];
        for (const p of more) out.push({ pkg: p, dir: await unpack(p) });
        progress.end();
        return out;
      },
    });
    const interpreter = INTERPRETER[req.arch];
    await mkdir(dirname(join(root, interpreter)), { recursive: true });
    await copyFile(join(unpacked.get('libc6')!.dir, INTERPRETER_SOURCE[req.arch]), join(root, interpreter));
    await copyFile(AGENT_INIT, join(root, 'init'));
    await chmod(join(root, 'init'), 0o755);
    await mkdir(join(root, 'lib', 'pxe-pilot'), { recursive: true });
    await copyFile(AGENT_LLDP_AWK, join(root, 'lib', 'pxe-pilot', 'lldp.awk'));
    // The disk image writer, where it sources itself again for each connection (agent/deploy DEPLOY_SCRIPT).
    await mkdir(join(root, 'lib', 'pxe-pilot-agent'), { recursive: true });
    await copyFile(AGENT_DEPLOY, join(root, 'lib', 'pxe-pilot-agent', 'deploy'));
    // The release wipe (agent/wipe), sourced by /init in wipe mode.
    await copyFile(AGENT_WIPE, join(root, 'lib', 'pxe-pilot-agent', 'wipe'));
    // tcpdump and ipmitool look accounts up by name (-Z root); glibc reads these files without NSS modules.
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n');
    await writeFile(join(root, 'etc', 'group'), 'root:x:0:\n');
    // ipmitool warns on every run without IANA's enterprise numbers (ipmitool's package has the
    // 5 MB list); it names vendors with them, which `lan print` does not need: the list's header
    // and first entry only.
    await mkdir(join(root, 'usr', 'share', 'misc'), { recursive: true });
    await writeFile(
      join(root, 'usr', 'share', 'misc', 'enterprise-numbers.txt'),
      '0\n  Reserved\n    Internet Assigned Numbers Authority\n      iana&iana.org\n',
    );

    const contents: AgentContents = {
      schema: 1,
      arch: req.arch,
      kernelRelease: release,
      compression: 'zstd',
      packages: all.map((p) => ({ name: p.name, version: p.version, sha256: p.sha256 })),
      programs: CARRIED_PROGRAMS.map((p) => ({ path: p.path, package: p.pkg, purpose: p.purpose })),
      libraries,
      modules: selection.paths.map(moduleName).sort(),
      builtin: selection.builtin,
      firmware: firmwareList,
      sizes: { kernel: 0, initrd: 0, uncompressed: 0 },
    };
    await mkdir(join(root, 'etc', 'pxe-pilot-agent'), { recursive: true });
    await writeFile(join(root, 'etc', 'pxe-pilot-agent', 'version'), `${req.builtBy} ${release}\n`);
    await writeFile(join(root, 'etc', 'pxe-pilot-agent', 'contents.json'), JSON.stringify({ ...contents, sizes: undefined }, null, 2) + '\n');

    staging = await beginStaging(req.assetsDir, AGENT_PRODUCT, release, req.force);
    await requireFreeSpace(staging.productDir, IMAGE_LIMIT * 2);
    await copyFile(vmlinuz, join(staging.dir, 'vmlinuz'));
    const initrd = join(staging.dir, 'initrd');
    const uncompressed = Number((await runTool('du', ['-sb', root])).stdout.split(/\s/)[0]);
    // zstd: a third smaller than gzip for kernel modules (the kernel unpacks it, CONFIG_RD_ZSTD);
    // level 15 is within 5% of 19 at a fraction of the time on a small machine.
    await progress.watchFile('packing the initramfs (cpio, zstd)', initrd, 0, () =>
      // One mtime for every file, sorted names, --reproducible inode numbers: the same packages
      // and agent give the same initrd, byte for byte.
      sh(
        `cd ${q(root)} && find . -exec touch -h -d @0 {} + && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --reproducible --quiet | zstd -q -15 -T2 > ${q(initrd)}`,
      ),
    );
    contents.sizes = { kernel: await fileSize(join(staging.dir, 'vmlinuz')), initrd: await fileSize(initrd), uncompressed };
    await writeFile(join(staging.dir, 'agent.json'), JSON.stringify(contents, null, 2) + '\n');
    if (contents.sizes.initrd > INITRD_LIMIT || contents.sizes.kernel + contents.sizes.initrd > IMAGE_LIMIT)
      progress.info(
        `warning: the image is over its size aims (initramfs ${formatBytes(contents.sizes.initrd)}, whole ${formatBytes(contents.sizes.kernel + contents.sizes.initrd)})`,
      );

    const manifest = await writeManifest(staging.dir, release, all, req.builtBy, progress);
    await commitStaging(staging, req.force);
    return { folder: staging.target, profile: manifest.profile, manifest, contents };
  } catch (err) {
    if (staging) await abortStaging(staging);
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw badInput(`the disk is full (building in ${tmpdir()} and ${req.assetsDir}); nothing was added`);
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    pendingPaths.delete(scratch);
  }
}

/** SHA256SUMS and image.json, as `assets add` writes them; the source is the set of packages. */
async function writeManifest(dir: string, release: string, packages: AptPackage[], builtBy: string, progress: Progress): Promise<ImageManifest> {
  const files: ManifestFile[] = [];
  for (const rel of await filesUnder(dir)) {
    const path = join(dir, rel);
    await chmod(path, 0o644);
    progress.begin(`checksumming ${rel}`);
    const sha256 = await hashFile(path);
    progress.end();
    const st = await stat(path);
    files.push({ path: rel, size: st.size, mtimeMs: st.mtimeMs, sha256 });
  }
  // The image comes from several .debs: its source digest is that of their names and digests.
  const listing = packages.map((p) => `${p.sha256}  ${p.filename}\n`).join('');
  const manifest: ImageManifest = {
    schema: 1,
    profile: `${AGENT_PRODUCT}/${release}`,
    product: AGENT_PRODUCT,
    displayName: 'pxe-pilot inspection agent',
    version: release,
    kind: 'generic',
    source: {
      name: `Debian packages: ${packages.map((p) => `${p.name} ${p.version}`).join(', ')}`,
      sha256: createHash('sha256').update(listing).digest('hex'),
      size: packages.reduce((n, p) => n + p.size, 0),
    },
    answerUrl: null,
    builtAt: new Date().toISOString(),
    builtBy,
    files,
  };
  await writeImageManifest(dir, manifest);
  return manifest;
}
