// The manifest every image folder gets: SHA256SUMS (coreutils format, so `sha256sum -c` works by
// hand) and image.json (what it is, where it came from, and each file's size and mtime for the
// cheap check at start-up). The formatters and parsers are pure; hashing streams.
import { createHash } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IMAGE_KINDS, type ImageKind } from '../boot/products.ts';

export interface ManifestFile {
  /** Relative to the image folder, '/'-separated. */
  path: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface ImageManifest {
  schema: 1;
  profile: string;
  product: string;
  displayName: string;
  version: string;
  /** How `assets add` made it: the product table's kind (src/boot/products.ts). */
  kind: ImageKind;
  source: { name: string; sha256: string; size: number };
  /** The answer URL written into the Proxmox ISO, or null. */
  answerUrl: string | null;
  builtAt: string;
  builtBy: string;
  files: ManifestFile[];
  /** A disk image (kind disk-image) only: the file the agent writes and what it decompresses to. */
  disk?: DiskImageFacts;
}

/** What a deploy needs of a disk image, measured once by `assets add`. */
export interface DiskImageFacts {
  /** The file in the image folder: disk.raw, disk.raw.gz, disk.raw.xz or disk.raw.zst. */
  file: string;
  compression: 'none' | 'gzip' | 'xz' | 'zstd';
  /** Bytes once decompressed: what the target disk must hold at least. */
  sizeBytes: number;
  /** SHA-256 of the file as kept (compressed): what the agent checks of what it received. */
  sha256: string;
}

const COMPRESSIONS: readonly string[] = ['none', 'gzip', 'xz', 'zstd'];

/** The disk facts of image.json, or a reason they are not valid. */
function parseDiskFacts(v: unknown): DiskImageFacts | string {
  const d = v as Record<string, unknown>;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'disk must be an object';
  if (typeof d.file !== 'string' || !isManifestPath(d.file)) return 'disk.file must be a file name in the folder';
  if (typeof d.compression !== 'string' || !COMPRESSIONS.includes(d.compression)) return `disk.compression must be one of ${COMPRESSIONS.join(', ')}`;
  if (!Number.isSafeInteger(d.sizeBytes) || (d.sizeBytes as number) <= 0) return 'disk.sizeBytes must be a positive whole number';
  if (typeof d.sha256 !== 'string' || !HEX64.test(d.sha256)) return 'disk.sha256 must be 64 lower-case hex digits';
  return { file: d.file, compression: d.compression as DiskImageFacts['compression'], sizeBytes: d.sizeBytes as number, sha256: d.sha256 };
}

const HEX64 = /^[0-9a-f]{64}$/;

/** A path coreutils can print without escaping, and that stays inside the folder. */
export function isManifestPath(path: string): boolean {
  return path.length > 0 && !/[\\\n\r]/.test(path) && !path.startsWith('/') && path.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
}

export function formatSha256Sums(files: { path: string; sha256: string }[]): string {
  return files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
}

/** Lines `<hex>  <name>` or `<hex> *<name>` (binary mode); other lines are reported, not fatal. */
export function parseSha256Sums(text: string): { entries: { path: string; sha256: string }[]; bad: number } {
  const entries: { path: string; sha256: string }[] = [];
  let bad = 0;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) {
      bad += 1;
      continue;
    }
    entries.push({ sha256: m[1]!.toLowerCase(), path: m[2]! });
  }
  return { entries, bad };
}

/** The manifest from image.json text, or a reason it is not one. */
export function parseImageManifest(text: string): ImageManifest | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.schema !== 1) return `unknown schema ${JSON.stringify(o.schema)}`;
  for (const key of ['profile', 'product', 'displayName', 'version', 'kind', 'builtAt', 'builtBy'] as const) {
    if (typeof o[key] !== 'string') return `${key} is missing or not a string`;
  }
  if (!(IMAGE_KINDS as readonly unknown[]).includes(o.kind)) return `unknown kind ${JSON.stringify(o.kind)}`;
  if (o.answerUrl !== null && typeof o.answerUrl !== 'string') return 'answerUrl must be a string or null';
  const s = o.source as Record<string, unknown> | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.name !== 'string' ||
    typeof s.sha256 !== 'string' ||
    !HEX64.test(s.sha256) ||
    !Number.isSafeInteger(s.size)
  )
    return 'source must be {name, sha256, size}';
  if (!Array.isArray(o.files)) return 'files must be a list';
  const files: ManifestFile[] = [];
  for (const f of o.files as unknown[]) {
    const e = f as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.path !== 'string' || !isManifestPath(e.path)) return 'a files entry has no valid path';
    if (!Number.isSafeInteger(e.size) || (e.size as number) < 0 || typeof e.mtimeMs !== 'number' || !Number.isFinite(e.mtimeMs))
      return `files entry ${e.path}: size and mtimeMs must be numbers`;
    if (typeof e.sha256 !== 'string' || !HEX64.test(e.sha256)) return `files entry ${e.path}: sha256 must be 64 lower-case hex digits`;
    files.push({ path: e.path, size: e.size as number, mtimeMs: e.mtimeMs, sha256: e.sha256 });
  }
  let disk: DiskImageFacts | undefined;
  if (o.kind === 'disk-image' || o.disk !== undefined) {
    if (o.kind !== 'disk-image') return 'disk is only for kind disk-image';
    const parsed = parseDiskFacts(o.disk);
    if (typeof parsed === 'string') return parsed;
    if (!files.some((f) => f.path === parsed.file && f.sha256 === parsed.sha256)) return `disk.file ${parsed.file} is not among the files with that sha256`;
    disk = parsed;
  }
  return {
    schema: 1,
    profile: o.profile as string,
    product: o.product as string,
    displayName: o.displayName as string,
    version: o.version as string,
    kind: o.kind as ImageManifest['kind'],
    source: { name: s.name, sha256: s.sha256, size: s.size as number },
    answerUrl: o.answerUrl ?? null,
    builtAt: o.builtAt as string,
    builtBy: o.builtBy as string,
    files,
    ...(disk ? { disk } : {}),
  };
}

export function formatImageManifest(m: ImageManifest): string {
  return JSON.stringify(m, null, 2) + '\n';
}

/**
 * SHA-256 of a file, streamed through one reused 1 MiB buffer: a stream would allocate a new
 * buffer per chunk, and at disk speed the garbage collector lets those pile up (measured: +60 MB
 * RSS on a 1.5 GB ISO). `onBytes` reports progress.
 */
export async function hashFile(path: string, onBytes?: (done: number) => void): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  const fh = await open(path, 'r');
  try {
    let done = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      done += bytesRead;
      onBytes?.(done);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** Writes an image folder's SHA256SUMS and image.json (into the staging folder, before its rename). */
export async function writeImageManifest(dir: string, manifest: ImageManifest): Promise<void> {
  await writeFile(join(dir, 'SHA256SUMS'), formatSha256Sums(manifest.files));
  await writeFile(join(dir, 'image.json'), formatImageManifest(manifest));
}
