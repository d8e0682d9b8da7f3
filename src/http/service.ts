// The HTTP service: the Koa app on [http] bind:port.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Profile } from '../config/profile.ts';
import { BindError, type Binding, type Service } from '../service.ts';
import { createHttpApp } from './app.ts';
import type { HttpDeps } from './context.ts';

export class HttpService implements Service {
  readonly name = 'http';
  private server: Server | null = null;
  private profile: Profile;

  constructor(private readonly deps: Omit<HttpDeps, 'profile'> & { profile: Profile }) {
    this.profile = deps.profile;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.profile.http.port;
  }

  async start(): Promise<void> {
    const app = createHttpApp({ ...this.deps, profile: () => this.profile });
    const server = createServer(app.callback());
    // Slow or idle clients must not pin sockets forever; a 4 GB initrd still streams (no total timeout).
    server.headersTimeout = 20_000;
    server.requestTimeout = 0;
    server.keepAliveTimeout = 10_000;
    const { bind, port } = this.profile.http;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(new BindError('http', 'tcp', bind, port, err.code ?? 'error', '[http] port'));
      server.once('error', onError);
      server.listen(port, bind, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.deps.telemetry?.hub.closeAll();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Downloads in flight get a bound, then are cut.
      setTimeout(() => server.closeAllConnections(), 5000).unref();
    });
  }

  reload(profile: Profile): void {
    this.profile = profile;
    this.deps.catalogue.invalidate();
  }

  bindings(): Binding[] {
    return this.server ? [{ protocol: 'tcp', address: this.profile.http.bind, port: this.port }] : [];
  }
}
