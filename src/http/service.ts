// The HTTP service: one Koa app on [http] bind:port and, when a certificate is loaded, on
// [https] port too (same routes; answers refuse the plain listener when [answers] require_tls).
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Profile } from '../config/profile.ts';
import { BindError, type Binding, type Service } from '../service.ts';
import { createHttpApp } from './app.ts';
import type { HttpDeps } from './context.ts';
import type { TlsMaterial } from './tls.ts';
import { capConnections, ClientLimits, limitRequests, type LimitSettings } from './limits.ts';
import { sendFileUnavailable } from './file-send.ts';
import { listenAddress } from '../config/values.ts';

export interface HttpServiceDeps extends Omit<HttpDeps, 'profile'> {
  profile: Profile;
  /** The certificate to serve HTTPS with; null = HTTP only. Read at start and on reload. */
  tls?: () => TlsMaterial | null;
  /** Per-address request and connection limits (tests tighten them and stop exempting loopback). */
  limits?: Partial<LimitSettings>;
}

/** Request headers larger than this get 431: iPXE and installers send a few hundred bytes. */
export const MAX_HEADER_BYTES = 16 * 1024;

function listen(server: Server | TlsServer, bind: string, port: number, service: string, key: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new BindError(service, 'tcp', bind, port, err.code ?? 'error', key));
    server.once('error', onError);
    server.listen(port, bind, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function portOf(server: Server | TlsServer | null): number | null {
  return (server?.address() as AddressInfo | null)?.port ?? null;
}

export class HttpService implements Service {
  readonly name = 'http';
  private server: Server | null = null;
  private secure: TlsServer | null = null;
  /** [http] also_listen: more plain listeners with the same routes. */
  private extra: { server: Server; address: string }[] = [];
  private profile: Profile;
  /** Shared by both listeners: a client's budget is the same over HTTP and HTTPS. */
  readonly limits: ClientLimits;

  constructor(private readonly deps: HttpServiceDeps) {
    this.profile = deps.profile;
    this.limits = new ClientLimits(deps.limits);
  }

  get port(): number {
    return portOf(this.server) ?? this.profile.http.port;
  }

  /** The HTTPS port in use, or null when HTTPS is off. */
  get securePort(): number | null {
    return portOf(this.secure);
  }

  async start(): Promise<void> {
    const app = createHttpApp({ ...this.deps, profile: () => this.profile });
    // Koa's callback catches its own errors (the app's error middleware answers them); the promise it returns needs no handler here.
    const callback = app.callback();
    const noSendfile = sendFileUnavailable();
    if (noSendfile) this.deps.logger.warn({ reason: noSendfile }, 'asset downloads are streamed: sendfile is unavailable');
    const handler = limitRequests(this.limits, (req, res) => void callback(req, res));
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler);
    this.harden(server);
    const { bind, port } = this.profile.http;
    await listen(server, bind, port, 'http', '[http] port');
    this.server = server;
    for (const item of this.profile.http.alsoListen) {
      const at = listenAddress(item, bind);
      const another = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, handler);
      this.harden(another);
      try {
        await listen(another, at.address, at.port, 'http', '[http] also_listen');
      } catch (err) {
        await this.stop();
        throw err;
      }
      this.extra.push({ server: another, address: at.address });
    }
    const material = this.profile.https.enabled ? (this.deps.tls?.() ?? null) : null;
    if (!material) return;
    const secure = createTlsServer({ cert: material.cert, key: material.key, maxHeaderSize: MAX_HEADER_BYTES, handshakeTimeout: 10_000 }, handler);
    this.harden(secure);
    try {
      await listen(secure, bind, this.profile.https.port, 'https', '[https] port');
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.secure = secure;
  }

  async stop(): Promise<void> {
    const servers = [this.server, this.secure, ...this.extra.map((e) => e.server)].filter((s): s is Server | TlsServer => s !== null);
    this.server = null;
    this.secure = null;
    this.extra = [];
    this.deps.telemetry?.hub.closeAll();
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
            // Downloads in flight get a bound, then are cut.
            setTimeout(() => server.closeAllConnections(), 5000).unref();
          }),
      ),
    );
  }

  reload(profile: Profile): void {
    this.profile = profile;
    this.deps.catalogue.invalidate();
    // A replaced certificate takes effect for new connections without a restart.
    const material = this.deps.tls?.() ?? null;
    if (material && this.secure) this.secure.setSecureContext({ cert: material.cert, key: material.key });
  }

  bindings(): Binding[] {
    const out: Binding[] = [];
    if (this.server) out.push({ protocol: 'tcp', address: this.profile.http.bind, port: this.port });
    if (this.secure) out.push({ protocol: 'tcp', address: this.profile.http.bind, port: this.securePort! });
    for (const e of this.extra) out.push({ protocol: 'tcp', address: e.address, port: portOf(e.server)! });
    return out;
  }

  /**
   * Slow or idle clients must not pin sockets forever. requestTimeout bounds receiving the
   * request (headers and body), not sending the answer: a 4 GB initrd still streams.
   */
  private harden(server: Server | TlsServer): void {
    // 30 s, not Node's 60 s nor our earlier 10 s: in a 500-machine storm on a busy host, 10 s cut
    // healthy keep-alive clients with 408 between two downloads; the per-address connection cap
    // is what stops a slowloris.
    server.headersTimeout = 30_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
    // No byte either way for this long: the client is gone or stalling on purpose.
    server.timeout = 60_000;
    server.on('connection', capConnections(this.limits));
  }
}
