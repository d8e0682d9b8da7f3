// The words an operator reads for one transfer: "ipxe.efi 1.0 MB in 0.4 s, blksize 1468, window 1, 0 retransmits".
import type { TransferEnd } from './transfer.ts';

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(2)} GB`;
}

export function describeTransfer(file: string, end: TransferEnd, params: { blksize: number; windowsize: number }): string {
  const figures = `blksize ${params.blksize}, window ${params.windowsize}, ${end.retransmits} retransmit${end.retransmits === 1 ? '' : 's'}`;
  const took = `${(end.ms / 1000).toFixed(1)} s`;
  if (end.outcome === 'served') return `${file} ${formatBytes(end.bytes)} in ${took}, ${figures}`;
  if (end.outcome === 'size-asked') return `${file}: ${end.reason}`;
  return `${file}: ${end.reason} after ${formatBytes(end.bytes)} in ${took}, ${figures}`;
}
