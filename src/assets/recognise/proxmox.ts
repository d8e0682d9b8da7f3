// Proxmox VE, Backup Server and Mail Gateway installer ISOs: the kernel and initrd from /boot, and
// a copy of the ISO told where to fetch its answer (/auto-installer-mode.toml), without /boot.
import { open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badInput } from '../errors.ts';
import { extractFromIso, writeChangedIso } from '../iso.ts';
import { parseCdInfo, proxmoxIdentity } from '../iso-info.ts';
import { proxmoxModeToml } from '../proxmox-mode.ts';
import { runPipe } from '../tools.ts';
import { productName, versionName, type Recogniser } from './plan.ts';

async function isZstd(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(4);
    await fh.read(b, 0, 4, 0);
    return b.readUInt32LE(0) === 0xfd2fb528;
  } finally {
    await fh.close();
  }
}

/**
 * Zero bytes up to a multiple of 4. The kernel looks for the next initramfs archive (proxmox.iso,
 * cpio-wrapped) only at 4-byte offsets and skips zeros to get there; UEFI's EFI stub puts the
 * images end to end, so an initrd of another length hides the ISO ("invalid magic").
 */
async function padToFour(file: string): Promise<void> {
  const size = (await stat(file)).size;
  const pad = (4 - (size % 4)) % 4;
  if (pad === 0) return;
  const handle = await open(file, 'a');
  try {
    await handle.write(Buffer.alloc(pad));
  } finally {
    await handle.close();
  }
}

export const proxmoxIso: Recogniser = {
  describes: 'a Proxmox VE/BS/MG ISO',
  async recognise({ req, shape, name, files, readText, scratch, progress }) {
    if (shape !== 'iso' || !files.has('/.cd-info')) return null;
    if (!files.has('/boot/linux26') || !files.has('/boot/initrd.img'))
      throw badInput(`${name} has /.cd-info but no /boot/linux26 and /boot/initrd.img: not a Proxmox installer ISO pxe-pilot knows`);
    const identity = proxmoxIdentity(parseCdInfo(await readText('/.cd-info')));
    if (typeof identity === 'string') throw badInput(`${name}: ${identity}`);
    if (!files.has('/auto-installer-capable'))
      throw badInput(
        `${name} has no /auto-installer-capable: its installer cannot run unattended (Proxmox added this with VE 8.2, BS 3.3 and MG 8.2); use a newer ISO`,
      );
    if (!req.answerUrl) throw badInput('no answer URL is known: set [server] address in the profile, or give --answer-url http://<this server>:<port>/answer');
    const answerUrl = req.answerUrl;
    const toml = proxmoxModeToml({ url: answerUrl, certFingerprint: req.certFingerprint, token: req.answerToken });
    const size = (await stat(req.source)).size;
    const initrdSize = files.get('/boot/initrd.img') ?? 0;
    return {
      kind: 'proxmox',
      product: productName(req, identity.product),
      displayName: identity.displayName,
      version: versionName(req, identity.version),
      answerUrl,
      estimate: size + (files.get('/boot/linux26') ?? 0) + initrdSize * 4,
      build: async (dir) => {
        const packed = join(dir, 'initrd.zst');
        await progress.watchFile('extracting the kernel and initrd', packed, initrdSize, () =>
          extractFromIso(req.source, [
            ['/boot/linux26', join(dir, 'vmlinuz')],
            ['/boot/initrd.img', packed],
          ]),
        );
        if (await isZstd(packed)) {
          await progress.watchFile('recompressing the initrd (zstd → gzip, for iPXE)', join(dir, 'initrd'), 0, () =>
            runPipe(['zstd', ['-dcq', packed]], ['gzip', ['-c']], join(dir, 'initrd')),
          );
          await rm(packed);
        } else {
          await rename(packed, join(dir, 'initrd'));
        }
        await padToFour(join(dir, 'initrd'));
        const modeFile = join(scratch, 'auto-installer-mode.toml');
        await writeFile(modeFile, toml);
        await progress.watchFile(`writing proxmox.iso (answer URL ${answerUrl}, without /boot)`, join(dir, 'proxmox.iso'), size, () =>
          writeChangedIso(req.source, join(dir, 'proxmox.iso'), [[modeFile, '/auto-installer-mode.toml']], ['/boot']),
        );
      },
    };
  },
};
