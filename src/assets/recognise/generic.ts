// Any other installer: the files inside the ISO or tarball the user names with --kernel and
// --initrd, under --product and --version.
import { basename, join } from 'node:path';
import { productDisplayName } from '../../boot/products.ts';
import { badInput } from '../errors.ts';
import { SAFE_NAME } from '../iso-info.ts';
import { extractFromIso } from '../iso.ts';
import { extractTarMember, findMember } from '../tarball.ts';
import { checkName, type Recogniser } from './plan.ts';

const EXTRA_NAME = /\.(iso|img|cpio|cpio\.gz|cpio\.zst)$/;

/** Names the generic extras so the catalogue loads them after `initrd`, in the order given. */
function extraName(path: string, index: number): string {
  const base = basename(path);
  return `${String(index).padStart(2, '0')}-${EXTRA_NAME.test(base) && SAFE_NAME.test(base) ? base : `${base.replace(/[^A-Za-z0-9._+-]/g, '_')}.img`}`;
}

export const givenFiles: Recogniser = {
  describes: 'the files named by --kernel and --initrd',
  async recognise({ req, shape, name, files, members }) {
    if (!req.kernel) return null;
    if (shape === 'folder')
      throw badInput(
        '--kernel and --initrd take paths inside an ISO or tarball; for files in a folder, copy them into <[assets] dir>/<product>/<version>/ by hand',
      );
    if (!req.product || !req.version) throw badInput('--kernel and --initrd need --product NAME and --version V (the folder <product>/<version>)');
    if (req.initrds.length === 0) throw badInput('--kernel needs at least one --initrd PATH (inside the ISO or tarball)');
    const product = checkName('product', req.product);
    const version = checkName('version', req.version);
    const abs = (p: string): string => '/' + p.replace(/^\.?\/+/, '');
    for (const p of [req.kernel, ...req.initrds]) {
      if (shape === 'iso' && !files.has(abs(p))) throw badInput(`${abs(p)} is not in ${name} ; check the path with: xorriso -indev ${name} -find / -type f`);
      if (shape === 'tar' && !files.has(abs(p))) throw badInput(`${p} is not in ${name}; check the path with: tar -tf ${name}`);
    }
    const outputs: [string, string][] = [
      [req.kernel, 'vmlinuz'],
      [req.initrds[0]!, 'initrd'],
      ...req.initrds.slice(1).map((p, i): [string, string] => [p, extraName(p, i + 1)]),
    ];
    return {
      kind: 'generic',
      product,
      displayName: productDisplayName(product),
      version,
      answerUrl: null,
      estimate: outputs.reduce((n, [p]) => n + (files.get(abs(p)) ?? 0), 0),
      build: async (dir) => {
        if (shape === 'iso') {
          await extractFromIso(
            req.source,
            outputs.map(([p, out]) => [abs(p), join(dir, out)]),
          );
        } else {
          for (const [p, out] of outputs) await extractTarMember(req.source, findMember([...members], abs(p).slice(1))!, join(dir, out));
        }
      },
    };
  },
};
