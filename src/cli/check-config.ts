// pxe-pilot check-config: the effective profile on stdout, its warnings on stderr.
import { describeProfile, profileWarnings } from '../config/load.ts';
import { assetWarnings } from '../assets/inventory.ts';
import type { CommandContext } from './command.ts';
import { profileFor } from './profile.ts';

export function checkConfig({ values, out, err }: CommandContext<{ config?: string }>): Promise<number> {
  const profile = profileFor(values);
  out.write(describeProfile(profile));
  for (const w of [...profileWarnings(profile), ...assetWarnings(profile)]) err.write(`warning: ${w}\n`);
  return Promise.resolve(0);
}
