// The .debs the agent image is made of: found in apt's own cache, or in ours, or fetched with
// `apt-get download` (no root needed), and checked against the SHA-256 apt's index gives.
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { badInput } from '../assets/errors.ts';
import { pendingPaths } from '../assets/layout.ts';
import { hashFile } from '../assets/manifest.ts';
import type { Progress } from '../assets/progress.ts';
import { ToolFailed } from '../assets/tools.ts';

export interface AptPackage {
  name: string;
  version: string;
  architecture: string;
  depends: string;
  /** Pre-Depends: where essential packages (util-linux) name their libraries; absent: none. */
  preDepends?: string;
  /** The pool file name, e.g. busybox-static_1.35.0-4+deb12u1+b1_amd64.deb (no epoch). */
  filename: string;
  size: number;
  sha256: string;
}

/** One record of `apt-cache show --no-all-versions`, or null when a needed field is absent. */
export function parseAptRecord(text: string): AptPackage | null {
  const fields = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && last) continue; // continuation lines (Description) are not needed
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (!m) continue;
    last = m[1]!;
    if (!fields.has(last)) fields.set(last, m[2]!.trim());
  }
  const name = fields.get('Package');
  const version = fields.get('Version');
  const architecture = fields.get('Architecture');
  const filename = fields.get('Filename');
  const sha256 = fields.get('SHA256');
  const size = Number(fields.get('Size'));
  if (!name || !version || !architecture || !filename || !sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(size)) return null;
  const preDepends = fields.get('Pre-Depends');
  return {
    name,
    version,
    architecture,
    depends: fields.get('Depends') ?? '',
    ...(preDepends ? { preDepends } : {}),
    filename: filename.slice(filename.lastIndexOf('/') + 1),
    size,
    sha256,
  };
}

/** The first package a Depends field names: `linux-image-6.1.0-57-amd64 (= 6.1.192-3)` → its name. */
export function firstDependency(depends: string): string | null {
  const m = /^\s*([a-z0-9][a-z0-9+.-]*)/.exec(depends);
  return m ? m[1]! : null;
}

/** apt processes still running, ended (by pid) when the user interrupts. */
const running = new Set<ChildProcess>();

export function stopAptTools(): void {
  for (const child of running) if (child.exitCode === null) child.kill('SIGTERM');
}

function run(command: string, args: string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.on('exit', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-8192);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What apt's index says about `name` (for `arch`), or null when apt does not know it. */
export async function aptShow(name: string, arch: string): Promise<AptPackage | null> {
  const r = await run('apt-cache', ['show', '--no-all-versions', `${name}:${arch}`]);
  if (r.code !== 0) return null;
  return parseAptRecord(r.stdout.split(/\n\n/)[0] ?? '');
}

/** Like aptShow, but a package apt does not know is an error that names it. */
export async function requirePackage(name: string, arch: string): Promise<AptPackage> {
  const p = await aptShow(name, arch);
  if (!p)
    throw badInput(
      `apt knows no package ${name} for ${arch}: run apt-get update (as root)${arch === 'amd64' ? '' : `, and add the architecture with dpkg --add-architecture ${arch}`}, or check the sources in /etc/apt`,
    );
  return p;
}

const APT_ARCHIVES = '/var/cache/apt/archives';

/** apt's cache names a file with its epoch (1%3a1.35.0-…); the pool does not. */
function cachedNames(p: AptPackage): string[] {
  return [p.filename, `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.architecture}.deb`];
}

async function matching(path: string, p: AptPackage): Promise<boolean> {
  return existsSync(path) && (await hashFile(path)) === p.sha256;
}

/**
 * Each package's .deb in `cacheDir`: taken from apt's cache when it holds the same file, else
 * downloaded there with `apt-get download`. Every file is checked against apt's SHA-256.
 */
export async function fetchDebs(packages: AptPackage[], cacheDir: string, progress: Progress): Promise<Map<string, string>> {
  await mkdir(cacheDir, { recursive: true });
  const found = new Map<string, string>();
  const toDownload: AptPackage[] = [];
  for (const p of packages) {
    const target = join(cacheDir, p.filename);
    if (await matching(target, p)) {
      found.set(p.name, target);
      continue;
    }
    const fromApt = cachedNames(p)
      .map((n) => join(APT_ARCHIVES, n))
      .find((f) => existsSync(f));
    if (fromApt && (await matching(fromApt, p))) {
      await copyFile(fromApt, `${target}.part`);
      await rename(`${target}.part`, target);
      found.set(p.name, target);
    } else toDownload.push(p);
  }
  if (toDownload.length > 0) {
    // apt-get download writes into its working folder; a private one, so that half files never mix with ours.
    const work = join(cacheDir, `.download-${process.pid}`);
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    pendingPaths.add(work);
    try {
      // Progress follows the largest file (the kernel: 67 of the 70 MiB).
      const largest = toDownload.reduce((a, b) => (b.size > a.size ? b : a));
      const r = await progress.watchFile(`downloading ${toDownload.map((p) => p.name).join(', ')}`, join(work, cachedNames(largest)[1]!), largest.size, () =>
        run('apt-get', ['download', '-q', ...toDownload.map((p) => `${p.name}:${p.architecture}=${p.version}`)], work),
      );
      if (r.code !== 0) throw new ToolFailed('apt-get download', r.code, r.stderr);
      const files = await readdir(work);
      for (const p of toDownload) {
        const file = files.find((f) => cachedNames(p).includes(f));
        if (!file) throw badInput(`apt-get download did not fetch ${p.name} ${p.version}: check the network and /etc/apt sources`);
        const from = join(work, file);
        if ((await hashFile(from)) !== p.sha256) throw badInput(`${p.name} ${p.version}: the downloaded file does not match apt's SHA-256; run apt-get update`);
        const target = join(cacheDir, p.filename);
        await rename(from, target);
        found.set(p.name, target);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
      pendingPaths.delete(work);
    }
  }
  return found;
}
