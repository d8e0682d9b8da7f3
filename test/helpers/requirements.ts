// Decides whether a test that needs root or a Debian tool may run here.
// Outside CI a missing requirement skips the test with a message saying what is missing;
// in CI (CI=true) nothing may be skipped, so a missing requirement fails loudly instead.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function hasTool(tool: string): boolean {
  if (tool.startsWith('/')) return existsSync(tool);
  try {
    execFileSync('sh', ['-c', `command -v "$0"`, tool], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns false when everything is here, else the skip message.
 * Needs are 'root' or a command name or an absolute path.
 */
export function skipUnless(needs: string[]): false | string {
  const missing: string[] = [];
  for (const need of needs) {
    if (need === 'root') {
      if (!isRoot()) missing.push('root (network namespaces need it)');
    } else if (!hasTool(need)) {
      missing.push(need);
    }
  }
  if (missing.length === 0) return false;
  const message = `needs ${missing.join(', ')}; run .ci/install-deps as root to install the Debian packages`;
  if (inCI) throw new Error(`CI must not skip: ${message}`);
  return message;
}
