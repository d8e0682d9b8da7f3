// http(s) sources: downloaded into <assets dir>/.downloads/ (hidden from the catalogue) with
// progress, resumed with Range after an interruption, and checked against a SHA-256 before
// anything is extracted. A mismatch deletes the download.
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { AssetError, badInput } from './errors.ts';
import { hashFile, parseSha256Sums } from './manifest.ts';
import { Progress, formatBytes } from './progress.ts';

export interface DownloadRequest {
  url: string;
  /** Folder for the download; created when missing. */
  dir: string;
  sha256?: string | undefined;
  sha256sumsUrl?: string | undefined;
  progress: Progress;
}

const MAX_REDIRECTS = 5;

function parseUrl(raw: string, what: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badInput(`${what} ${JSON.stringify(raw)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badInput(`${what} must be http:// or https://, not ${u.protocol}`);
  return u;
}

/** The file name a URL downloads to: its last path segment, made safe. */
export function downloadName(u: URL): string {
  const last = decodeURIComponent(u.pathname.split('/').filter(Boolean).pop() ?? '');
  const safe = last.replace(/[^A-Za-z0-9._+-]/g, '_').replace(/^[._]+/, '');
  if (!safe) throw badInput(`${u.href} does not end in a file name`);
  return safe;
}

function request(u: URL, headers: Record<string, string>, redirects = 0): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = u.protocol === 'https:' ? httpsGet : httpGet;
    const req = get(u, { headers: { 'User-Agent': 'pxe-pilot-assets', ...headers } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirects >= MAX_REDIRECTS) return reject(new AssetError(`${u.href}: more than ${MAX_REDIRECTS} redirects`, 1));
        return resolve(request(new URL(res.headers.location, u), headers, redirects + 1));
      }
      resolve(res);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no data from ${u.host} for 30 s`)));
    req.on('error', (err) => reject(new AssetError(`cannot download ${u.href}: ${err.message}`, 1)));
  });
}

async function fetchSmallText(u: URL): Promise<string> {
  const res = await request(u, {});
  if (res.statusCode !== 200) {
    res.resume();
    throw badInput(`${u.href} answered HTTP ${res.statusCode}`);
  }
  let text = '';
  for await (const chunk of res) {
    text += String(chunk);
    if (text.length > 1024 * 1024) throw badInput(`${u.href} is larger than 1 MiB: not a SHA256SUMS file`);
  }
  return text;
}

/** The expected SHA-256 of `name`, from --sha256 or the SHA256SUMS file at --sha256sums. */
async function expectedSha256(req: DownloadRequest, name: string): Promise<string> {
  if (req.sha256) {
    if (!/^[0-9a-fA-F]{64}$/.test(req.sha256)) throw badInput('--sha256 must be 64 hex digits');
    return req.sha256.toLowerCase();
  }
  if (!req.sha256sumsUrl)
    throw badInput('a download must be checked before use: give --sha256 HEX or --sha256sums URL (the SHA256SUMS file published beside the image)');
  const { entries } = parseSha256Sums(await fetchSmallText(parseUrl(req.sha256sumsUrl, '--sha256sums')));
  const hit = entries.find((e) => e.path === name || e.path.split('/').pop() === name);
  if (!hit) throw badInput(`${req.sha256sumsUrl} lists no ${name}`);
  return hit.sha256;
}

/** Downloads (or resumes) the file and returns its local path once its SHA-256 matches. */
export async function download(req: DownloadRequest): Promise<string> {
  const u = parseUrl(req.url, 'the source');
  const name = downloadName(u);
  const expected = await expectedSha256(req, name);
  await mkdir(req.dir, { recursive: true });
  const final = join(req.dir, name);
  const partial = `${final}.partial`;
  if (!existsSync(final)) {
    await fetchInto(u, partial, req.progress);
    await rename(partial, final);
  }
  const size = (await stat(final)).size;
  req.progress.begin(`checking the SHA-256 of ${name}`, size);
  const actual = await hashFile(final, (n) => req.progress.update(n));
  req.progress.end();
  if (actual !== expected) {
    await rm(final, { force: true });
    throw badInput(
      `${name}: checksum mismatch (expected ${expected}, the download has ${actual}); the download was deleted. Check the URL and checksum, then run the command again`,
    );
  }
  return final;
}

async function fetchInto(u: URL, partial: string, progress: Progress): Promise<void> {
  const have = existsSync(partial) ? (await stat(partial)).size : 0;
  const res = await request(u, have > 0 ? { Range: `bytes=${have}-` } : {});
  const status = res.statusCode ?? 0;
  let offset = 0;
  if (status === 206 && have > 0) {
    const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
    if (!m || Number(m[1]) !== have) {
      res.resume();
      await rm(partial, { force: true });
      return fetchInto(u, partial, progress);
    }
    offset = have;
  } else if (status === 416 && have > 0) {
    // The range starts at the end: what we have is everything (the checksum decides).
    res.resume();
    return;
  } else if (status !== 200) {
    res.resume();
    throw badInput(`${u.href} answered HTTP ${status}`);
  }
  const length = Number(res.headers['content-length'] ?? 0);
  const total = length > 0 ? offset + length : 0;
  progress.begin(`downloading ${u.href}${offset ? ` (resuming at ${formatBytes(offset)})` : ''}`, total);
  const out = createWriteStream(partial, { flags: offset ? 'a' : 'w' });
  let done = offset;
  try {
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: Buffer) => {
        done += chunk.length;
        progress.update(done);
      });
      res.on('aborted', () => reject(new Error('the connection closed early')));
      res.on('error', reject);
      out.on('error', reject);
      out.on('finish', () => resolve());
      res.pipe(out);
    });
  } catch (err) {
    out.destroy();
    throw new AssetError(
      `download interrupted at ${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''} (${(err as Error).message}): run the same command again to resume`,
      1,
    );
  }
  if (total && done < total)
    throw new AssetError(`download interrupted at ${formatBytes(done)} of ${formatBytes(total)}: run the same command again to resume`, 1);
  progress.end(formatBytes(done));
}
