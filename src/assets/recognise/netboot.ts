// Debian and Ubuntu netboot installers (debian-installer): from the netboot tarball or the same
// tree unpacked on disk, e.g. by Debian's debian-installer-12-netboot-amd64 package. Their
// installer ISOs expect the CD and are refused, pointing at the tarball.
import { copyFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { badInput } from '../errors.ts';
import { parseDiskInfo, parseNetbootVersion } from '../iso-info.ts';
import { findNetbootFolder, NETBOOT_DISTROS, NETBOOT_PRESEED_CMDLINE, netbootFolderDigest, notANetbootFolder } from '../netboot-folder.ts';
import { extractTarMember, findMember } from '../tarball.ts';
import { productRow } from '../../boot/products.ts';
import { productName, versionName, type Plan, type Recogniser, type Source } from './plan.ts';

function release(source: Source, found: string | null): string {
  if (!source.req.version && !found) throw badInput(`${source.req.source} has no version.info saying its release: give --version (e.g. --version 12)`);
  return versionName(source.req, found ?? '');
}

async function refuseInstallerIso({ name, files, readText }: Source): Promise<null> {
  const diskInfo = files.has('/.disk/info') ? parseDiskInfo(await readText('/.disk/info')) : null;
  if (diskInfo?.distro.toLowerCase().startsWith('debian') || [...files.keys()].some((f) => f.startsWith('/install.amd/')))
    throw badInput(
      `${name} is a Debian installer ISO: its install.amd/initrd.gz expects the CD and cannot install over the network. Use the netboot tarball instead: https://deb.debian.org/debian/dists/<suite>/main/installer-amd64/current/images/netboot/netboot.tar.gz (or the package debian-installer-12-netboot-amd64)`,
    );
  return null;
}

async function fromTarball(source: Source): Promise<Plan | null> {
  const { req, members, progress } = source;
  for (const distro of NETBOOT_DISTROS) {
    const linux = findMember([...members], `${distro}-installer/amd64/linux`);
    const initrd = findMember([...members], `${distro}-installer/amd64/initrd.gz`);
    if (!linux || !initrd) continue;
    const info = findMember([...members], 'version.info');
    const found = info ? parseNetbootVersion(await source.readText(info)) : null;
    const version = release(source, found);
    return {
      kind: 'netboot',
      product: productName(req, distro),
      displayName: productRow(distro).displayName,
      version,
      answerUrl: null,
      estimate: (await stat(req.source)).size * 2,
      build: async (dir) => {
        progress.begin('extracting linux and initrd.gz');
        await extractTarMember(req.source, linux, join(dir, 'vmlinuz'));
        await extractTarMember(req.source, initrd, join(dir, 'initrd'));
        progress.end();
        await writeFile(join(dir, 'cmdline'), NETBOOT_PRESEED_CMDLINE + '\n');
      },
    };
  }
  return null;
}

async function fromFolder(source: Source): Promise<Plan> {
  const { req, progress } = source;
  const found = await findNetbootFolder(req.source);
  if (!found) throw notANetbootFolder(req.source);
  return {
    kind: 'netboot',
    product: productName(req, found.distro),
    displayName: productRow(found.distro).displayName,
    version: release(source, found.version),
    answerUrl: null,
    estimate: (await stat(found.linux)).size + (await stat(found.initrd)).size,
    sourceDigest: () => netbootFolderDigest(found, (name) => progress.begin(`checksumming ${name} of ${req.source}`)),
    build: async (dir) => {
      await copyFile(found.linux, join(dir, 'vmlinuz'));
      await progress.watchFile('copying linux and initrd.gz', join(dir, 'initrd'), (await stat(found.initrd)).size, () =>
        copyFile(found.initrd, join(dir, 'initrd')),
      );
      await writeFile(join(dir, 'cmdline'), NETBOOT_PRESEED_CMDLINE + '\n');
    },
  };
}

export const netboot: Recogniser = {
  describes: 'a Debian or Ubuntu netboot tarball or folder',
  recognise(source) {
    if (source.shape === 'folder') return fromFolder(source);
    return source.shape === 'tar' ? fromTarball(source) : refuseInstallerIso(source);
  },
};
