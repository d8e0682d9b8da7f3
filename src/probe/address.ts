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
    throw new Error(`could not put ${cidr} on ${interfaceName}: ${stderr.trim() || (err as Error).message}`);
  }
  return {
    added: true,
    remove: async () => {
      await run('ip', ['-4', 'addr', 'del', cidr, 'dev', interfaceName]).catch(() => undefined);
    },
  };
}
