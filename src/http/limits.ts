// Bounds on what one client address can cost the HTTP service, applied before Koa sees a
// request: a token bucket per address (429 + Retry-After), a lock-out after repeated failed
// tokens (brute force on the admin API or answer token), and a cap on open connections per
// address and in total (a slowloris from one host must not stop the rest of the rack booting).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isLoopback, unmappedAddress } from '../net/address.ts';

export interface LimitSettings {
  /** Requests a client may burst. A machine's whole boot (scripts, kernel, initrds, answer) is ~10–20. */
  burst: number;
  /** Tokens added per second per address. */
  perSecond: number;
  /** Failed tokens (401) from one address before it is locked out of authenticated requests. */
  authFailures: number;
  /** How long a lock-out lasts, and the window failures are counted in. */
  authLockoutMs: number;
  /** Open connections per client address. */
  connectionsPerAddress: number;
  /** Open connections in total. */
  connections: number;
  /** The host's own tools (loopback) are not limited; tests switch this off. */
  exemptLoopback: boolean;
  /** Buckets kept at most (oldest dropped first): memory stays bounded under address spoofing. */
  maxTracked: number;
}

/**
 * Sized per address, so a rack of 1,000 machines booting at once (1,000 addresses, ~20 requests
 * each over a minute or more) never meets them; one address sending 50 requests a second after
 * a burst of 200 does.
 */
export const DEFAULT_LIMITS: LimitSettings = {
  burst: 200,
  perSecond: 50,
  authFailures: 10,
  authLockoutMs: 60_000,
  connectionsPerAddress: 64,
  connections: 10_000,
  exemptLoopback: true,
  maxTracked: 50_000,
};

interface Bucket {
  tokens: number;
  at: number;
}

interface Failures {
  count: number;
  since: number;
}

/** The peer's address, IPv4-mapped IPv6 unwrapped. */
export function peerAddress(socket: Socket): string {
  return unmappedAddress(socket.remoteAddress ?? '');
}

export type Verdict = { ok: true } | { ok: false; status: 429; retryAfter: number; message: string };

/** The bookkeeping, with the clock passed in (pure apart from its own maps). */
export class ClientLimits {
  readonly settings: LimitSettings;
  private readonly buckets = new Map<string, Bucket>();
  private readonly failures = new Map<string, Failures>();
  private readonly open = new Map<string, number>();
  private total = 0;

  constructor(settings: Partial<LimitSettings> = {}) {
    this.settings = { ...DEFAULT_LIMITS, ...settings };
  }

  private exempt(address: string): boolean {
    return this.settings.exemptLoopback && isLoopback(address);
  }

  /** Whether a new connection from `address` may stay open; call `closed` when it ends. */
  connectionOpened(address: string): boolean {
    if (this.exempt(address)) return true;
    const n = this.open.get(address) ?? 0;
    if (n >= this.settings.connectionsPerAddress || this.total >= this.settings.connections) return false;
    this.open.set(address, n + 1);
    this.total += 1;
    return true;
  }

  connectionClosed(address: string): void {
    if (this.exempt(address)) return;
    const n = this.open.get(address) ?? 0;
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
    if (n > 0) this.total -= 1;
  }

  openConnections(address?: string): number {
    return address === undefined ? this.total : (this.open.get(address) ?? 0);
  }

  /** One request: takes a token, or says how long to wait. `authenticated` = it carries a token. */
  request(address: string, authenticated: boolean, now: number): Verdict {
    if (this.exempt(address)) return { ok: true };
    if (authenticated) {
      const f = this.failures.get(address);
      if (f && f.count >= this.settings.authFailures && now - f.since < this.settings.authLockoutMs) {
        const retryAfter = Math.max(1, Math.ceil((f.since + this.settings.authLockoutMs - now) / 1000));
        return { ok: false, status: 429, retryAfter, message: `too many failed tokens from ${address}: try again in ${retryAfter} s` };
      }
    }
    const { burst, perSecond } = this.settings;
    let b = this.buckets.get(address);
    if (b) {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
      b.at = now;
      // Re-insert: Map order is then least recently used first, which is what eviction drops.
      this.buckets.delete(address);
    } else {
      b = { tokens: burst, at: now };
      this.evictIfFull(this.buckets);
    }
    this.buckets.set(address, b);
    if (b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
      return {
        ok: false,
        status: 429,
        retryAfter,
        message: `too many requests from ${address} (more than ${perSecond}/s after a burst of ${burst}): try again in ${retryAfter} s`,
      };
    }
    b.tokens -= 1;
    return { ok: true };
  }

  /** A request with a token was answered 401. */
  authFailed(address: string, now: number): void {
    if (this.exempt(address)) return;
    const f = this.failures.get(address);
    if (!f || now - f.since >= this.settings.authLockoutMs) {
      this.evictIfFull(this.failures);
      this.failures.set(address, { count: 1, since: now });
    } else {
      f.count += 1;
    }
  }

  private evictIfFull<T>(map: Map<string, T>): void {
    if (map.size < this.settings.maxTracked) return;
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }

  get tracked(): number {
    return this.buckets.size + this.failures.size;
  }
}

function carriesToken(req: IncomingMessage): boolean {
  return req.headers.authorization !== undefined || /[?&]token=/.test(req.url ?? '');
}

/**
 * Wraps a request handler (Koa's callback): a limited request gets 429 with Retry-After and a
 * text reason, and never reaches the routes; 401s are counted for the lock-out.
 */
export function limitRequests(limits: ClientLimits, handler: (req: IncomingMessage, res: ServerResponse) => void, now: () => number = Date.now) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const address = peerAddress(req.socket);
    const authenticated = carriesToken(req);
    const verdict = limits.request(address, authenticated, now());
    if (!verdict.ok) {
      res.writeHead(verdict.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': String(verdict.retryAfter), Connection: 'close' });
      res.end(`${verdict.message}\n`);
      return;
    }
    if (authenticated) res.once('finish', () => res.statusCode === 401 && limits.authFailed(address, now()));
    handler(req, res);
  };
}

/** Per-address and total connection caps: a connection over the cap is closed at once. */
export function capConnections(limits: ClientLimits) {
  return (socket: Socket): void => {
    const address = peerAddress(socket);
    if (!limits.connectionOpened(address)) {
      socket.destroy();
      return;
    }
    socket.once('close', () => limits.connectionClosed(address));
  };
}
