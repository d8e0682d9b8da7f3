// `pxe-pilot assets add`: turns an installer ISO or netboot tarball into <assets dir>/<product>/<version>/
// with vmlinuz, initrd, extras, a manifest, and nothing half-written on any failure.
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { badInput } from './errors.ts';
import { listIsoFiles, readIsoText, sourceShape } from './iso.ts';
import { abortStaging, beginStaging, commitStaging, fileSize, filesUnder, requireFreeSpace, type Staging } from './layout.ts';
import { hashFile, writeImageManifest, type ImageManifest, type ManifestFile } from './manifest.ts';
import { Progress } from './progress.ts';
import { extractTarMember, listTar } from './tarball.ts';
import { requireTools } from './tools.ts';
import { recognise } from './recognise/index.ts';
import type { AddRequest, Plan, Source } from './recognise/plan.ts';

export type { AddRequest } from './recognise/plan.ts';

export interface AddResult {
  folder: string;
  manifest: ImageManifest;
}

/** The source as the recognisers see it: its listing, and its small text files read once each. */
async function lookAt(req: AddRequest, shape: Source['shape'], scratch: string, progress: Progress): Promise<Source> {
  let files = new Map<string, number>();
  let members: string[] = [];
  if (shape === 'iso') {
    // Generic images name their files; list deep enough to see them (a full listing of a big ISO is long).
    const depth = req.kernel ? Math.max(2, ...[req.kernel, ...req.initrds].map((p) => p.split('/').filter(Boolean).length)) : 2;
    files = await listIsoFiles(req.source, depth);
  } else if (shape === 'tar') {
    members = await listTar(req.source);
    files = new Map(members.map((m) => ['/' + m.replace(/^\.?\//, ''), 0]));
  }
  const texts = new Map<string, Promise<string>>();
  const readText = (path: string): Promise<string> => {
    let text = texts.get(path);
    if (!text) {
      const local = join(scratch, `text-${texts.size}`);
      text = shape === 'iso' ? readIsoText(req.source, path, scratch) : extractTarMember(req.source, path, local).then(() => readFile(local, 'utf8'));
      texts.set(path, text);
    }
    return text;
  };
  return { req, shape, name: basename(req.source), files, members, readText, scratch, progress };
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
  await writeImageManifest(dir, manifest);
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
    const plan = await recognise(await lookAt(req, shape, scratch, progress));
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
