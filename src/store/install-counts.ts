// Installs consumed and completed over the kept history: what both stores report to metrics.
import type { InstallRecord } from '../boot/ports.ts';

export function countInstalls(histories: Iterable<readonly InstallRecord[]>): { consumed: number; completed: number } {
  let consumed = 0;
  let completed = 0;
  for (const list of histories) {
    for (const i of list) {
      if (i.consumedAt !== null) consumed++;
      if (i.installedAt !== null) completed++;
    }
  }
  return { consumed, completed };
}
