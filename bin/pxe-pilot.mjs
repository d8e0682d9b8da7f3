#!/usr/bin/env node
// Entry point for `npx pxe-pilot` and the systemd unit: runs the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
