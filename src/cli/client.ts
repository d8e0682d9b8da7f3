// How the CLI reaches the running daemon's admin API: the address and token come from --url,
// PXE_PILOT_URL / PXE_PILOT_TOKEN, or the profile's [http] section (read loosely: only that section).
import { readFileSync } from 'node:fs';
import { parse } from 'ini';
import { CliError, EXIT_FAILED, EXIT_USAGE, UsageError } from './command.ts';

// Exit 1: the daemon could not be reached or refused us; exit 2: our input was wrong.

export interface Target {
  url: string;
  token: string | null;
  /** Where the address came from, for error messages. */
  source: string;
}

export function resolveTarget(options: { url?: string; config: string; configGiven: boolean }, env: NodeJS.ProcessEnv = process.env): Target {
  let fromConfig: { url: string; token: string | null } | null = null;
  let configProblem: string | null = null;
  try {
    const http = (parse(readFileSync(options.config, 'utf8')) as { http?: Record<string, unknown> }).http ?? {};
    const bind = typeof http.bind === 'string' && http.bind !== '' && http.bind !== '0.0.0.0' ? http.bind : '127.0.0.1';
    const port = http.port === undefined || http.port === '' ? 80 : Number(http.port);
    const token = typeof http.admin_token === 'string' && http.admin_token !== '' ? http.admin_token : null;
    fromConfig = { url: `http://${bind}${port === 80 ? '' : `:${port}`}`, token };
  } catch (err) {
    configProblem = `cannot read ${options.config}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  const envToken = env.PXE_PILOT_TOKEN && env.PXE_PILOT_TOKEN !== '' ? env.PXE_PILOT_TOKEN : null;
  const token = envToken ?? fromConfig?.token ?? null;
  const url = options.url ?? env.PXE_PILOT_URL;
  if (url) {
    if (!/^https?:\/\/[^/\s]+/.test(url))
      throw new UsageError(`${options.url ? '--url' : 'PXE_PILOT_URL'} ${JSON.stringify(url)} is not an http:// or https:// address`);
    return { url: url.replace(/\/+$/, ''), token, source: options.url ? '--url' : 'PXE_PILOT_URL' };
  }
  if (fromConfig) return { ...fromConfig, token, source: options.config };
  if (options.configGiven) throw new UsageError(`${configProblem}; give a readable --config, or --url`);
  return { url: 'http://127.0.0.1', token, source: `default (${configProblem})` };
}

export class AdminClient {
  constructor(readonly target: Target) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    // The native shapes also where [http] legacy_api serves an earlier API on the same paths.
    return {
      accept: 'application/json',
      'x-pxe-pilot-api': 'native',
      ...(this.target.token ? { authorization: `Bearer ${this.target.token}` } : {}),
      ...extra,
    };
  }

  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const url = `${this.target.url}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(path.startsWith('/events/stream') ? 2_147_483_647 : 15_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        `the daemon is unreachable at ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}); address from ${this.target.source}. Is it running? Set --url or PXE_PILOT_URL to reach another.`,
        EXIT_FAILED,
        { cause: err },
      );
    }
    if (!res.ok) {
      const text = await res.text();
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? message;
      } catch {
        // plain text answer
      }
      if (res.status === 401 || res.status === 403)
        throw new CliError(
          `the daemon at ${this.target.url} refused: ${message} (token from ${this.target.token ? 'PXE_PILOT_TOKEN or [http] admin_token' : 'nowhere: set PXE_PILOT_TOKEN'})`,
        );
      if (res.status === 400 || res.status === 404) throw new CliError(message, EXIT_USAGE);
      throw new CliError(`the daemon at ${this.target.url} answered ${res.status}: ${message}`);
    }
    return res;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }
}
