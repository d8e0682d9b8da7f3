// The inspection agent's image for the firmware lab: built once with `pxe-pilot agent build` into
// the gitignored tmp/e2e-cache, keyed by the digest of the agent and its builder, so a second run
// needs no build; a lab gets it by hard links (same inode and mtime: its manifest still verifies).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cliArgv } from './cli.ts';
import { defaultCacheDir } from './standin.ts';
import { repoRoot } from './standin.ts';

export const agentBuildTools = ['apt-get', 'dpkg-deb', 'cpio', 'depmod', 'modinfo', 'zstd'];

const SOURCES = [
  'agent/init',
  'agent/lldp.awk',
  'src/agent/build.ts',
  'src/agent/programs.ts',
  'src/agent/modules.ts',
  'src/agent/elf.ts',
  'src/agent/debs.ts',
];

export interface AgentImage {
  /** The image folder: vmlinuz, initrd, agent.json, SHA256SUMS, image.json. */
  folder: string;
  /** Its kernel release, the folder's name under pxe-pilot-agent/. */
  release: string;
}

/** The agent image for these sources, built when the cache lacks it (a few minutes, Debian's mirror needed). */
export async function buildAgentImage(cacheDir = defaultCacheDir): Promise<AgentImage> {
  const digest = createHash('sha256');
  for (const f of SOURCES) digest.update(f).update(await readFile(join(repoRoot, f)));
  const dir = join(cacheDir, `agent-${digest.digest('hex').slice(0, 16)}`);
  const found = async (): Promise<AgentImage | null> => {
    const product = join(dir, 'pxe-pilot-agent');
    if (!existsSync(product)) return null;
    const release = (await readdir(product)).find((d) => !d.startsWith('.'));
    return release ? { folder: join(product, release), release } : null;
  };
  const cached = await found();
  if (cached) return cached;
  // Built beside the cache and renamed into place: an interrupted build leaves nothing that looks whole.
  const work = `${dir}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(cliArgv(['agent', 'build', '--assets', work])[0]!, cliArgv(['agent', 'build', '--assets', work]).slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`pxe-pilot agent build exited ${code}:\n${text.slice(-3000)}`))));
    });
    process.stderr.write(
      output
        .split('\n')
        .filter((l) => /^(built|kernel)/.test(l))
        .join('\n') + '\n',
    );
    await rm(dir, { recursive: true, force: true });
    await rename(work, dir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const built = await found();
  if (!built) throw new Error(`pxe-pilot agent build left no image in ${dir}`);
  return built;
}

/** The image into `<assetsDir>/pxe-pilot-agent/<release>/`, by hard links. */
export async function installAgentImage(image: AgentImage, assetsDir: string): Promise<string> {
  const target = join(assetsDir, 'pxe-pilot-agent', image.release);
  await mkdir(target, { recursive: true });
  for (const f of await readdir(image.folder)) await link(join(image.folder, f), join(target, f));
  return target;
}
