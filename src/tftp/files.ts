// The read-only file provider: resolves a checked path below the root, refuses anything whose real
// path (after symlinks) leaves the root, keeps small hot files in memory and streams large ones.
import { open, readFile, realpath, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, sep } from 'node:path';
import { ErrorCode } from './packet.ts';
import { errnoOf } from '../net/errno.ts';

/** The bytes of one file being sent. */
export interface FileSource {
  readonly size: number;
  /** Bytes [start, end): synchronously when in memory, else after a disk read. */
  read(start: number, end: number): Buffer | Promise<Buffer>;
  /** The bytes held in memory now and the file offset of the first: the native fast path sends from them. */
  held(): { bytes: Buffer; base: number };
  close(): void;
}

export type OpenResult = { ok: true; source: FileSource; cached: boolean } | { ok: false; code: number; reason: string };

export interface FileProviderOptions {
  root: string;
  /** Files up to this size are kept in memory (and re-read when they change on disk). */
  cacheMaxFileBytes?: number;
  /** Memory the cache may hold in all; the least recently used files go first. */
  cacheMaxTotalBytes?: number;
}

/** Streamed files are read this much at a time (or one whole window, when larger). */
const STREAM_CHUNK_BYTES = 1 << 20;

export class MemorySource implements FileSource {
  constructor(private readonly bytes: Buffer) {}
  get size(): number {
    return this.bytes.length;
  }
  read(start: number, end: number): Buffer {
    return this.bytes.subarray(start, end);
  }
  held(): { bytes: Buffer; base: number } {
    return { bytes: this.bytes, base: 0 };
  }
  close(): void {}
}

class StreamedSource implements FileSource {
  private chunk = Buffer.alloc(0);
  private chunkStart = 0;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
  ) {}

  read(start: number, end: number): Buffer | Promise<Buffer> {
    const offset = start - this.chunkStart;
    if (offset >= 0 && end - this.chunkStart <= this.chunk.length) return this.chunk.subarray(offset, end - this.chunkStart);
    return this.load(start, end);
  }

  held(): { bytes: Buffer; base: number } {
    return { bytes: this.chunk, base: this.chunkStart };
  }

  private async load(start: number, end: number): Promise<Buffer> {
    const length = Math.max(0, Math.min(Math.max(STREAM_CHUNK_BYTES, end - start), this.size - start));
    // A fresh buffer each time: blocks of the previous chunk may still sit in the socket's send queue.
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.handle.read(buf, got, length - got, start + got);
      if (bytesRead === 0) break; // the file shrank under us: send what is there
      got += bytesRead;
    }
    this.chunk = buf.subarray(0, got);
    this.chunkStart = start;
    return this.chunk.subarray(0, Math.min(end - start, got));
  }

  close(): void {
    this.handle.close().catch(() => {});
  }
}

interface CacheEntry {
  signature: string;
  bytes: Buffer;
}

function signatureOf(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

export class FileProvider {
  readonly root: string;
  private readonly cacheMaxFileBytes: number;
  private readonly cacheMaxTotalBytes: number;
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly cache = new Map<string, CacheEntry>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private cachedBytes = 0;

  constructor(options: FileProviderOptions) {
    this.root = options.root;
    this.cacheMaxFileBytes = options.cacheMaxFileBytes ?? 8 << 20;
    this.cacheMaxTotalBytes = options.cacheMaxTotalBytes ?? 128 << 20;
  }

  /** Opens `segments` (already checked by checkRequestPath) below the root. */
  async open(segments: string[]): Promise<OpenResult> {
    let realRoot: string;
    let real: string;
    try {
      realRoot = await realpath(this.root);
    } catch (err) {
      return { ok: false, code: ErrorCode.FILE_NOT_FOUND, reason: `root ${this.root} is not readable (${errnoOf(err)})` };
    }
    try {
      real = await realpath(join(realRoot, ...segments));
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: ErrorCode.FILE_NOT_FOUND, reason: 'file not found' };
      return { ok: false, code: ErrorCode.ACCESS_VIOLATION, reason: `cannot resolve path (${code})` };
    }
    if (!isInside(real, realRoot)) {
      return { ok: false, code: ErrorCode.ACCESS_VIOLATION, reason: `symlink to ${real}, outside root ${realRoot}` };
    }
    let info: Stats;
    try {
      info = await stat(real);
    } catch (err) {
      return { ok: false, code: ErrorCode.FILE_NOT_FOUND, reason: `file vanished (${errnoOf(err)})` };
    }
    if (!info.isFile()) return { ok: false, code: ErrorCode.FILE_NOT_FOUND, reason: 'not a regular file' };
    try {
      if (info.size <= this.cacheMaxFileBytes) {
        return { ok: true, source: new MemorySource(await this.cached(real, info)), cached: true };
      }
      const handle = await open(real, 'r');
      return { ok: true, source: new StreamedSource(handle, info.size), cached: false };
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'EACCES' || code === 'EPERM') return { ok: false, code: ErrorCode.ACCESS_VIOLATION, reason: 'permission denied' };
      return { ok: false, code: ErrorCode.NOT_DEFINED, reason: `read failed (${code})` };
    }
  }

  private async cached(path: string, info: Stats): Promise<Buffer> {
    const signature = signatureOf(info);
    const hit = this.cache.get(path);
    if (hit && hit.signature === signature) {
      this.cache.delete(path);
      this.cache.set(path, hit);
      return hit.bytes;
    }
    // Many clients asking for the same file at once (a rack powering on) share one read.
    const key = `${path}\u0000${signature}`;
    const pending = this.loading.get(key);
    if (pending) return pending;
    const load = readFile(path).finally(() => this.loading.delete(key));
    this.loading.set(key, load);
    const bytes = await load;
    this.store(path, { signature, bytes });
    return bytes;
  }

  private store(path: string, entry: CacheEntry): void {
    const old = this.cache.get(path);
    if (old) {
      this.cachedBytes -= old.bytes.length;
      this.cache.delete(path);
    }
    this.cache.set(path, entry);
    this.cachedBytes += entry.bytes.length;
    for (const [victim, { bytes }] of this.cache) {
      if (this.cachedBytes <= this.cacheMaxTotalBytes || victim === path) break;
      this.cache.delete(victim);
      this.cachedBytes -= bytes.length;
    }
  }
}
