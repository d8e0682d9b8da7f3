// The Debian tools `assets` uses (xorriso, zstd, gzip, tar), found on PATH and run without a shell.
// Output streams to files or pipes: nothing here holds a whole image in memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { AssetError } from './errors.ts';

/** Command → the Debian package that provides it. */
export const TOOL_PACKAGES: Record<string, string> = {
  xorriso: 'xorriso',
  zstd: 'zstd',
  gzip: 'gzip',
  tar: 'tar',
};

export function findOnPath(command: string, path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Throws an exit-2 error naming the Debian package when a tool is missing. */
export function requireTools(commands: string[]): void {
  const missing = commands.filter((c) => !findOnPath(c));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((c) => TOOL_PACKAGES[c] ?? c))];
  throw new AssetError(
    `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not installed (not found on PATH): install ${packages.length === 1 ? 'the Debian package' : 'the Debian packages'} with: apt-get install ${packages.join(' ')}`,
    2,
  );
}

/** Children still running, ended (by pid) when the user interrupts. */
const running = new Set<ChildProcess>();

export function stopRunningTools(): void {
  for (const child of running) {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class ToolFailed extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (${code === null ? 'killed' : `exit ${code}`}): ${lastLines(stderr)}`);
  }
}

function lastLines(text: string, n = 4): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ') || '(no message)';
}

function track(child: ChildProcess): void {
  running.add(child);
  child.on('exit', () => running.delete(child));
}

/** Runs a command; stdout collected (small listings only) unless written to `stdoutFile`. */
export function runTool(command: string, args: string[], options: { stdoutFile?: string; maxStdout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    const max = options.maxStdout ?? 4 * 1024 * 1024;
    if (options.stdoutFile) {
      const out = createWriteStream(options.stdoutFile);
      child.stdout.pipe(out);
      out.on('error', (err) => {
        child.kill('SIGTERM');
        reject(err);
      });
    } else {
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        if (stdout.length < max) stdout += d;
      });
    }
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-16384);
    });
    child.on('error', (err) => reject(err));
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new ToolFailed(command, code, stderr));
    });
  });
}

/**
 * `first | second > outFile` (e.g. zstd -dc | gzip -c) in bash with pipefail: the data never
 * passes through Node (measured: piping it through Node streams added ~30 MB of RSS), and a
 * failure of either side fails the whole.
 */
export async function runPipe(first: [string, string[]], second: [string, string[]], outFile: string): Promise<void> {
  const quoted = (argv: string[]): string => argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `${quoted([first[0], ...first[1]])} | ${quoted([second[0], ...second[1]])} > ${quoted([outFile])}`;
  await runTool('bash', ['-o', 'pipefail', '-c', script]);
}
