// `node --import ./record-modules.mjs …`: appends the URL of every module the process loads to
// the file named by PXE_PILOT_RECORD_MODULES, one a line (which code a process really holds).
import { register } from 'node:module';

const file = process.env.PXE_PILOT_RECORD_MODULES;
if (file) register('./record-modules-hooks.mjs', import.meta.url, { data: { file } });
