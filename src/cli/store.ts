// `pxe-pilot store migrate [--config FILE]`: brings the state folder's schema up to date and
// says which version it is at. Opening the store applies any pending migration (in one
// transaction each), so this is what the Debian package's postinst runs on upgrade, before
// the new daemon starts.
import type { Profile } from '../config/profile.ts';
import { Store } from '../store/store.ts';

export const STORE_USAGE = '  pxe-pilot store migrate [--config FILE]   apply pending state migrations, print the schema version';

/** Exit code and what to print; the caller writes it (stdout for 0, stderr otherwise). */
export function storeCommand(args: string[], profile: () => Profile): { code: number; message: string } {
  const [sub, ...extra] = args;
  if (sub !== 'migrate' || extra.length > 0) {
    return { code: 2, message: `store: unknown subcommand ${JSON.stringify([sub, ...extra].filter(Boolean).join(' '))}; usage:\n${STORE_USAGE}` };
  }
  const stateDir = profile().server.stateDir;
  let store: Store;
  try {
    store = Store.open(stateDir);
  } catch (err) {
    // A state folder we may not write to, or a file that is not SQLite: say where, not a stack.
    return { code: 1, message: `pxe-pilot: cannot open the store in ${stateDir}: ${(err as Error).message}` };
  }
  try {
    return { code: 0, message: `store ${stateDir}: schema version ${store.schemaVersion()}` };
  } finally {
    store.close();
  }
}
