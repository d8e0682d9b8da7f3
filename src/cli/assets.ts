// pxe-pilot assets add|ls|rm|verify: installer images under [assets] dir.
// Exit codes: 0 done, 2 bad input (the message says how to fix it), 1 anything else.
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, loadProfile } from '../config/load.ts';
import type { Profile } from '../config/profile.ts';
import { answerBase } from '../boot/urls.ts';
import { loadCertificate, TlsError } from '../http/tls.ts';
import { VERSION } from '../daemon.ts';
import { addImage } from '../assets/add.ts';
import { download } from '../assets/download.ts';
import { AssetError } from '../assets/errors.ts';
import { listImages, removeImage, verifyImage, type ImageRow } from '../assets/inventory.ts';
import { removePendingSync } from '../assets/layout.ts';
import { formatBytes, Progress } from '../assets/progress.ts';
import { stopRunningTools } from '../assets/tools.ts';

export const ASSETS_USAGE = `usage:
  pxe-pilot assets add <file.iso | file.tar.gz | netboot folder | http(s)://…> [--config F] [--product P --version V]
        [--answer-url URL] [--cert-fingerprint FP] [--answer-token T] [--force]
        [--kernel PATH --initrd PATH [--initrd PATH…]] [--sha256 HEX | --sha256sums URL]
  pxe-pilot assets ls [--json] [--config F]
  pxe-pilot assets rm <product>/<version> [--force] [--config F]
  pxe-pilot assets verify [<product>/<version>] [--config F]`;

class Exit extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function loadFor(file: string): Profile {
  try {
    return loadProfile(file, { offline: true });
  } catch (err) {
    if (err instanceof ConfigError) throw new Exit(2, `pxe-pilot: the profile has ${err.problems.length} problem(s):\n${err.message}`);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Exit(2, `pxe-pilot: cannot read ${file}: give the profile with --config FILE`);
    throw err;
  }
}

