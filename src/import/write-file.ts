// Writing an import's output: whole or not at all, and never over a file that is there unless
// asked. The text goes to a temporary file beside the target, is flushed, then linked into place
// (link fails when the target exists) or, with --force, renamed over it.
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class FileExistsError extends Error {
  override name = 'FileExistsError';
}

export function writeFileAtomically(target: string, content: string | Buffer, options: { force: boolean; mode?: number }): void {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, 'wx', options.mode ?? 0o644);
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content, 'utf8') : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (options.force) renameSync(temp, target);
    else {
      try {
        linkSync(temp, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(`${target} exists; give --force to replace it`);
        throw err;
      }
      unlinkSync(temp);
    }
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or gone
    }
    throw err;
  }
}
