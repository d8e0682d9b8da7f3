// What `pxe-pilot assets add` can make an image of: one recogniser per kind, asked in this order
// (the files named by --kernel first). A new distribution is one file here and one row in
// src/boot/products.ts.
import { badInput } from '../errors.ts';
import { notANetbootFolder } from '../netboot-folder.ts';
import { givenFiles } from './generic.ts';
import { netboot } from './netboot.ts';
import type { Plan, Recogniser, Source } from './plan.ts';
import { proxmoxIso } from './proxmox.ts';
import { ubuntuLiveIso } from './ubuntu-live.ts';

export const RECOGNISERS: readonly Recogniser[] = [givenFiles, proxmoxIso, ubuntuLiveIso, netboot];

/** The plan of the first recogniser that knows the source; a message saying what would work otherwise. */
export async function recognise(source: Source): Promise<Plan> {
  for (const recogniser of RECOGNISERS) {
    const plan = await recogniser.recognise(source);
    if (plan) return plan;
  }
  if (source.shape === 'folder') throw notANetbootFolder(source.req.source);
  const known = RECOGNISERS.filter((r) => r !== givenFiles).map((r) => r.describes);
  throw badInput(
    `${source.name} is none of what pxe-pilot knows (${known.join('; ')}). For another installer give the files inside it: --kernel PATH --initrd PATH [--initrd PATH…] --product NAME --version V`,
  );
}