function table(rows: ImageRow[]): string {
  const head = ['PROFILE', 'PRODUCT', 'VERSION', 'SIZE', 'VERIFIED', 'HOSTS'];
  const body = rows.map((r) => [
    r.profile,
    r.displayName,
    r.version,
    formatBytes(r.size),
    r.integrity === 'changed' ? `CHANGED: ${r.problem}` : r.integrity === 'verified' ? 'yes' : 'unverified',
    r.hosts.join(' ') || '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

async function run(args: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        product: { type: 'string' },
        version: { type: 'string' },
        'answer-url': { type: 'string' },
        'cert-fingerprint': { type: 'string' },
        'answer-token': { type: 'string' },
        force: { type: 'boolean' },
        kernel: { type: 'string' },
        initrd: { type: 'string', multiple: true },
        sha256: { type: 'string' },
        sha256sums: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new Exit(2, `${(err as Error).message}\n${ASSETS_USAGE}`);
  }
  const { values: v, positionals } = parsed;
  const [command, target, ...extra] = positionals;
  if (v.help || command === undefined) {
    process.stdout.write(ASSETS_USAGE + '\n');
    if (command === undefined && !v.help) throw new Exit(2, 'assets needs a command: add, ls, rm or verify');
    return;
  }
  if (extra.length > 0) throw new Exit(2, `unexpected ${JSON.stringify(extra[0])}\n${ASSETS_USAGE}`);
  const profile = loadFor(v.config ?? '/etc/pxe-pilot/pxe-pilot.ini');
  const progress = new Progress();

  switch (command) {
    case 'add': {
      if (!target) throw new Exit(2, `assets add needs an ISO, a tarball, a netboot folder or an http(s):// URL\n${ASSETS_USAGE}`);
      if (v.initrd && !v.kernel) throw new Exit(2, '--initrd goes with --kernel');
      let source = target;
      let downloaded: string | null = null;
      if (/^https?:\/\//i.test(target)) {
        downloaded = await download({ url: target, dir: join(profile.assets.dir, '.downloads'), sha256: v.sha256, sha256sumsUrl: v.sha256sums, progress });
        source = downloaded;
      } else if (v.sha256 || v.sha256sums) {
        throw new Exit(2, '--sha256 and --sha256sums check downloads; for a local file compare with sha256sum yourself');
      }
      const answerUrl = v['answer-url'] ?? (profile.server.address ? `${answerBase(profile)}/answer` : null);
      // This server's own https:// URL is pinned by its own certificate (made now if there is none
      // yet, as `pxe-pilot cert` does), so the installer can verify it without a CA.
      const certFingerprint =
        v['cert-fingerprint'] ?? (v['answer-url'] === undefined && answerUrl?.startsWith('https://') ? ownFingerprint(profile) : undefined);
      const result = await addImage({
        source,
        assetsDir: profile.assets.dir,
        ...(v.product ? { product: v.product } : {}),
        ...(v.version ? { version: v.version } : {}),
        answerUrl,
        certFingerprint,
        // Answers guarded by [answers] token need it in the ISO too (sent as Authorization: Bearer).
        answerToken: v['answer-token'] ?? (profile.answers.token || undefined),
        force: v.force === true,
        ...(v.kernel ? { kernel: v.kernel } : {}),
        initrds: v.initrd ?? [],
        builtBy: `pxe-pilot ${VERSION}`,
        progress,
      });
      if (downloaded) await rm(downloaded, { force: true });
      const m = result.manifest;
      process.stdout.write(
        `added ${m.profile} (${m.displayName} ${m.version}) in ${result.folder}\n` +
          (m.answerUrl ? `answer URL in the ISO: ${m.answerUrl}\n` : '') +
          (certFingerprint ? `certificate pinned in the ISO: ${certFingerprint}\n` : '') +
          `files: ${m.files.map((f) => f.path).join(', ')}\n` +
          `check by hand: cd ${result.folder} && sha256sum -c SHA256SUMS\n` +
          `use it: profile = ${m.profile} in a [host] section\n`,
      );
      return;
    }
    case 'ls': {
      const rows = await listImages(profile);
      if (v.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      else if (rows.length === 0) process.stdout.write(`no install images under ${profile.assets.dir}: add one with pxe-pilot assets add <iso>\n`);
      else process.stdout.write(table(rows));
      return;
    }
    case 'rm': {
      if (!target) throw new Exit(2, `assets rm needs <product>/<version>\n${ASSETS_USAGE}`);
      await removeImage(profile, target, v.force === true);
      process.stdout.write(`removed ${target}\n`);
      return;
    }
    case 'verify': {
      const names = target ? [target] : (await listImages(profile)).map((r) => r.profile);
      if (target && !(await listImages(profile)).some((r) => r.profile === target))
        throw new Exit(2, `no image ${target} under ${profile.assets.dir} (pxe-pilot assets ls lists them)`);
      let failed = 0;
      for (const name of names) {
        const r = await verifyImage(profile.assets.dir, name, progress);
        if (r.ok) process.stdout.write(`${name}: ${r.files > 0 ? `OK (${r.files} files)` : (r.problems[0] ?? 'OK')}\n`);
        else {
          failed += 1;
          for (const p of r.problems) process.stdout.write(`${name}: FAILED: ${p}\n`);
        }
      }
      if (failed > 0) throw new Exit(1, `${failed} image(s) failed verification: add them again (pxe-pilot assets add <iso> --force)`);
      return;
    }
    default:
      throw new Exit(2, `unknown assets command ${JSON.stringify(command)}\n${ASSETS_USAGE}`);
  }
}

export async function runAssets(args: string[]): Promise<never> {
  // Ctrl-C: stop xorriso & co. and remove the unfinished folder; nothing half-built stays.
  const interrupted = (signal: string): void => {
    stopRunningTools();
    removePendingSync();
    process.stderr.write(`\npxe-pilot assets: ${signal}: stopped; nothing was added\n`);
    process.exit(130);
  };
  process.on('SIGINT', () => interrupted('SIGINT'));
  process.on('SIGTERM', () => interrupted('SIGTERM'));
  try {
    await run(args);
    process.exit(0);
  } catch (err) {
    removePendingSync();
    if (err instanceof Exit) {
      process.stderr.write(err.message.endsWith('\n') ? err.message : err.message + '\n');
      process.exit(err.code);
    }
    if (err instanceof AssetError) {
      process.stderr.write(`pxe-pilot assets: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') {
      process.stderr.write('pxe-pilot assets: the disk is full: free some space or point [assets] dir elsewhere; nothing was added\n');
      process.exit(2);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      process.stderr.write(`pxe-pilot assets: ${(err as Error).message}: run as the user that owns [assets] dir (e.g. sudo -u pxe-pilot)\n`);
      process.exit(2);
    }
    process.stderr.write(`pxe-pilot assets: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** The SHA-256 fingerprint of this server's HTTPS certificate; a certificate problem is a message, exit 2. */
function ownFingerprint(profile: Profile): string {
  try {
    return loadCertificate(profile).fingerprint;
  } catch (err) {
    if (err instanceof TlsError) throw new Exit(2, `${err.message}; or give --cert-fingerprint`);
    throw err;
  }
}
