// How tests run the pxe-pilot command: from the sources through tsx, whatever the child's working
// folder, so no `npm run build` is needed first (the Debian package test runs the compiled one).
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** argv for `pxe-pilot <args>`: [node, ...flags, entry, ...args]. */
export function cliArgv(args: readonly string[] = []): string[] {
  return [process.execPath, '--import', import.meta.resolve('tsx'), entry, ...args];
}
