// Ubuntu live-server ISOs (casper): the kernel and initrd, and the ISO itself for the kernel to
// fetch (url=), with autoinstall's answer from this server's NoCloud endpoint.
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extractFromIso } from '../iso.ts';
import { parseDiskInfo, SAFE_NAME } from '../iso-info.ts';
import { productName, versionName, type Recogniser } from './plan.ts';

export const ubuntuLiveIso: Recogniser = {
  describes: 'an Ubuntu live-server ISO',
  async recognise({ req, shape, name, files, readText, progress }) {
    if (shape !== 'iso' || !files.has('/.disk/info') || !files.has('/casper/vmlinuz') || !files.has('/casper/initrd')) return null;
    const diskInfo = parseDiskInfo(await readText('/.disk/info'));
    if (!diskInfo?.distro.toLowerCase().startsWith('ubuntu')) return null;
    const product = productName(req, diskInfo.distro.toLowerCase());
    const version = versionName(req, diskInfo.version);
    const size = (await stat(req.source)).size;
    const isoName = SAFE_NAME.test(name) && name.endsWith('.iso') ? name : `${product}-${version}.iso`;
    // The ISO goes in iso/ (not beside vmlinuz, where the catalogue would load it as an initrd);
    // the kernel's url= fetches it from there.
    const cmdline = `root=/dev/ram0 ramdisk_size=1500000 ip=dhcp url=\${server}/assets/${product}/${version}/iso/${isoName} cloud-config-url=/dev/null autoinstall ds=nocloud-net;s=\${server}/nocloud/\${mac}/`;
    return {
      kind: 'ubuntu-live',
      product,
      displayName: diskInfo.distro.replace(/-/g, ' '),
      version,
      answerUrl: null,
      estimate: size * 1.05 + (files.get('/casper/initrd') ?? 0) + (files.get('/casper/vmlinuz') ?? 0),
      build: async (dir) => {
        await progress.watchFile('extracting the kernel and initrd', join(dir, 'initrd'), files.get('/casper/initrd') ?? 0, () =>
          extractFromIso(req.source, [
            ['/casper/vmlinuz', join(dir, 'vmlinuz')],
            ['/casper/initrd', join(dir, 'initrd')],
          ]),
        );
        await writeFile(join(dir, 'cmdline'), cmdline + '\n');
        await mkdir(join(dir, 'iso'));
        await progress.watchFile('copying the ISO for the kernel to fetch', join(dir, 'iso', isoName), size, () =>
          copyFile(req.source, join(dir, 'iso', isoName)),
        );
      },
    };
  },
};
