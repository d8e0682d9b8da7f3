// Option negotiation for read requests (RFC 2347 blksize/tsize/timeout per RFC 2348/2349, windowsize per RFC 7440).
// Pure: the request's options and our limits in, the transfer parameters and the OACK list out.
import { MAX_BLKSIZE, type RequestOption } from './packet.ts';

export const DEFAULT_BLKSIZE = 512;
export const MIN_BLKSIZE = 8;
export const MAX_WINDOWSIZE = 65535;

export interface NegotiationLimits {
  maxBlksize: number;
  maxWindowsize: number;
}

export interface TransferParameters {
  blksize: number;
  windowsize: number;
  /** Seconds between retransmissions, when the client asked for one. */
  timeout: number | null;
  /** Options to acknowledge, in the client's order; empty = no OACK, start with DATA 1. */
  oack: RequestOption[];
  /** Options we did not take, with why, for the log. */
  ignored: string[];
}

export type Negotiation = { ok: true; params: TransferParameters } | { ok: false; reason: string };

/** Decimal digits only, at most 10 of them: anything else is an absurd value, not a number. */
function parseCount(value: string): number | null {
  return /^[0-9]{1,10}$/.test(value) ? Number(value) : null;
}

export function negotiate(options: RequestOption[], fileSize: number, limits: NegotiationLimits): Negotiation {
  const params: TransferParameters = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeout: null, oack: [], ignored: [] };
  const seen = new Set<string>();
  const maxBlksize = Math.max(MIN_BLKSIZE, Math.min(MAX_BLKSIZE, limits.maxBlksize));
  const maxWindowsize = Math.max(1, Math.min(MAX_WINDOWSIZE, limits.maxWindowsize));
  for (const { name, value } of options) {
    if (seen.has(name)) {
      params.ignored.push(`${name} given twice (first kept)`);
      continue;
    }
    seen.add(name);
    const n = parseCount(value);
    switch (name) {
      case 'blksize':
        if (n === null || n < MIN_BLKSIZE) return { ok: false, reason: `blksize ${JSON.stringify(value)} is not a number ≥ ${MIN_BLKSIZE}` };
        params.blksize = Math.min(n, maxBlksize);
        params.oack.push({ name, value: String(params.blksize) });
        break;
      case 'windowsize':
        if (n === null || n < 1) return { ok: false, reason: `windowsize ${JSON.stringify(value)} is not a number ≥ 1` };
        params.windowsize = Math.min(n, maxWindowsize);
        params.oack.push({ name, value: String(params.windowsize) });
        break;
      case 'timeout':
        // RFC 2349: 1–255 seconds, and the server may not change it, only accept or ignore it.
        if (n === null || n < 1 || n > 255) return { ok: false, reason: `timeout ${JSON.stringify(value)} is not 1–255 seconds` };
        params.timeout = n;
        params.oack.push({ name, value: String(n) });
        break;
      case 'tsize':
        // In a read request the client sends 0 and we answer with the size.
        if (n === null) return { ok: false, reason: `tsize ${JSON.stringify(value)} is not a number` };
        params.oack.push({ name, value: String(fileSize) });
        break;
      default:
        params.ignored.push(`unknown option ${name.slice(0, 32)}`);
    }
  }
  return { ok: true, params };
}
