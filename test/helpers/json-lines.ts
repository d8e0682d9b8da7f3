// A child process that speaks JSON lines (the helper programs beside this file: device-socket,
// dgram-peer, pxe-client, run-dhcp-service): collects what it prints,
// waits for a line matching a predicate, and writes commands to its stdin.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './netns.ts';

export type JsonLine = Record<string, unknown>;

export const helperPath = (name: string): string => fileURLToPath(new URL(`./${name}`, import.meta.url));

/** argv that runs a TypeScript file with this same node and tsx. */
export function tsxArgv(file: string, ...args: string[]): string[] {
  return [process.execPath, '--import', 'tsx', file, ...args];
}

/** argv that runs one of the helper programs in test/helpers. */
export function helperArgv(name: string, ...args: string[]): string[] {
  return tsxArgv(helperPath(name), ...args);
}

export class JsonLineChild {
  readonly lines: JsonLine[] = [];
  private stderr = '';

  constructor(readonly child: ChildProcess) {
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          this.lines.push(JSON.parse(line) as JsonLine);
        } catch {
          this.lines.push({ text: line });
        }
      });
    }
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
  }

  /** Lines carrying `key`, their value. */
  values<T = Record<string, unknown>>(key: string): T[] {
    return this.lines.filter((l) => key in l).map((l) => l[key] as T);
  }

  async waitFor<T = Record<string, unknown>>(key: string, predicate: (value: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
    let found: T | undefined;
    await waitFor(
      `a '${key}' line (stderr so far: ${this.stderr.slice(-500)})`,
      () => {
        found = this.values<T>(key).find(predicate);
        return found !== undefined || this.child.exitCode !== null;
      },
      timeoutMs,
    );
    if (found === undefined)
      throw new Error(
        `child exited (${this.child.exitCode}) before a '${key}' line; stderr: ${this.stderr.slice(-1000)}; stdout: ${JSON.stringify(this.lines)}`,
      );
    return found;
  }

  send(command: JsonLine): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }
}
