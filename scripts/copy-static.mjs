#!/usr/bin/env node
// `npm run build` step: tsc compiles only .ts, so the dashboard's page files (src/ui/static/)
// are copied beside the compiled code, where src/http/ui/routes.ts finds them from dist/ too.
// build-deb.mjs calls copyStatic() for the package's dist/.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Copies src/ui/static/ to <dist>/ui/static/, replacing what an earlier build left there. */
export function copyStatic(dist = join(root, 'dist')) {
  const target = join(dist, 'ui/static');
  rmSync(target, { recursive: true, force: true });
  cpSync(join(root, 'src/ui/static'), target, { recursive: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) copyStatic();
