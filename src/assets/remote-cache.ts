// The cache of pinned remote files ([image] kernel_sha256 / initrd_sha256): each is fetched once
// into <state_dir>/remote-images/<sha256>/<name> (through download.ts: resumed with Range after an
// interruption, checked against its SHA-256, deleted on a mismatch), then served by us over HTTP
// and TFTP. A file is moved into place only once checked, so what the served folder holds is
// what was pinned. An image whose pinned files are not all there is not offered, with the reason.
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { remoteFileName, type DiskImage, type InstallImage, type RemoteFile } from '../boot/catalogue.ts';
import type { ImageCatalogue } from '../boot/ports.ts';
import { isOffered, sortImages } from '../boot/catalogue.ts';
import { remoteCacheDir, type RemoteImageEntry } from '../config/images.ts';

export { remoteCacheDir };
import { download } from './download.ts';
import { hashFile } from './manifest.ts';
import { Progress } from './progress.ts';

/** Where one pinned file is served from, once checked. */
export function cachedFilePath(stateDir: string, file: RemoteFile & { sha256: string }): string {
  return join(remoteCacheDir(stateDir), file.sha256, remoteFileName(file.url));
}

type FileState = { state: 'fetching'; since: number } | { state: 'ready' } | { state: 'failed'; problem: string; at: number };

/** A failed fetch is tried again when the image is next asked for, at most this often. */
const RETRY_MS = 60_000;

interface CacheLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RemoteCacheOptions {
  logger: CacheLogger;
  now?: () => number;
}

function pinned(file: RemoteFile): file is RemoteFile & { sha256: string } {
  return file.sha256 !== null;
}

/** Progress of a background fetch goes nowhere: the log says when it starts, ends or fails. */
const silent = new Progress({ write: () => undefined, isTTY: false });

export class RemoteImageCache {
  private readonly files = new Map<string, FileState>();
  private readonly running = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly options: RemoteCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  private key(stateDir: string, file: RemoteFile & { sha256: string }): string {
    return cachedFilePath(stateDir, file);
  }

  /** Starts fetching every pinned file of `images` not in the cache yet (a file already there is checked again). */
  sync(stateDir: string, images: Iterable<RemoteImageEntry>): void {
    for (const image of images) for (const file of [image.kernel, ...image.initrds]) if (pinned(file)) this.ensure(stateDir, image.name, file);
  }

  private ensure(stateDir: string, image: string, file: RemoteFile & { sha256: string }): void {
    const key = this.key(stateDir, file);
    const known = this.files.get(key);
    if (known && (known.state !== 'failed' || this.now() - known.at < RETRY_MS)) return;
    this.files.set(key, { state: 'fetching', since: this.now() });
    const work = this.fetch(stateDir, image, file).then(
      () => {
        this.files.set(key, { state: 'ready' });
      },
      (err: unknown) => {
        const problem = `${file.url} could not be fetched and checked: ${(err as Error).message}`;
        this.files.set(key, { state: 'failed', problem, at: this.now() });
        this.options.logger.warn({ image, url: file.url }, `[image ${image}]: ${problem}`);
      },
    );
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
  }

  private async fetch(stateDir: string, image: string, file: RemoteFile & { sha256: string }): Promise<void> {
    const final = cachedFilePath(stateDir, file);
    if (existsSync(final)) {
      // Kept from an earlier run: checked again before it is served.
      if ((await hashFile(final)) === file.sha256) return;
      this.options.logger.warn({ image, file: final }, `[image ${image}]: ${final} no longer matches its SHA-256; fetching it again`);
      await rm(final, { force: true });
    }
    const incoming = join(remoteCacheDir(stateDir), '.incoming', file.sha256);
    this.options.logger.info({ image, url: file.url }, `[image ${image}]: fetching ${file.url} into the cache`);
    const checked = await download({ url: file.url, dir: incoming, sha256: file.sha256, progress: silent });
    await mkdir(join(remoteCacheDir(stateDir), file.sha256), { recursive: true });
    await rename(checked, final);
    await rm(incoming, { recursive: true, force: true });
    this.options.logger.info({ image, file: final }, `[image ${image}]: ${file.url} fetched and checked`);
  }

  /** Resolves once no fetch is running (tests, and a clean stop). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** The remote images as the catalogue shows them, each with whether it can be offered and why not. */
  images(stateDir: string, entries: Iterable<RemoteImageEntry>): InstallImage[] {
    const out: InstallImage[] = [];
    for (const entry of entries) {
      const files = [entry.kernel, ...entry.initrds];
      const waiting: string[] = [];
      for (const file of files.filter(pinned)) {
        let state = this.files.get(this.key(stateDir, file));
        if (state?.state === 'failed' && this.now() - state.at >= RETRY_MS) {
          this.ensure(stateDir, entry.name, file);
          state = this.files.get(this.key(stateDir, file));
        }
        if (!state) waiting.push(`${file.url} is not in the cache yet`);
        else if (state.state === 'fetching') waiting.push(`${file.url} is being fetched into the cache (since ${new Date(state.since).toISOString()})`);
        else if (state.state === 'failed') waiting.push(state.problem);
      }
      const [product, version] = entry.name.split('/') as [string, string];
      const integrity = waiting.length > 0 ? 'unfetched' : files.every(pinned) ? 'verified' : 'unverified';
      out.push({
        profile: entry.name,
        product,
        version,
        kernel: entry.kernel.url,
        initrds: entry.initrds.map((f) => f.url),
        cmdline: entry.cmdline,
        integrity,
        ...(waiting.length > 0 ? { integrityProblem: waiting.join('; ') } : {}),
        remote: { kernel: entry.kernel, initrds: entry.initrds, consumedAt: entry.consumedAt },
      });
    }
    return out;
  }
}

/**
 * The folder catalogue with the profile's remote images beside it: one ImageCatalogue for every
 * transport. A remote image hides a folder of the same name (check-config says so).
 */
export class CombinedCatalogue implements ImageCatalogue {
  constructor(
    private readonly folders: ImageCatalogue,
    private readonly remote: () => InstallImage[],
  ) {}

  all(dir: string): InstallImage[] {
    const remote = this.remote();
    if (remote.length === 0) return this.folders.all(dir);
    const names = new Set(remote.map((i) => i.profile));
    return sortImages([...remote, ...this.folders.all(dir).filter((i) => !names.has(i.profile))]);
  }

  images(dir: string): InstallImage[] {
    return this.all(dir).filter(isOffered);
  }

  find(dir: string, profile: string): InstallImage | undefined {
    return this.remote().find((i) => i.profile === profile) ?? this.folders.find(dir, profile);
  }

  findDiskImage(dir: string, profile: string): DiskImage | undefined {
    return this.folders.findDiskImage?.(dir, profile);
  }

  diskImages(dir: string): DiskImage[] {
    return this.folders.diskImages?.(dir) ?? [];
  }

  invalidate(): void {
    this.folders.invalidate();
  }
}
