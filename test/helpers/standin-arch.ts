// Where the stand-in's Debian packages come from, per architecture. The host's own architecture
// uses the host's apt as it is (and /bin/busybox from busybox-static). Another architecture
// (arm64 on an amd64 host) uses a private apt state under the cache directory: the same
// configured sources and keyrings, package lists for that architecture only, no
// `dpkg --add-architecture` and nothing installed on the host. Its busybox is taken from the
// busybox-static .deb of that architecture.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The CPU a stand-in is built for, as Debian spells it. */
export type StandinArch = 'amd64' | 'arm64';

export interface DebianPackageTools {
  /** `-o` options for apt-get and apt-cache (none for the host's architecture). */
  options: string[];
  /** Downloads one package's .deb into `dir` (apt-get download; updates the lists once if it fails). */
  download(pkg: string, dir: string): Promise<void>;
  /** A static busybox for this architecture. */
  busybox(): Promise<string>;
}

let nativeArch: string | undefined;
async function hostArch(): Promise<string> {
  nativeArch ??= (await run('dpkg', ['--print-architecture'], { encoding: 'utf8' })).stdout.trim();
  return nativeArch;
}

/** apt options for a private state of one foreign architecture under `dir`. */
export function foreignAptOptions(arch: StandinArch, dir: string): string[] {
  return [
    ...['-o', `Dir::State::Lists=${join(dir, 'lists')}`],
    ...['-o', `Dir::Cache=${join(dir, 'cache')}`],
    // Nothing of this architecture is installed; apt must not read the host's dpkg status for it.
    ...['-o', 'Dir::State::status=/dev/null'],
    ...['-o', `APT::Architecture=${arch}`],
    ...['-o', `APT::Architectures=${arch}`],
    ...['-o', 'Acquire::Languages=none'],
    // The private folders belong to root; apt's _apt user could not write them.
    ...['-o', 'APT::Sandbox::User=root'],
  ];
}

export async function debianPackageTools(arch: StandinArch, cacheDir: string): Promise<DebianPackageTools> {
  if (arch === (await hostArch())) {
    return {
      options: [],
      download: async (pkg, dir) => {
        await run('apt-get', ['download', pkg], { cwd: dir, timeout: 300_000 });
      },
      busybox: () => Promise.resolve('/bin/busybox'),
    };
  }
  const aptDir = join(cacheDir, `apt-${arch}`);
  await mkdir(join(aptDir, 'lists', 'partial'), { recursive: true });
  await mkdir(join(aptDir, 'cache', 'archives', 'partial'), { recursive: true });
  const options = foreignAptOptions(arch, aptDir);
  const apt = async (args: string[], cwd?: string): Promise<void> => {
    await run('apt-get', ['-qq', ...options, ...args], { cwd, timeout: 300_000 });
  };
  // Lists fetched earlier may name a version the mirror has dropped since: refresh once and retry.
  const download = async (pkg: string, dir: string): Promise<void> => {
    const qualified = `${pkg}:${arch}`;
    await apt(['download', qualified], dir).catch(async () => {
      await apt(['update']);
      await apt(['download', qualified], dir);
    });
  };
  return {
    options,
    download,
    busybox: async () => {
      const dir = join(cacheDir, `busybox-${arch}`);
      const binary = join(dir, 'busybox');
      if (existsSync(binary)) return binary;
      const work = await mkdtemp(join(cacheDir, 'busybox-download-'));
      try {
        await download('busybox-static', work);
        const deb = (await readdir(work)).find((f) => f.endsWith('.deb'));
        if (!deb) throw new Error(`apt-get download busybox-static:${arch} produced no .deb`);
        await run('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" ./bin/busybox', 'sh', join(work, deb), work]);
        // Renamed into place: a concurrent build never sees half a binary.
        await mkdir(join(work, 'out'));
        await rename(join(work, 'bin', 'busybox'), join(work, 'out', 'busybox'));
        await rename(join(work, 'out'), dir).catch((err: unknown) => {
          if (!existsSync(binary)) throw err;
        });
        return binary;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}
