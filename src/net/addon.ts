// The one udp_device addon (native/): interface-bound UDP, the TFTP pump and the packet listener
// share it. Loaded once, on first use, with one message when it is missing or too old.
import { createRequire } from 'node:module';

let loaded: Record<string, unknown> | null = null;

function addonError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ENOADDON' });
}

/**
 * The addon, checked to have `entryPoint` (a function the caller needs); `feature` names what
 * an older build lacks, for the message.
 */
export function udpDeviceAddon<T>(entryPoint: string, feature: string): T {
  if (!loaded) {
    try {
      loaded = createRequire(import.meta.url)('../../build/Release/udp_device.node') as Record<string, unknown>;
    } catch (err) {
      throw addonError(`the udp_device addon is not built (${(err as Error).message}); run 'npm ci' or 'npm run install' to build it`);
    }
  }
  if (typeof loaded[entryPoint] !== 'function') throw addonError(`the udp_device addon predates ${feature}; rebuild it ('npm run install')`);
  return loaded as T;
}
