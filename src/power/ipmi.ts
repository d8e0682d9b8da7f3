// IPMI over LAN through ipmitool (lanplus, RMCP+). The password goes through the environment
// (IPMI_PASSWORD with -E), never on the command line where ps would show it. Each call is a
// child process killed by its pid when the call's signal aborts (the timeout).
import { spawn } from 'node:child_process';
import type { IpmiPrivilege, IpmiTarget } from './bmc-url.ts';
import type { Credentials } from './credentials.ts';
import { PowerError, type BootFirmware, type PowerChange, type PowerDriver, type PowerState } from './driver.ts';

export interface IpmiOptions {
  target: IpmiTarget;
  cipherSuite: number;
  privilege: IpmiPrivilege;
  /** Read per call, so a fixed credentials file takes effect without a restart. */
  credentials: () => Credentials;
  /** The ipmitool program (tests may point at another). */
  program?: string;
}

const CHANGE_WORD: Record<PowerChange, string> = { on: 'on', off: 'off', cycle: 'cycle', reset: 'reset' };

/** ipmitool's words (with -v) for a refused user or password: RAKP 2 fails its HMAC or names an error. */
const WRONG_CREDENTIALS = /RAKP 2 HMAC is invalid|unauthorized name|invalid integrity check value|RAKP \d message indicates an error|Invalid user name/i;
const NO_ANSWER = /Get Auth Capabilities error|No response from remote controller|Get Channel Cipher Suites/i;

/** The failure ipmitool's output says, for a non-zero exit. Pure: tested on its messages. */
export function classifyIpmitool(output: string): { failure: 'wrong-credentials' | 'unreachable' | 'refused'; message: string } {
  if (WRONG_CREDENTIALS.test(output)) return { failure: 'wrong-credentials', message: 'wrong credentials: the BMC refused the user name or password' };
  if (NO_ANSWER.test(output)) return { failure: 'unreachable', message: 'the BMC does not answer' };
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Loading IANA|HPM\.x|^>/.test(l))
    .pop();
  return { failure: 'refused', message: line ? `ipmitool: ${line}` : 'ipmitool failed without a message' };
}

export class IpmiDriver implements PowerDriver {
  readonly describe: string;
  constructor(private readonly options: IpmiOptions) {
    this.describe = `ipmi://${options.target.host}${options.target.portGiven ? `:${options.target.port}` : ''}`;
  }

  private run(args: string[], signal: AbortSignal): Promise<string> {
    const { target, cipherSuite, privilege } = this.options;
    const { username, password } = this.options.credentials();
    const argv = ['-v', '-I', 'lanplus', '-H', target.host, '-p', String(target.port), '-U', username, '-E', '-C', String(cipherSuite), '-L', privilege];
    // Fewer, shorter retries than ipmitool's own; the call's timeout bounds the whole anyway.
    argv.push('-N', '2', '-R', '2', ...args);
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new PowerError('unreachable', 'the BMC does not answer'));
      const child = spawn(this.options.program ?? 'ipmitool', argv, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', IPMI_PASSWORD: password },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
      const onAbort = (): void => {
        if (child.pid === undefined || child.exitCode !== null) return;
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* it ended meanwhile */
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(new PowerError('refused', `ipmitool cannot run: ${err.message}`));
      });
      child.on('close', (code) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) return reject(new PowerError('unreachable', 'the BMC does not answer'));
        if (code === 0) return resolve(out);
        const classified = classifyIpmitool(out);
        reject(new PowerError(classified.failure, classified.message));
      });
    });
  }

  async status(signal: AbortSignal): Promise<PowerState> {
    const out = await this.run(['chassis', 'power', 'status'], signal);
    const m = /Chassis Power is (on|off)/i.exec(out);
    return m ? (m[1]!.toLowerCase() as PowerState) : 'unknown';
  }

  async change(action: PowerChange, signal: AbortSignal): Promise<void> {
    await this.run(['chassis', 'power', CHANGE_WORD[action]], signal);
  }

  async bootFromNetwork(firmware: BootFirmware, signal: AbortSignal): Promise<string> {
    // Without options, the override is for the next boot only (IPMI's default), as MAAS sets it.
    const args = firmware === 'uefi' ? ['chassis', 'bootdev', 'pxe', 'options=efiboot'] : ['chassis', 'bootdev', 'pxe'];
    await this.run(args, signal);
    return firmware === 'uefi' ? 'next boot from the network, once (UEFI)' : 'next boot from the network, once';
  }
}
