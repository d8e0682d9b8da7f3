// pxe-pilot check-config: the effective profile on stdout, its warnings on stderr.
import { describeProfile, profileWarnings } from '../config/load.ts';
import { assetWarnings } from '../assets/inventory.ts';
import { checkProfile } from '../config/checks.ts';
import { CliError, EXIT_USAGE, type CommandContext } from './command.ts';
import { profileFor } from './profile.ts';

export async function checkConfig({ values, out, err }: CommandContext<{ config?: string }>): Promise<number> {
  const profile = profileFor(values);
  out.write(describeProfile(profile));
  const checked = await checkProfile(profile);
  // Read as the account the daemon will run as ([server] user when started as root).
  const { readability } = await import('./readability.ts');
  const readable = readability(profile);
  const errors = [...checked.errors, ...readable.errors];
  for (const w of [...profileWarnings(profile), ...assetWarnings(profile), ...checked.warnings, ...readable.warnings]) err.write(`warning: ${w}\n`);
  if (errors.length > 0) throw new CliError(`${errors.length} problem(s) start-up or an install would trip over:\n${errors.join('\n')}`, EXIT_USAGE);
  return 0;
}
