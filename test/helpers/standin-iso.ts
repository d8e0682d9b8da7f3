// The stand-in packaged as a Proxmox installer ISO (same files and keys as the real one, built
// with xorriso), and `pxe-pilot assets add` run on it as a user would.
import { cliArgv } from './cli.ts';
import { bootableIsoArgs } from './iso.ts';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { Standin } from './standin.ts';
import { standinProfile } from '../e2e/lab.ts';

const run = promisify(execFile);

/** The tools this needs besides the stand-in's own (for skipUnless). */
export const standinIsoTools = ['xorriso', 'zstd'];

/** /.cd-info, /auto-installer-capable, zstd /boot/initrd.img, /boot/linux26, a squashfs stand-in; BIOS+UEFI boot records. */
export async function buildStandinProxmoxIso(standin: Standin, out: string, tree: string): Promise<void> {
  const [release, isorelease] = standinProfile.split('/')[1]!.split('-') as [string, string];
  await rm(tree, { recursive: true, force: true });
  await mkdir(join(tree, 'boot', 'grub'), { recursive: true });
  await mkdir(join(tree, 'efi'), { recursive: true });
  await writeFile(join(tree, '.cd-info'), `PRODUCT='pve'\nPRODUCTLONG='Proxmox VE'\nRELEASE='${release}'\nISORELEASE='${isorelease}'\nISONAME='proxmox-ve'\n`);
  await writeFile(join(tree, 'auto-installer-capable'), '');
  await writeFile(join(tree, 'boot', 'linux26'), await readFile(standin.kernel));
  // Proxmox ships its initrd zstd-compressed; `assets add` must turn it into gzip for iPXE.
  await writeFile(join(tree, 'boot', 'initrd.cpio'), gunzipSync(await readFile(standin.initrd)));
  await run('zstd', ['-q', '--rm', '-o', join(tree, 'boot', 'initrd.img'), join(tree, 'boot', 'initrd.cpio')]);
  await writeFile(join(tree, 'pve-base.squashfs'), Buffer.alloc(256 * 1024, 0x5a));
  await writeFile(join(tree, 'boot', 'grub', 'eltorito.img'), Buffer.alloc(2048));
  await writeFile(join(tree, 'efi', 'efiboot.img'), Buffer.alloc(64 * 1024));
  await run('xorriso', bootableIsoArgs(out, 'PVE', tree));
  await rm(tree, { recursive: true, force: true });
}

/** `pxe-pilot assets add ISO --config FILE`; throws with its output when it fails. */
export async function addAssetWithCli(iso: string, configFile: string, extraArgs: string[] = []): Promise<string> {
  try {
    const [node, ...argv] = cliArgv(['assets', 'add', iso, '--config', configFile, ...extraArgs]);
    const { stdout } = await run(node!, argv, { timeout: 120_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`pxe-pilot assets add failed: ${e.stderr ?? e.message}`);
  }
}
