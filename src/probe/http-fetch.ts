// HTTP GET as iPXE does it, from the machine's leased address. Bodies are counted as they
// stream; only small ones (scripts) are kept as text, never a kernel or an initrd.
import http from 'node:http';

export interface HttpFetchOptions {
  localAddress?: string;
  /** Keep at most this many bytes of the body as text (0: keep none). */
  keepBytes?: number;
  /** No byte for this long: give up. */
  idleTimeoutMs?: number;
}

export type HttpFetchResult = { ok: true; status: number; bytes: number; text: string } | { ok: false; reason: string; status?: number; bytes: number };

export function httpFetch(url: string, options: HttpFetchOptions = {}): Promise<HttpFetchResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve({ ok: false, reason: `${JSON.stringify(url)} is not a URL`, bytes: 0 });
  }
  if (target.protocol !== 'http:')
    return Promise.resolve({ ok: false, reason: `${target.protocol} URLs are not supported by the probe (only http:)`, bytes: 0 });
  const keep = options.keepBytes ?? 0;
  return new Promise((resolve) => {
    let bytes = 0;
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let settled = false;
    const settle = (result: HttpFetchResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    // agent: false: one connection per request, as each machine has its own.
    const request = http.get(target, { agent: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}) }, (response) => {
      const status = response.statusCode ?? 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (keptBytes < keep) {
          kept.push(chunk.subarray(0, keep - keptBytes));
          keptBytes += Math.min(chunk.length, keep - keptBytes);
        }
      });
      response.on('end', () => {
        const text = Buffer.concat(kept).toString('utf8');
        if (status >= 200 && status < 300) settle({ ok: true, status, bytes, text });
        else settle({ ok: false, status, bytes, reason: `HTTP ${status} from ${target.host}${text ? `: ${text.trim().split('\n')[0]!.slice(0, 200)}` : ''}` });
      });
      response.on('error', (err) =>
        settle({ ok: false, status, bytes, reason: `the response from ${target.host} broke off after ${bytes} bytes: ${err.message}` }),
      );
    });
    request.setTimeout(options.idleTimeoutMs ?? 30_000, () => request.destroy(new Error(`no data for ${options.idleTimeoutMs ?? 30_000} ms`)));
    request.on('error', (err) => settle({ ok: false, bytes, reason: `GET ${url}: ${err.message}` }));
  });
}
