// ISO images through Debian's xorriso: list, extract (osirrox), and write a changed copy
// (-indev/-outdev). No mount, no loop device, no root. The header check is ours: xorriso
// happily treats any non-ISO file as an empty medium.
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetError, badInput } from './errors.ts';
import { ISO_PVD_OFFSET, isoVolumeBytes } from './iso-info.ts';
import { runTool, ToolFailed } from './tools.ts';

export type SourceShape = 'iso' | 'tar';

/** What the first bytes say: an ISO 9660 image, a (compressed) tar archive, or neither. */
export async function sourceShape(file: string): Promise<SourceShape> {
  const size = (await stat(file)).size;
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(512);
    await fh.read(head, 0, 512, 0);
    const pvd = Buffer.alloc(2048);
    const { bytesRead } = await fh.read(pvd, 0, 2048, ISO_PVD_OFFSET);
    if (bytesRead >= 6 && pvd.subarray(1, 6).toString('latin1') === 'CD001') {
      const claimed = isoVolumeBytes(pvd.subarray(0, bytesRead));
      if (typeof claimed === 'string') throw badInput(`${file}: ${claimed}; is it a damaged download?`);
      if (size < claimed) throw badInput(`${file} is truncated: the ISO says it spans ${claimed} bytes but the file has ${size}; download it again`);
      return 'iso';
    }
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const xz = head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
    const zst = head.readUInt32LE(0) === 0xfd2fb528;
    const bz = head.subarray(0, 3).toString('latin1') === 'BZh';
    const ustar = head.subarray(257, 262).toString('latin1') === 'ustar';
    if (gzip || xz || zst || bz || ustar) return 'tar';
    throw badInput(
      `${file} is neither an ISO 9660 image nor a tar archive: give an installer ISO (e.g. proxmox-ve_9.1-1.iso) or a netboot tarball (netboot.tar.gz)`,
    );
  } finally {
    await fh.close();
  }
}

function isoFailure(iso: string, what: string, err: unknown): never {
  if (err instanceof ToolFailed) {
    if (/No space left|ENOSPC/i.test(err.stderr)) throw new AssetError(`${what}: the disk is full: ${err.message}`, 2);
    throw new AssetError(`${what} from ${iso} failed; is the ISO complete and readable? ${err.message}`, 2);
  }
  throw err;
}

/** Regular files down to `depth` levels: path → size. */
export async function listIsoFiles(iso: string, depth = 2): Promise<Map<string, number>> {
  let out: string;
  try {
    out = (await runTool('xorriso', ['-indev', iso, '-find', '/', '-maxdepth', String(depth), '-type', 'f', '-exec', 'lsdl'])).stdout;
  } catch (err) {
    isoFailure(iso, 'listing the ISO', err);
  }
  const files = new Map<string, number>();
  for (const line of out.split('\n')) {
    // -rw-r--r--    1 0        0          100000 Dec  2 04:16 '/boot/linux26'
    const m = /^\S+\s+\d+\s+\S+\s+\S+\s+(\d+)\s+.*?'(\/.*)'$/.exec(line);
    if (m) files.set(m[2]!.replace(/'"'"'/g, "'"), Number(m[1]));
  }
  return files;
}

/** Extracts files (ISO path → local path) in one xorriso run; data streams to disk. */
export async function extractFromIso(iso: string, pairs: [string, string][]): Promise<void> {
  if (pairs.length === 0) return;
  const args = ['-osirrox', 'on', '-indev', iso];
  for (const [from, to] of pairs) args.push('-extract', from, to);
  try {
    await runTool('xorriso', args);
  } catch (err) {
    isoFailure(iso, `extracting ${pairs.map((p) => p[0]).join(', ')}`, err);
  }
}

/** A small text file from the ISO, through a scratch folder. */
export async function readIsoText(iso: string, path: string, scratch: string): Promise<string> {
  const local = join(scratch, `text-${path.replace(/[^A-Za-z0-9]+/g, '_')}`);
  await extractFromIso(iso, [[path, local]]);
  return readFile(local, 'utf8');
}

/**
 * A copy of `input` with files added (local path → ISO path) and trees removed, boot records
 * replayed so BIOS and UEFI boot stay as they were (writing in place would overwrite an
 * appended EFI partition).
 */
export async function writeChangedIso(input: string, output: string, add: [string, string][], remove: string[]): Promise<void> {
  const args = ['-indev', input, '-outdev', output, '-boot_image', 'any', 'replay'];
  for (const [local, dest] of add) args.push('-map', local, dest);
  for (const r of remove) args.push('-rm_r', r, '--');
  try {
    await runTool('xorriso', args);
  } catch (err) {
    isoFailure(input, 'writing the changed ISO', err);
  }
}
