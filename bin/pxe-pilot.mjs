#!/usr/bin/env node
// Entry point for `npx pxe-pilot`, `npm start`, the systemd unit and the Debian package's
// /usr/bin/pxe-pilot: runs the compiled CLI (dist/, from `npm run build`). Production needs
// no TypeScript tooling; the tests run the sources through tsx instead.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`pxe-pilot: ${cli.pathname} is missing; run 'npm run build' in ${new URL('..', import.meta.url).pathname}\n`);
  process.exit(2);
}
await import(cli.href);
