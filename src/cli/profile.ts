// Reading the profile for a command: its problems are the user's to fix (exit 2), each naming
// file, section, key and value.
import { ConfigError, loadProfile, type LoadOptions } from '../config/load.ts';
import type { Profile } from '../config/profile.ts';
import { CliError, configFileOf, EXIT_USAGE } from './command.ts';

export function profileFor(values: { readonly config?: string | undefined; readonly set?: readonly string[] | undefined }, options: LoadOptions = {}): Profile {
  try {
    return loadProfile(configFileOf(values), { ...options, overrides: values.set ?? [] });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // The default file unreadable: say how to name another one.
    const hint =
      values.config === undefined && err.problems.some((p) => p.message.startsWith('cannot read the profile')) ? '\ngive the profile with --config FILE' : '';
    throw new CliError(`the profile has ${err.problems.length} problem(s):\n${err.message}${hint}`, EXIT_USAGE);
  }
}
