// Small installer-shaped inputs built with xorriso, tar and zstd, and a runner for the CLI.
import { cliArgv } from '../helpers/cli.ts';
import { bootableIsoArgs } from '../helpers/iso.ts';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = resolve(import.meta.dirname, '..', '..');
export const assetTools = ['xorriso', 'zstd', 'gzip', 'tar', 'sha256sum'];

export interface Workspace {
  dir: string;
  assets: string;
  ini: string;
  cleanup: () => void;
}

/** A temp folder with an empty assets folder and a profile pointing at it. */
export function workspace(extraIni = ''): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-assets-test-'));
  const assets = join(dir, 'assets');
  mkdirSync(assets);
  const ini = join(dir, 'pxe-pilot.ini');
  writeFileSync(
    ini,
    `[server]\naddress = 10.9.8.7\nstate_dir = ${join(dir, 'state')}\n[http]\nport = 8080\n[assets]\ndir = ${assets}\n[answers]\ndir = ${join(dir, 'answers')}\n${extraIni}`,
  );
  return { dir, assets, ini, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every entry under a folder (recursive), for "nothing left behind". */
export function entriesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'pxe-assets-tree-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed || 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  return b;
}

/** An ISO of `files`, BIOS (El Torito) and UEFI (El Torito EFI image) bootable in form. */
export function buildIso(out: string, files: Record<string, string | Buffer>, volume = 'TEST'): void {
  const root = tree({ ...files, 'boot/grub/eltorito.img': Buffer.alloc(2048), 'efi/efiboot.img': Buffer.alloc(64 * 1024) });
  try {
    execFileSync('xorriso', bootableIsoArgs(out, volume, root), { stdio: 'ignore' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export const kernelBytes = bytes(120_000, 1);
export const initrdBytes = bytes(90_000, 2);

export interface ProxmoxIsoOptions {
  product?: string;
  release?: string;
  isorelease?: string;
  capable?: boolean;
  kernel?: Buffer;
  /** Uncompressed; stored zstd-compressed as the real ISOs do. */
  initrd?: Buffer;
}

export function buildProxmoxIso(out: string, o: ProxmoxIsoOptions = {}): void {
  const zst = execFileSync('zstd', ['-q', '-c'], { input: o.initrd ?? initrdBytes });
  const cdInfo = `PRODUCT='${o.product ?? 'pve'}'\nPRODUCTLONG='Proxmox VE'\nRELEASE='${o.release ?? '9.1'}'\nISORELEASE='${o.isorelease ?? '1'}'\nISONAME='proxmox-ve'\n`;
  buildIso(
    out,
    {
      '.cd-info': cdInfo,
      '.disk/info': `Proxmox VE ${o.release ?? '9.1'}\n`,
      ...(o.capable === false ? {} : { 'auto-installer-capable': '' }),
      'boot/linux26': o.kernel ?? kernelBytes,
      'boot/initrd.img': zst,
      'pve-base.squashfs': bytes(200_000, 3),
    },
    'PVE',
  );
}

export function buildUbuntuIso(out: string): void {
  buildIso(out, {
    '.disk/info': 'Ubuntu-Server 24.04.1 LTS "Noble Numbat" - Release amd64 (20240827.1)\n',
    'casper/vmlinuz': kernelBytes,
    'casper/initrd': initrdBytes,
    'casper/ubuntu-server-minimal.squashfs': bytes(50_000, 4),
  });
}

export function buildDebianNetinstIso(out: string): void {
  buildIso(out, {
    '.disk/info': 'Debian GNU/Linux 12.8.0 "Bookworm" - Official amd64 NETINST with firmware 20241109-11:04\n',
    'install.amd/vmlinuz': kernelBytes,
    'install.amd/initrd.gz': initrdBytes,
  });
}

export function buildOtherIso(out: string): void {
  buildIso(out, { 'images/pxeboot/vmlinuz': kernelBytes, 'images/pxeboot/initrd.img': initrdBytes, 'images/install.img': bytes(10_000, 5) });
}

export function buildNetbootTarball(out: string, distro: 'debian' | 'ubuntu' = 'debian'): void {
  const root = tree({
    'version.info': `${distro === 'debian' ? 'Debian' : 'Ubuntu'} version:  12 (bookworm)\nInstaller build: 20230607+deb12u11\n`,
    [`${distro}-installer/amd64/linux`]: kernelBytes,
    [`${distro}-installer/amd64/initrd.gz`]: initrdBytes,
    [`${distro}-installer/amd64/pxelinux.cfg/default`]: 'default install\n',
  });
  try {
    execFileSync('tar', ['-czf', out, '-C', root, '.']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `pxe-pilot <args>` as a user would (no terminal: a line per step). */
export function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const [node, ...argv] = cliArgv(args);
    const child = spawn(node!, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

/** A file from inside an ISO, read with xorriso. */
export async function isoFile(iso: string, path: string, scratch: string): Promise<Buffer> {
  const out = join(scratch, `iso-file-${Math.random().toString(36).slice(2)}`);
  await run('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', path, out]);
  const { readFileSync } = await import('node:fs');
  return readFileSync(out);
}

export async function isoListing(iso: string): Promise<string[]> {
  const { stdout } = await run('xorriso', ['-indev', iso, '-find', '/', '-type', 'f'], { maxBuffer: 16 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((l) => l.startsWith("'"))
    .map((l) => l.slice(1, -1));
}

export async function elTorito(iso: string): Promise<string> {
  const { stdout, stderr } = await run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
  return stdout + stderr;
}
