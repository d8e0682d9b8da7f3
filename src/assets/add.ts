// `pxe-pilot assets add`: turns an installer ISO or netboot tarball into <assets dir>/<product>/<version>/
// with vmlinuz, initrd, extras, a manifest, and nothing half-written on any failure.
import { chmod, copyFile, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { productDisplayName } from '../boot/products.ts';
import { badInput } from './errors.ts';
import { extractFromIso, listIsoFiles, readIsoText, sourceShape, writeChangedIso } from './iso.ts';
import { parseCdInfo, parseDiskInfo, parseNetbootVersion, proxmoxIdentity, SAFE_NAME } from './iso-info.ts';
import { abortStaging, beginStaging, commitStaging, fileSize, filesUnder, requireFreeSpace, type Staging } from './layout.ts';
import { formatImageManifest, formatSha256Sums, hashFile, type ImageManifest, type ManifestFile } from './manifest.ts';
import { Progress } from './progress.ts';
import { extractTarMember, findMember, listTar } from './tarball.ts';
import { requireTools, runPipe } from './tools.ts';
import { proxmoxModeToml } from './proxmox-mode.ts';
import { findNetbootFolder, NETBOOT_PRESEED_CMDLINE, netbootFolderDigest, notANetbootFolder } from './netboot-folder.ts';

export interface AddRequest {
  /** Local file (downloads are fetched before). */
  source: string;
  assetsDir: string;
  product?: string;
  version?: string;
  /** Written into a Proxmox ISO; null = none known (then --answer-url is required). */
  answerUrl: string | null;
  certFingerprint?: string;
  answerToken?: string;
  force: boolean;
  kernel?: string;
  initrds: string[];
  builtBy: string;
  progress?: Progress;
}

export interface AddResult {
  folder: string;
  manifest: ImageManifest;
}

type Kind = ImageManifest['kind'];

interface Plan {
  kind: Kind;
  product: string;
  displayName: string;
  version: string;
  /** Writes the files into the staging folder. */
  build: (dir: string) => Promise<void>;
  /** Bytes the image will take, roughly (for the free-space check). */
  estimate: number;
  answerUrl: string | null;
  /** The source's digest when it is not one file's SHA-256 (a folder). */
  sourceDigest?: () => Promise<{ sha256: string; size: number }>;
}

function checkName(what: 'product' | 'version', value: string): string {
  if (!SAFE_NAME.test(value) || value.length > 100)
    throw badInput(
      `--${what} ${JSON.stringify(value)} is not a folder name: use letters, digits, '.', '_', '+' and '-', starting with a letter or digit (e.g. --${what} ${what === 'product' ? 'proxmox-ve' : '9.1-1'})`,
    );
  return value;
}

const EXTRA_NAME = /\.(iso|img|cpio|cpio\.gz|cpio\.zst)$/;

/** Names the generic extras so the catalogue loads them after `initrd`, in the order given. */
function extraName(path: string, index: number): string {
  const base = basename(path);
  return `${String(index).padStart(2, '0')}-${EXTRA_NAME.test(base) && SAFE_NAME.test(base) ? base : `${base.replace(/[^A-Za-z0-9._+-]/g, '_')}.img`}`;
}

async function isZstd(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b.readUInt32LE(0) === 0xfd2fb528;
  } finally {
    await fh.close();
  }
}

