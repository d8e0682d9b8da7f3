// Human output for the CLI: aligned tables, relative times, colour only on a terminal.

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  state(state: string): string;
}

const plain: Style = { bold: (s) => s, dim: (s) => s, state: (s) => s };

const STATE_COLOURS: Record<string, number> = {
  installed: 32,
  installing: 33,
  'install-pending': 36,
  'deploy-failed': 31,
  'wipe-pending': 35,
  wiping: 35,
  seen: 37,
  served: 32,
  error: 31,
  silence: 90,
  refuse: 31,
};

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (!stream.isTTY || env.NO_COLOR) return plain;
  const sgr = (code: number, s: string): string => `\x1b[${code}m${s}\x1b[0m`;
  return { bold: (s) => sgr(1, s), dim: (s) => sgr(2, s), state: (s) => (STATE_COLOURS[s] ? sgr(STATE_COLOURS[s], s) : s) };
}

const SGR = /\x1b\[[0-9;]*m/g;
const visibleLength = (s: string): number => s.replace(SGR, '').length;

/** Columns padded to the widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][], style: Style = plain): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c))))
      .join('  ')
      .trimEnd();
  return [style.bold(line(headers)), ...rows.map(line)].join('\n') + '\n';
}

/** "12 s ago", "3 min ago", "in 2 h", "5 d ago"; '-' for no time. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const delta = Math.round((now - t) / 1000);
  const abs = Math.abs(delta);
  const amount =
    abs < 60 ? `${abs} s` : abs < 3600 ? `${Math.floor(abs / 60)} min` : abs < 86_400 ? `${Math.floor(abs / 3600)} h` : `${Math.floor(abs / 86_400)} d`;
  return delta >= 0 ? `${amount} ago` : `in ${amount}`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}
