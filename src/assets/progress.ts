// Progress for long steps: a redrawn bar on a terminal, one line per step otherwise (logs, CI).
import { statSync } from 'node:fs';

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export class Progress {
  private step = '';
  private total = 0;
  private lastDraw = 0;

  constructor(private readonly sink: ProgressSink = { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY === true }) {}

  /** Starts a step; `total` bytes when known (0 = unknown). */
  begin(step: string, total = 0): void {
    this.step = step;
    this.total = total;
    this.lastDraw = 0;
    if (!this.sink.isTTY) this.sink.write(`assets: ${step}${total ? ` (${formatBytes(total)})` : ''}\n`);
    else this.update(0);
  }

  update(done: number): void {
    if (!this.sink.isTTY) return;
    const now = Date.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const width = 30;
    if (this.total > 0) {
      const f = Math.min(1, done / this.total);
      const bar = '#'.repeat(Math.round(f * width)).padEnd(width, '.');
      this.sink.write(`\r\x1b[K${this.step} [${bar}] ${Math.floor(f * 100)}% ${formatBytes(done)}/${formatBytes(this.total)}`);
    } else {
      this.sink.write(`\r\x1b[K${this.step} ${formatBytes(done)}`);
    }
  }

  end(note = ''): void {
    if (this.sink.isTTY) this.sink.write(`\r\x1b[K${this.step}: done${note ? ` (${note})` : ''}\n`);
    else if (note) this.sink.write(`assets: ${this.step}: ${note}\n`);
  }

  /** Runs `work` while polling the size of `file` against `total`: progress for tools that write a file. */
  async watchFile<T>(step: string, file: string, total: number, work: () => Promise<T>): Promise<T> {
    this.begin(step, total);
    const timer = setInterval(() => {
      try {
        this.update(statSync(file).size);
      } catch {
        // not created yet
      }
    }, 200);
    try {
      const result = await work();
      this.update(total);
      this.end();
      return result;
    } finally {
      clearInterval(timer);
    }
  }

  info(line: string): void {
    this.sink.write(`${this.sink.isTTY ? '' : 'assets: '}${line}\n`);
  }
}
