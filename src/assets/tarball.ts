// Netboot tarballs (netboot.tar.gz) through GNU tar: list and extract single members to files.
import { badInput } from './errors.ts';
import { runTool, ToolFailed } from './tools.ts';

export async function listTar(file: string): Promise<string[]> {
  try {
    const { stdout } = await runTool('tar', ['-tf', file], { maxStdout: 64 * 1024 * 1024 });
    return stdout.split('\n').filter(Boolean);
  } catch (err) {
    if (err instanceof ToolFailed) throw badInput(`${file} is not a readable tar archive (truncated download?): ${err.message}`);
    throw err;
  }
}

/** One member's bytes into `to`, streamed. */
export async function extractTarMember(file: string, member: string, to: string): Promise<void> {
  try {
    await runTool('tar', ['-xOf', file, member], { stdoutFile: to });
  } catch (err) {
    if (err instanceof ToolFailed) throw badInput(`extracting ${member} from ${file} failed (truncated download?): ${err.message}`);
    throw err;
  }
}

/** The member whose path ends with `suffix` (leading ./ ignored), or undefined. */
export function findMember(members: string[], suffix: string): string | undefined {
  return members.find((m) => m.replace(/^\.\//, '') === suffix || m.endsWith('/' + suffix));
}
