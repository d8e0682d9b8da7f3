// The leased address on the probe's interface, so TFTP and HTTP leave from it as they would
// from the machine. Added with `ip`, removed afterwards unless it was there before.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface AddressHandle {
  /** True when the probe added it (and so removes it). */
  added: boolean;
  remove(): Promise<void>;
}

export async function takeAddress(interfaceName: string, ip: string, prefixLength: number): Promise<AddressHandle> {
  const cidr = `${ip}/${prefixLength}`;
  try {
    await run('ip', ['-4', 'addr', 'add', cidr, 'dev', interfaceName]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    if (/File exists|already assigned/.test(stderr)) return { added: false, remove: async () => undefined };
    throw new Error(`could not put ${cidr} on ${interfaceName}: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
  return {
    added: true,
    remove: async () => {
      await run('ip', ['-4', 'addr', 'del', cidr, 'dev', interfaceName]).catch(() => undefined);
    },
  };
}

/**
 * For many machines in one process that keep their addresses (a bench whose namespace is
 * deleted afterwards): requests made within a few ms go to one `ip -batch` run, not one `ip`
 * process each, which under load took seconds and showed up as DHCP time. `replace` is
 * idempotent, so an address already there is no error.
 */
export class AddressBatcher {
  private pending: { line: string; done: (err?: Error) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly delayMs = 5) {}

  take(interfaceName: string, ip: string, prefixLength: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `addr replace ${ip}/${prefixLength} dev ${interfaceName}`, done: (err) => (err ? reject(err) : resolve()) });
      this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.timer = null;
    const child = execFile('ip', ['-4', '-batch', '-'], (err, _stdout, stderr) => {
      const failure = err ? new Error(`ip -batch: ${String(stderr).trim() || err.message}`) : undefined;
      for (const request of batch) request.done(failure);
    });
    child.stdin?.end(batch.map((r) => r.line).join('\n') + '\n');
  }
}