async function planIso(req: AddRequest, scratch: string, progress: Progress): Promise<Plan> {
  const name = basename(req.source);
  // Generic images name their files; list deep enough to see them (a full listing of a big ISO is long).
  const depth = req.kernel ? Math.max(2, ...[req.kernel, ...req.initrds].map((p) => p.split('/').filter(Boolean).length)) : 2;
  const files = await listIsoFiles(req.source, depth);
  const size = (await stat(req.source)).size;
  const has = (p: string): boolean => files.has(p);

  if (req.kernel) return planGeneric(req, 'iso', files);

  if (has('/.cd-info') && has('/boot/linux26') && has('/boot/initrd.img')) {
    const identity = proxmoxIdentity(parseCdInfo(await readIsoText(req.source, '/.cd-info', scratch)));
    if (typeof identity === 'string') throw badInput(`${name}: ${identity}`);
    if (!has('/auto-installer-capable'))
      throw badInput(
        `${name} has no /auto-installer-capable: its installer cannot run unattended (Proxmox added this with VE 8.2, BS 3.3 and MG 8.2); use a newer ISO`,
      );
    if (!req.answerUrl) throw badInput('no answer URL is known: set [server] address in the profile, or give --answer-url http://<this server>:<port>/answer');
    const answerUrl = req.answerUrl;
    const toml = proxmoxModeToml({ url: answerUrl, certFingerprint: req.certFingerprint, token: req.answerToken });
    const initrdSize = files.get('/boot/initrd.img') ?? 0;
    return {
      kind: 'proxmox',
      product: req.product ? checkName('product', req.product) : identity.product,
      displayName: identity.displayName,
      version: req.version ? checkName('version', req.version) : checkName('version', identity.version),
      answerUrl,
      estimate: size + (files.get('/boot/linux26') ?? 0) + initrdSize * 4,
      build: async (dir) => {
        const packed = join(dir, 'initrd.zst');
        await progress.watchFile('extracting the kernel and initrd', packed, initrdSize, () =>
          extractFromIso(req.source, [
            ['/boot/linux26', join(dir, 'vmlinuz')],
            ['/boot/initrd.img', packed],
          ]),
        );
        if (await isZstd(packed)) {
          await progress.watchFile('recompressing the initrd (zstd → gzip, for iPXE)', join(dir, 'initrd'), 0, () =>
            runPipe(['zstd', ['-dcq', packed]], ['gzip', ['-c']], join(dir, 'initrd')),
          );
          await rm(packed);
        } else {
          await rename(packed, join(dir, 'initrd'));
        }
        await padToFour(join(dir, 'initrd'));
        const modeFile = join(scratch, 'auto-installer-mode.toml');
        await writeFile(modeFile, toml);
        await progress.watchFile(`writing proxmox.iso (answer URL ${answerUrl}, without /boot)`, join(dir, 'proxmox.iso'), size, () =>
          writeChangedIso(req.source, join(dir, 'proxmox.iso'), [[modeFile, '/auto-installer-mode.toml']], ['/boot']),
        );
      },
    };
  }

  const diskInfo = has('/.disk/info') ? parseDiskInfo(await readIsoText(req.source, '/.disk/info', scratch)) : null;
  if (diskInfo?.distro.toLowerCase().startsWith('ubuntu') && has('/casper/vmlinuz') && has('/casper/initrd')) {
    const product = req.product ? checkName('product', req.product) : checkName('product', diskInfo.distro.toLowerCase());
    const version = req.version ? checkName('version', req.version) : checkName('version', diskInfo.version);
    const isoName = SAFE_NAME.test(name) && name.endsWith('.iso') ? name : `${product}-${version}.iso`;
    // The ISO goes in iso/ (not beside vmlinuz, where the catalogue would load it as an initrd);
    // the kernel's url= fetches it from there.
    const cmdline = `root=/dev/ram0 ramdisk_size=1500000 ip=dhcp url=\${server}/assets/${product}/${version}/iso/${isoName} cloud-config-url=/dev/null autoinstall ds=nocloud-net;s=\${server}/nocloud/\${mac}/`;
    return {
      kind: 'ubuntu-live',
      product,
      displayName: diskInfo.distro.replace(/-/g, ' '),
      version,
      answerUrl: null,
      estimate: size * 1.05 + (files.get('/casper/initrd') ?? 0) + (files.get('/casper/vmlinuz') ?? 0),
      build: async (dir) => {
        await progress.watchFile('extracting the kernel and initrd', join(dir, 'initrd'), files.get('/casper/initrd') ?? 0, () =>
          extractFromIso(req.source, [
            ['/casper/vmlinuz', join(dir, 'vmlinuz')],
            ['/casper/initrd', join(dir, 'initrd')],
          ]),
        );
        await writeFile(join(dir, 'cmdline'), cmdline + '\n');
        await mkdir(join(dir, 'iso'));
        await progress.watchFile('copying the ISO for the kernel to fetch', join(dir, 'iso', isoName), size, () =>
          copyFile(req.source, join(dir, 'iso', isoName)),
        );
      },
    };
  }
  if (diskInfo?.distro.toLowerCase().startsWith('debian') || has('/install.amd/initrd.gz') || [...files.keys()].some((f) => f.startsWith('/install.amd/'))) {
    throw badInput(
      `${name} is a Debian installer ISO: its install.amd/initrd.gz expects the CD and cannot install over the network. Use the netboot tarball instead: https://deb.debian.org/debian/dists/<suite>/main/installer-amd64/current/images/netboot/netboot.tar.gz (or the package debian-installer-12-netboot-amd64)`,
    );
  }
  if (has('/.cd-info')) throw badInput(`${name} has /.cd-info but no /boot/linux26 and /boot/initrd.img: not a Proxmox installer ISO pxe-pilot knows`);
  throw badInput(
    `${name}: not a Proxmox VE/BS/MG or Ubuntu live-server ISO. For another installer give the files inside it: --kernel PATH --initrd PATH [--initrd PATH…] --product NAME --version V`,
  );
}

