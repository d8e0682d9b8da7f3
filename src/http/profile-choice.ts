// The install profile a reinstall request names, checked against the catalogue: a typo would
// only show at the machine's console, so it is refused now, with what is there.
import { PROFILE_NAME } from '../boot/catalogue.ts';
import type { HttpDeps } from './context.ts';
import { badRequest } from './errors.ts';

/** null: none named (the [host] profile, or the menu). Throws a 400 naming what is available. */
export function chosenProfile(deps: Pick<HttpDeps, 'profile' | 'catalogue'>, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !PROFILE_NAME.test(value)) throw badRequest('profile must be "<product>/<version>", e.g. "proxmox-ve/9.1-1"');
  const { assets } = deps.profile();
  if (!deps.catalogue.find(assets.dir, value)) {
    const have = deps.catalogue.images(assets.dir).map((i) => i.profile);
    throw badRequest(`no install image ${value} under ${assets.dir} (available: ${have.join(', ') || 'none'})`);
  }
  return value;
}
