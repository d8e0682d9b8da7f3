// The assets the agent's routes need (the agent image alone, or with a disk image to deploy), laid out as `agent build` and `assets add --kind disk-image` lay them
// out, with real manifests: the agent image and a 40 GiB disk image kept as .raw.zst (a few bytes
// stand in for both; only the manifest's sizes matter to the plan).
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashFile, writeImageManifest, type DiskImageFacts } from '../../src/assets/manifest.ts';

export const AGENT_RELEASE = '6.1.0-57-amd64';
export const GIB = 1024 ** 3;
/** The disk image's profile. */
export const DISK_IMAGE = 'cloud/1';

async function manifestOf(dir: string, profile: string, kind: 'generic' | 'disk-image', paths: string[], disk?: Omit<DiskImageFacts, 'sha256'>): Promise<void> {
  const files = [];
  for (const path of paths) {
    const st = statSync(join(dir, path));
    files.push({ path, size: st.size, mtimeMs: st.mtimeMs, sha256: await hashFile(join(dir, path)) });
  }
  const [product, version] = profile.split('/') as [string, string];
  await writeImageManifest(dir, {
    schema: 1,
    profile,
    product,
    displayName: product,
    version,
    kind,
    source: { name: 'test', sha256: '0'.repeat(64), size: 0 },
    answerUrl: null,
    builtAt: new Date().toISOString(),
    builtBy: 'test',
    files,
    ...(disk ? { disk: { ...disk, sha256: files[0]!.sha256 } } : {}),
  });
}

/** The agent image as `agent build` lays it out, under `root`; its folder. */
export async function agentAssets(root: string): Promise<string> {
  const agent = join(root, 'pxe-pilot-agent', AGENT_RELEASE);
  mkdirSync(agent, { recursive: true });
  writeFileSync(join(agent, 'vmlinuz'), 'kernel bytes');
  writeFileSync(join(agent, 'initrd'), 'initrd bytes');
  await manifestOf(agent, `pxe-pilot-agent/${AGENT_RELEASE}`, 'generic', ['vmlinuz', 'initrd']);
  return agent;
}

/** The agent image and the disk image DISK_IMAGE under `root`; the image's digest and size as kept. */
export async function deployAssets(root: string): Promise<{ sha256: string; bytes: number }> {
  await agentAssets(root);
  const disk = join(root, ...DISK_IMAGE.split('/'));
  mkdirSync(disk, { recursive: true });
  writeFileSync(join(disk, 'disk.raw.zst'), 'compressed image bytes');
  await manifestOf(disk, DISK_IMAGE, 'disk-image', ['disk.raw.zst'], { file: 'disk.raw.zst', compression: 'zstd', sizeBytes: 40 * GIB });
  return { sha256: await hashFile(join(disk, 'disk.raw.zst')), bytes: statSync(join(disk, 'disk.raw.zst')).size };
}
