// `pxe-pilot assets add <disk.raw[.gz|.xz|.zst]> --kind disk-image`: a raw disk image for the agent
// to write onto a machine's disk (docs/deploy.md). It is kept compressed as it came; the manifest
// records the SHA-256 of that file and the size it decompresses to, measured once here, so the
// agent can check the disk is large enough before writing and verify every byte it received.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { copyFile, open, rename, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { badInput } from './errors.ts';
import { abortStaging, beginStaging, commitStaging, requireFreeSpace, type Staging } from './layout.ts';
import { hashFile, writeImageManifest, type DiskImageFacts, type ImageManifest } from './manifest.ts';
import { formatBytes, Progress } from './progress.ts';
import { checkName } from './recognise/plan.ts';
import { requireTools } from './tools.ts';

export type DiskCompression = DiskImageFacts['compression'];

/** What the first bytes of a file say it is: a disk image pxe-pilot can deploy, or a format it refuses. */
export type DiskImageFormat = { ok: true; compression: DiskCompression } | { ok: false; format: string };

const SECTOR = 512;

/** Pure: the compression of a disk image, or the name of a format that is not a raw image. */
export function diskImageFormat(head: Uint8Array): DiskImageFormat {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  const starts = (bytes: number[]): boolean => b.length >= bytes.length && bytes.every((v, i) => b[i] === v);
  if (starts([0x1f, 0x8b])) return { ok: true, compression: 'gzip' };
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return { ok: true, compression: 'xz' };
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return { ok: true, compression: 'zstd' };
  if (starts([0x51, 0x46, 0x49, 0xfb])) return { ok: false, format: 'qcow2' };
  if (starts([0x4b, 0x44, 0x4d, 0x56])) return { ok: false, format: 'vmdk' };
  if (b.length >= 8 && b.subarray(0, 8).toString('latin1') === 'vhdxfile') return { ok: false, format: 'vhdx' };
  if (b.length >= 64 && b.readUInt32LE(64) === 0xbeda107f) return { ok: false, format: 'vdi' };
  if (starts([0x42, 0x5a, 0x68])) return { ok: false, format: 'bzip2' };
  return { ok: true, compression: 'none' };
}

/** Pure: whether the first sector of the decompressed image carries a partition table (MBR or GPT's protective MBR). */
export function hasPartitionTable(firstSector: Uint8Array): boolean {
  return firstSector.length >= SECTOR && firstSector[510] === 0x55 && firstSector[511] === 0xaa;
}

/** The folder file name for each compression: what the agent fetches (/assets/<profile>/<file>). */
export function diskFileName(compression: DiskCompression): string {
  return { none: 'disk.raw', gzip: 'disk.raw.gz', xz: 'disk.raw.xz', zstd: 'disk.raw.zst' }[compression];
}

/** The command that makes a raw image of a format pxe-pilot does not deploy. */
function convertCommand(file: string, format: string): string {
  const raw = basename(file).replace(/\.[^.]+$/, '') + '.raw';
  if (format === 'bzip2') return `bzip2 -dc ${file} | zstd -T0 -o ${raw}.zst`;
  return `qemu-img convert -f ${format} -O raw ${file} ${raw} && zstd -T0 --rm ${raw}`;
}

/** Streams the decompressed image; gzip in process, xz and zstd through Debian's tools. */
function decompressed(path: string, compression: DiskCompression): { stream: Readable; done: Promise<void> } {
  if (compression === 'none' || compression === 'gzip') {
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    const stream = compression === 'none' ? file : file.pipe(createGunzip({ chunkSize: 1024 * 1024 }));
    if (stream !== file) file.on('error', (err) => stream.destroy(err));
    return { stream, done: Promise.resolve() };
  }
  const tool = compression === 'xz' ? 'xz' : 'zstd';
  const child = spawn(tool, ['-dc', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(badInput(`${basename(path)} does not decompress with ${tool}: ${stderr.trim() || `exit ${code}`}`)),
    );
  });
  return { stream: child.stdout, done };
}

