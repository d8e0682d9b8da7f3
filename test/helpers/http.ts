// Starts the real HTTP service on 127.0.0.1 with an ephemeral port and an in-memory store.
import type { Profile } from '../../src/config/profile.ts';
import { testProfile } from './profile.ts';
import { HttpService, type HttpServiceDeps } from '../../src/http/service.ts';
import { AssetCatalogue } from '../../src/assets/catalogue-scan.ts';
import { Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/log.ts';

/** What the daemon hands the HTTP service, for a test: quiet logs, an empty catalogue, `/health` naming the service's own bindings. */
export function testHttpDeps(profile: Profile, store: Store, service: () => HttpService): HttpServiceDeps {
  return {
    profile,
    store,
    leases: store.leases,
    logger: silentLogger(),
    services: () => [{ name: 'http', enabled: true, bindings: service().bindings() }],
    catalogue: new AssetCatalogue(),
    startedAt: Date.now(),
    version: 'test',
    agentSessions: store.agentSessions,
  };
}

export interface RunningHttp {
  base: string;
  port: number;
  store: Store;
  service: HttpService;
  profile: Profile;
  stop: () => Promise<void>;
}

/** With `shared`, a store another running service also uses: stop() leaves it open. */
export async function startHttp(overrides: Parameters<typeof testProfile>[0] = {}, shared?: Store): Promise<RunningHttp> {
  const store = shared ?? Store.open(':memory:');
  const profile = testProfile({ ...overrides, http: { bind: '127.0.0.1', port: 0, ...overrides.http } });
  const service: HttpService = new HttpService(testHttpDeps(profile, store, () => service));
  await service.start();
  // Scripts must point at the port clients really reach.
  profile.http.port = service.port;
  return {
    base: `http://127.0.0.1:${service.port}`,
    port: service.port,
    store,
    service,
    profile,
    stop: async () => {
      await service.stop();
      if (!shared) store.close();
    },
  };
}
