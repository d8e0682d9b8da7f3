// pxe-pilot assets add|ls|rm|verify: installer images under [assets] dir.
// Exit codes: 0 done, 2 bad input (the message says how to fix it), 1 anything else.
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import type { Profile } from '../config/profile.ts';
import { answerBase } from '../boot/urls.ts';
import { loadCertificate, TlsError } from '../http/tls.ts';
import { VERSION } from '../daemon.ts';
import { addImage } from '../assets/add.ts';
import { addDiskImage, diskImageFormat } from '../assets/disk-image.ts';
import { open } from 'node:fs/promises';
import { download } from '../assets/download.ts';
import { AssetError } from '../assets/errors.ts';
import { listImages, listImagesWithProblems, removeImage, verifyImage, type ImageRow } from '../assets/inventory.ts';
import { removePendingSync } from '../assets/layout.ts';
import { daemonAccount, imageDenialsFor } from './readability.ts';
import { formatBytes, Progress } from '../assets/progress.ts';
import { stopRunningTools } from '../assets/tools.ts';
import { CliError, EXIT_FAILED, EXIT_USAGE, UsageError, type CommandContext } from './command.ts';
import { profileFor } from './profile.ts';

interface AddValues {
  config?: string;
  product?: string;
  version?: string;
  'answer-url'?: string;
  'cert-fingerprint'?: string;
  'answer-token'?: string;
  force: boolean;
  kernel?: string;
  initrd: string[];
  sha256?: string;
  sha256sums?: string;
  kind?: string;
}

function verifiedColumn(r: ImageRow): string {
  if (r.integrity === 'changed') return `CHANGED: ${r.problem}`;
  if (r.integrity === 'unreadable') return `UNREADABLE: ${r.problem}`;
  return r.integrity === 'verified' ? 'yes' : 'unverified';
}