/** The decompressed size and first sector, read once through the whole image. */
export async function measureDiskImage(path: string, compression: DiskCompression, progress: Progress): Promise<{ sizeBytes: number; firstSector: Buffer }> {
  if (compression === 'none') {
    const fh = await open(path, 'r');
    try {
      const firstSector = Buffer.alloc(SECTOR);
      await fh.read(firstSector, 0, SECTOR, 0);
      return { sizeBytes: (await fh.stat()).size, firstSector };
    } finally {
      await fh.close();
    }
  }
  const { stream, done } = decompressed(path, compression);
  progress.begin(`measuring ${basename(path)} (decompressing)`);
  let sizeBytes = 0;
  const head: Buffer[] = [];
  let headBytes = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (headBytes < SECTOR) {
        head.push(chunk.subarray(0, SECTOR - headBytes));
        headBytes += Math.min(chunk.length, SECTOR - headBytes);
      }
      sizeBytes += chunk.length;
      progress.update(sizeBytes);
    }
    await done;
  } catch (err) {
    // zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR: "unexpected end of file") all mean a bad or cut file.
    if (String((err as { code?: string }).code ?? '').startsWith('Z_'))
      throw badInput(`${basename(path)} is not a complete gzip file (${(err as Error).message}): download it again`);
    throw err;
  } finally {
    progress.end();
  }
  return { sizeBytes, firstSector: Buffer.concat(head) };
}

export interface AddDiskImageRequest {
  source: string;
  assetsDir: string;
  product?: string;
  version?: string;
  force: boolean;
  builtBy: string;
  /** The source is a download of ours: moved into the image folder, not copied. */
  owned?: boolean;
  progress?: Progress;
}

/** Adds a disk image folder <product>/<version>/ with disk.raw[.gz|.xz|.zst], SHA256SUMS and image.json. */
export async function addDiskImage(req: AddDiskImageRequest): Promise<{ folder: string; manifest: ImageManifest }> {
  const progress = req.progress ?? new Progress();
  const st = await stat(req.source).catch(() => null);
  if (!st?.isFile()) throw badInput(`${req.source} is not a file: give a raw disk image (disk.raw, .raw.gz, .raw.xz or .raw.zst) or its http(s):// URL`);
  const head = Buffer.alloc(SECTOR);
  const fh = await open(req.source, 'r');
  try {
    await fh.read(head, 0, SECTOR, 0);
  } finally {
    await fh.close();
  }
  const format = diskImageFormat(head);
  if (!format.ok)
    throw badInput(
      `${basename(req.source)} is a ${format.format} image, not a raw one: make a raw image first, e.g. ${convertCommand(req.source, format.format)}`,
    );
  if (format.compression === 'xz') requireTools(['xz']);
  if (format.compression === 'zstd') requireTools(['zstd']);
  if (!req.product || !req.version) throw badInput('a disk image needs --product NAME and --version V (its folder <product>/<version>)');
  const product = checkName('product', req.product);
  const version = checkName('version', req.version);

  let staging: Staging | null = null;
  try {
    // Two cores: hash the compressed file while it is decompressed and measured.
    const hashing = hashFile(req.source);
    hashing.catch(() => {});
    const measured = await measureDiskImage(req.source, format.compression, progress);
    progress.begin(`checksumming ${basename(req.source)}`, st.size);
    const sha256 = await hashing;
    progress.end();
    if (!hasPartitionTable(measured.firstSector))
      throw badInput(
        `${basename(req.source)} has no partition table in its first sector (no MBR or GPT signature): it is not a whole-disk raw image; a root filesystem alone cannot be deployed`,
      );
    if (measured.sizeBytes % SECTOR !== 0)
      throw badInput(`${basename(req.source)} decompresses to ${measured.sizeBytes} bytes, not a whole number of 512-byte sectors: is it truncated?`);

    staging = await beginStaging(req.assetsDir, product, version, req.force);
    await requireFreeSpace(staging.productDir, st.size);
    const file = diskFileName(format.compression);
    const target = join(staging.dir, file);
    // A copy, not a link: the user's file may change or be unreadable to the daemon's account.
    await progress.watchFile(`copying ${basename(req.source)} into the image folder`, target, st.size, () =>
      req.owned ? rename(req.source, target) : copyFile(req.source, target, fsConstants.COPYFILE_FICLONE),
    );
    const placed = await stat(target);
    const disk: DiskImageFacts = { file, compression: format.compression, sizeBytes: measured.sizeBytes, sha256 };
    const manifest: ImageManifest = {
      schema: 1,
      profile: `${product}/${version}`,
      product,
      displayName: product,
      version,
      kind: 'disk-image',
      source: { name: basename(req.source), sha256, size: st.size },
      answerUrl: null,
      builtAt: new Date().toISOString(),
      builtBy: req.builtBy,
      files: [{ path: file, size: placed.size, mtimeMs: placed.mtimeMs, sha256 }],
      disk,
    };
    await writeImageManifest(staging.dir, manifest);
    await commitStaging(staging, req.force);
    progress.info(`${formatBytes(st.size)} compressed, ${formatBytes(measured.sizeBytes)} once written`);
    return { folder: staging.target, manifest };
  } catch (err) {
    if (staging) await abortStaging(staging);
    throw err;
  }
}