async function planTar(req: AddRequest, scratch: string, progress: Progress): Promise<Plan> {
  const members = await listTar(req.source);
  if (req.kernel) return planGeneric(req, 'tar', new Map(members.map((m) => ['/' + m.replace(/^\.?\//, ''), 0])));
  for (const distro of ['debian', 'ubuntu'] as const) {
    const linux = findMember(members, `${distro}-installer/amd64/linux`);
    const initrd = findMember(members, `${distro}-installer/amd64/initrd.gz`);
    if (!linux || !initrd) continue;
    const info = findMember(members, 'version.info');
    let found: string | null = null;
    if (info) {
      await extractTarMember(req.source, info, join(scratch, 'version.info'));
      found = parseNetbootVersion(await readFile(join(scratch, 'version.info'), 'utf8'));
    }
    const version = req.version ? checkName('version', req.version) : found ? checkName('version', found) : null;
    if (!version) throw badInput(`${basename(req.source)} has no version.info saying its release: give --version (e.g. --version 12)`);
    const product = req.product ? checkName('product', req.product) : distro;
    return {
      kind: 'netboot',
      product,
      displayName: distro === 'debian' ? 'Debian' : 'Ubuntu',
      version,
      answerUrl: null,
      estimate: (await stat(req.source)).size * 2,
      build: async (dir) => {
        progress.begin('extracting linux and initrd.gz');
        await extractTarMember(req.source, linux, join(dir, 'vmlinuz'));
        await extractTarMember(req.source, initrd, join(dir, 'initrd'));
        progress.end();
        await writeFile(join(dir, 'cmdline'), NETBOOT_PRESEED_CMDLINE + '\n');
      },
    };
  }
  throw badInput(
    `${basename(req.source)} holds no debian-installer/amd64/linux or ubuntu-installer/amd64/linux: not a netboot tarball. For another layout give --kernel PATH --initrd PATH --product NAME --version V`,
  );
}

/** A netboot tree on disk, e.g. the folder of Debian's debian-installer-12-netboot-amd64 package. */
async function planFolder(req: AddRequest, progress: Progress): Promise<Plan> {
  if (req.kernel)
    throw badInput(
      '--kernel and --initrd take paths inside an ISO or tarball; for files in a folder, copy them into <[assets] dir>/<product>/<version>/ by hand',
    );
  const found = await findNetbootFolder(req.source);
  if (!found) throw notANetbootFolder(req.source);
  const version = req.version ? checkName('version', req.version) : found.version ? checkName('version', found.version) : null;
  if (!version) throw badInput(`${req.source} has no version.info saying its release: give --version (e.g. --version 12)`);
  return {
    kind: 'netboot',
    product: req.product ? checkName('product', req.product) : found.distro,
    displayName: found.distro === 'debian' ? 'Debian' : 'Ubuntu',
    version,
    answerUrl: null,
    estimate: (await stat(found.linux)).size + (await stat(found.initrd)).size,
    sourceDigest: () => netbootFolderDigest(found, (name) => progress.begin(`checksumming ${name} of ${req.source}`)),
    build: async (dir) => {
      await copyFile(found.linux, join(dir, 'vmlinuz'));
      await progress.watchFile('copying linux and initrd.gz', join(dir, 'initrd'), (await stat(found.initrd)).size, () =>
        copyFile(found.initrd, join(dir, 'initrd')),
      );
      await writeFile(join(dir, 'cmdline'), NETBOOT_PRESEED_CMDLINE + '\n');
    },
  };
}

function planGeneric(req: AddRequest, shape: 'iso' | 'tar', files: Map<string, number>): Plan {
  if (!req.product || !req.version) throw badInput('--kernel and --initrd need --product NAME and --version V (the folder <product>/<version>)');
  if (req.initrds.length === 0) throw badInput('--kernel needs at least one --initrd PATH (inside the ISO or tarball)');
  const product = checkName('product', req.product);
  const version = checkName('version', req.version);
  const abs = (p: string): string => '/' + p.replace(/^\.?\/+/, '');
  for (const p of [req.kernel!, ...req.initrds]) {
    if (shape === 'iso' && !files.has(abs(p)))
      throw badInput(`${abs(p)} is not in ${basename(req.source)} ; check the path with: xorriso -indev ${basename(req.source)} -find / -type f`);
    if (shape === 'tar' && !files.has(abs(p))) throw badInput(`${p} is not in ${basename(req.source)}; check the path with: tar -tf ${basename(req.source)}`);
  }
  const outputs: [string, string][] = [
    [req.kernel!, 'vmlinuz'],
    [req.initrds[0]!, 'initrd'],
    ...req.initrds.slice(1).map((p, i): [string, string] => [p, extraName(p, i + 1)]),
  ];
  return {
    kind: 'generic',
    product,
    displayName: productDisplayName(product),
    version,
    answerUrl: null,
    estimate: [...outputs].reduce((n, [p]) => n + (files.get(abs(p)) ?? 0), 0),
    build: async (dir) => {
      if (shape === 'iso') {
        await extractFromIso(
          req.source,
          outputs.map(([p, out]) => [abs(p), join(dir, out)]),
        );
      } else {
        const members = await listTar(req.source);
        for (const [p, out] of outputs) await extractTarMember(req.source, findMember(members, abs(p).slice(1))!, join(dir, out));
      }
    },
  };
}

/** Hashes every file in the staging folder and writes SHA256SUMS and image.json. */
async function writeManifest(
  dir: string,
  plan: Plan,
  source: { name: string; sha256: string; size: number },
  builtBy: string,
  progress: Progress,
): Promise<ImageManifest> {
  const files: ManifestFile[] = [];
  for (const rel of await filesUnder(dir)) {
    const path = join(dir, rel);
    // Extracted files keep the ISO's read-only modes; the owner must be able to replace them.
    await chmod(path, 0o644);
    const size = await fileSize(path);
    progress.begin(`checksumming ${rel}`, size);
    const sha256 = await hashFile(path, (n) => progress.update(n));
    progress.end();
    const st = await stat(path);
    files.push({ path: rel, size: st.size, mtimeMs: st.mtimeMs, sha256 });
  }
  const manifest: ImageManifest = {
    schema: 1,
    profile: `${plan.product}/${plan.version}`,
    product: plan.product,
    displayName: plan.displayName,
    version: plan.version,
    kind: plan.kind,
    source,
    answerUrl: plan.answerUrl,
    builtAt: new Date().toISOString(),
    builtBy,
    files,
  };
  await writeFile(join(dir, 'SHA256SUMS'), formatSha256Sums(files));
  await writeFile(join(dir, 'image.json'), formatImageManifest(manifest));
  return manifest;
}

export async function addImage(req: AddRequest): Promise<AddResult> {
  const progress = req.progress ?? new Progress();
  const st = await stat(req.source).catch(() => null);
  if (!st?.isFile() && !st?.isDirectory())
    throw badInput(`${req.source} does not exist: give the path of an installer ISO, a netboot tarball or a netboot folder`);
  const shape = st.isDirectory() ? 'folder' : await sourceShape(req.source);
  if (shape !== 'folder') requireTools(shape === 'iso' ? ['xorriso', 'zstd', 'gzip'] : ['tar', 'gzip']);
  const scratch = await mkdtemp(join(tmpdir(), 'pxe-pilot-assets-'));
  let staging: Staging | null = null;
  try {
    const plan =
      shape === 'folder' ? await planFolder(req, progress) : shape === 'iso' ? await planIso(req, scratch, progress) : await planTar(req, scratch, progress);
    staging = await beginStaging(req.assetsDir, plan.product, plan.version, req.force);
    await requireFreeSpace(staging.productDir, plan.estimate);
    // The source's checksum is read alongside the work (two cores: xorriso and the hash overlap).
    const sourceHash = plan.sourceDigest ? null : hashFile(req.source);
    sourceHash?.catch(() => {});
    await plan.build(staging.dir);
    let source: AddResult['manifest']['source'];
    if (plan.sourceDigest) {
      // A folder has no single checksum: its path, and a digest of the files taken from it.
      source = { name: req.source, ...(await plan.sourceDigest()) };
    } else {
      progress.begin(`checksumming ${basename(req.source)}`);
      source = { name: basename(req.source), sha256: await sourceHash!, size: (await stat(req.source)).size };
    }
    progress.end();
    const manifest = await writeManifest(staging.dir, plan, source, req.builtBy, progress);
    await commitStaging(staging, req.force);
    return { folder: staging.target, manifest };
  } catch (err) {
    if (staging) await abortStaging(staging);
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC')
      throw badInput(`the disk holding ${req.assetsDir} is full: free some space or point [assets] dir elsewhere; nothing was added`);
    throw err;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Zero bytes up to a multiple of 4. The kernel looks for the next initramfs archive (proxmox.iso,
 * cpio-wrapped) only at 4-byte offsets and skips zeros to get there; UEFI's EFI stub puts the
 * images end to end, so an initrd of another length hides the ISO ("invalid magic").
 */
async function padToFour(file: string): Promise<void> {
  const size = (await stat(file)).size;
  const pad = (4 - (size % 4)) % 4;
  if (pad === 0) return;
  const handle = await open(file, 'a');
  try {
    await handle.write(Buffer.alloc(pad));
  } finally {
    await handle.close();
  }
}