function table(rows: ImageRow[]): string {
  const head = ['PROFILE', 'KIND', 'PRODUCT', 'VERSION', 'SIZE', 'VERIFIED', 'HOSTS'];
  const body = rows.map((r) => [r.profile, r.kind, r.displayName, r.version, formatBytes(r.size), verifiedColumn(r), r.hosts.join(' ') || '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function assetsAdd({ values: v, operands, out }: CommandContext<AddValues>): Promise<number> {
  return guarded(async () => {
    const target = operands[0]!;
    if (v.initrd.length > 0 && !v.kernel) throw new UsageError('--initrd goes with --kernel');
    if (v.kind !== undefined && v.kind !== 'disk-image')
      throw new UsageError(`--kind ${v.kind}: the only kind given by hand is disk-image; installers are recognised`);
    const diskImage = v.kind === 'disk-image';
    if (diskImage && (v.kernel || v['answer-url'] || v['cert-fingerprint'] || v['answer-token']))
      throw new UsageError(
        '--kind disk-image takes no --kernel, --initrd, --answer-url, --cert-fingerprint or --answer-token: a disk image boots no installer',
      );
    const profile = profileFor(v, { offline: true });
    const progress = new Progress();
    let source = target;
    let downloaded: string | null = null;
    if (/^https?:\/\//i.test(target)) {
      downloaded = await download({ url: target, dir: join(profile.assets.dir, '.downloads'), sha256: v.sha256, sha256sumsUrl: v.sha256sums, progress });
      source = downloaded;
    } else if (v.sha256 || v.sha256sums) {
      throw new UsageError('--sha256 and --sha256sums check downloads; for a local file compare with sha256sum yourself');
    }
    if (diskImage) {
      const added = await addDiskImage({
        source,
        assetsDir: profile.assets.dir,
        ...(v.product ? { product: v.product } : {}),
        ...(v.version ? { version: v.version } : {}),
        force: v.force,
        builtBy: `pxe-pilot ${VERSION}`,
        owned: downloaded !== null,
        progress,
      });
      const d = added.manifest.disk!;
      out.write(
        `added disk image ${added.manifest.profile} in ${added.folder}\n` +
          `file: ${d.file} (${d.compression === 'none' ? 'not compressed' : d.compression}), ${d.sizeBytes} bytes once written, sha256 ${d.sha256}\n` +
          `check by hand: cd ${added.folder} && sha256sum -c SHA256SUMS\n`,
      );
      return 0;
    }
    await refuseVirtualDiskFormats(source);
    const answerUrl = v['answer-url'] ?? (profile.server.address ? `${answerBase(profile)}/answer` : null);
    // This server's own https:// URL is pinned by its own certificate (made now if there is none
    // yet, as `pxe-pilot cert` does), so the installer can verify it without a CA.
    const certFingerprint = v['cert-fingerprint'] ?? (v['answer-url'] === undefined && answerUrl?.startsWith('https://') ? ownFingerprint(profile) : undefined);
    const result = await addImage({
      source,
      assetsDir: profile.assets.dir,
      ...(v.product ? { product: v.product } : {}),
      ...(v.version ? { version: v.version } : {}),
      answerUrl,
      certFingerprint,
      // Answers guarded by [answers] token need it in the ISO too (sent as Authorization: Bearer).
      answerToken: v['answer-token'] ?? (profile.answers.token || undefined),
      force: v.force,
      ...(v.kernel ? { kernel: v.kernel } : {}),
      initrds: v.initrd,
      builtBy: `pxe-pilot ${VERSION}`,
      progress,
    });
    if (downloaded) await rm(downloaded, { force: true });
    const m = result.manifest;
    out.write(
      `added ${m.profile} (${m.displayName} ${m.version}) in ${result.folder}\n` +
        (m.answerUrl ? `answer URL in the ISO: ${m.answerUrl}\n` : '') +
        (certFingerprint ? `certificate pinned in the ISO: ${certFingerprint}\n` : '') +
        `files: ${m.files.map((f) => f.path).join(', ')}\n` +
        `check by hand: cd ${result.folder} && sha256sum -c SHA256SUMS\n` +
        `use it: profile = ${m.profile} in a [host] section\n`,
    );
    return 0;
  });
}

export function assetsList({ values, out, err }: CommandContext<{ config?: string; json: boolean }>): Promise<number> {
  return guarded(async () => {
    const profile = profileFor(values, { offline: true });
    const { images: found, problems } = await listImagesWithProblems(profile);
    for (const problem of problems) err.write(`warning: ${problem}\n`);
    // Root listing for a daemon that switches account: what that account may read is what counts.
    const account = daemonAccount(profile);
    const names = found.map((r) => r.profile);
    const denied = account ? imageDenialsFor(profile, account, names) : new Map<string, string>();
    const rows = found.map((r): ImageRow => (denied.has(r.profile) ? { ...r, integrity: 'unreadable', problem: denied.get(r.profile)! } : r));
    if (values.json) out.write(JSON.stringify(rows, null, 2) + '\n');
    else if (rows.length === 0) out.write(`no install images under ${profile.assets.dir}: add one with pxe-pilot assets add <iso>\n`);
    else out.write(table(rows));
    return 0;
  });
}

export function assetsRemove({ values, operands, out }: CommandContext<{ config?: string; force: boolean }>): Promise<number> {
  return guarded(async () => {
    const profile = profileFor(values, { offline: true });
    await removeImage(profile, operands[0]!, values.force);
    out.write(`removed ${operands[0]}\n`);
    return 0;
  });
}

export function assetsVerify({ values, operands, out }: CommandContext<{ config?: string }>): Promise<number> {
  return guarded(async () => {
    const profile = profileFor(values, { offline: true });
    const target = operands[0];
    const names = (await listImages(profile)).map((r) => r.profile);
    if (target !== undefined && !names.includes(target))
      throw new UsageError(`no image ${target} under ${profile.assets.dir} (pxe-pilot assets ls lists them)`);
    const progress = new Progress();
    let failed = 0;
    for (const name of target === undefined ? names : [target]) {
      const r = await verifyImage(profile.assets.dir, name, progress);
      if (r.ok) out.write(`${name}: ${r.files > 0 ? `OK (${r.files} files)` : (r.problems[0] ?? 'OK')}\n`);
      else {
        failed += 1;
        for (const p of r.problems) out.write(`${name}: FAILED: ${p}\n`);
      }
    }
    if (failed > 0) throw new CliError(`${failed} image(s) failed verification: add them again (pxe-pilot assets add <iso> --force)`);
    return 0;
  });
}

/**
 * Runs an assets command so that nothing half-built stays: Ctrl-C stops xorriso & co. and removes
 * the unfinished folder, as does any failure. The failures a user can act on become their message.
 */
async function guarded(work: () => Promise<number>): Promise<number> {
  const interrupted = (signal: string): void => {
    stopRunningTools();
    removePendingSync();
    process.stderr.write(`\npxe-pilot assets: ${signal}: stopped; nothing was added\n`);
    process.exit(130);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    return await work();
  } catch (err) {
    removePendingSync();
    if (err instanceof CliError) throw err;
    if (err instanceof AssetError) throw new CliError(err.message, err.exitCode, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC')
      throw new CliError('the disk is full: free some space or point [assets] dir elsewhere; nothing was added', EXIT_USAGE, { cause: err });
    if (code === 'EACCES' || code === 'EPERM')
      throw new CliError(`${(err as Error).message}: run as the user that owns [assets] dir (e.g. sudo -u pxe-pilot)`, EXIT_USAGE, { cause: err });
    throw new CliError((err as Error).message, EXIT_FAILED, { cause: err });
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
}

/** A qcow2 or other virtual disk given without --kind: say how to make a raw image of it, not "neither ISO nor tar". */
async function refuseVirtualDiskFormats(source: string): Promise<void> {
  const fh = await open(source, 'r').catch(() => null);
  if (!fh) return;
  const head = Buffer.alloc(512);
  try {
    await fh.read(head, 0, 512, 0);
  } finally {
    await fh.close();
  }
  const format = diskImageFormat(head);
  if (!format.ok && format.format !== 'bzip2')
    throw new UsageError(
      `${source} is a ${format.format} virtual disk: to deploy it, convert it (qemu-img convert -f ${format.format} -O raw ${source} disk.raw && zstd -T0 --rm disk.raw) and add disk.raw.zst with --kind disk-image --product P --version V`,
    );
}

/** The SHA-256 fingerprint of this server's HTTPS certificate; a certificate problem is a message, exit 2. */
function ownFingerprint(profile: Profile): string {
  try {
    return loadCertificate(profile).fingerprint;
  } catch (err) {
    if (err instanceof TlsError) throw new CliError(`${err.message}; or give --cert-fingerprint`, EXIT_USAGE, { cause: err });
    throw err;
  }
}
