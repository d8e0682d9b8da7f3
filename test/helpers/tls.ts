// HTTPS on 127.0.0.1 for tests, and a client that trusts a server only by its certificate's
// SHA-256 fingerprint, as the Proxmox installer does (cert_fingerprint / DHCP option 251).
import { request } from 'node:https';
import { connect } from 'node:tls';
import { testProfile } from './profile.ts';
import { testHttpDeps } from './http.ts';
import type { Profile } from '../../src/config/profile.ts';
import { HttpService } from '../../src/http/service.ts';
import { loadCertificate, type TlsMaterial } from '../../src/http/tls.ts';
import type { LimitSettings } from '../../src/http/limits.ts';
import { Store } from '../../src/store/store.ts';

export interface RunningHttps {
  http: string;
  https: string;
  profile: Profile;
  material: TlsMaterial;
  store: Store;
  service: HttpService;
  stop: () => Promise<void>;
}

/** Loads (or makes) the certificate for `stateDir` and serves HTTP and HTTPS on ephemeral ports. */
export async function startHttps(
  overrides: NonNullable<Parameters<typeof testProfile>[0]>,
  stateDir: string,
  limits?: Partial<LimitSettings>,
): Promise<RunningHttps> {
  const profile = testProfile({
    ...overrides,
    server: { stateDir, ...overrides.server },
    http: { bind: '127.0.0.1', port: 0, ...overrides.http },
    https: { enabled: true, port: 0, ...overrides.https },
    answers: { requireTls: true, ...overrides.answers },
  });
  const material = loadCertificate(profile);
  profile.https.fingerprint = material.fingerprint;
  const store = Store.open(':memory:');
  const service: HttpService = new HttpService({ ...testHttpDeps(profile, store, () => service), tls: () => material, ...(limits ? { limits } : {}) });
  await service.start();
  profile.http.port = service.port;
  profile.https.port = service.securePort!;
  return {
    http: `http://127.0.0.1:${service.port}`,
    https: `https://127.0.0.1:${service.securePort}`,
    profile,
    material,
    store,
    service,
    stop: async () => {
      await service.stop();
      store.close();
    },
  };
}

export interface PinnedResponse {
  status: number;
  body: string;
}

/**
 * A request that accepts the server only when its certificate's SHA-256 matches `fingerprint`
 * (colon form, any case); otherwise it fails before sending anything.
 */
export function pinnedRequest(
  url: string,
  fingerprint: string,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<PinnedResponse> {
  const want = fingerprint.toUpperCase();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        // Self-signed, so no CA can vouch: the fingerprint is the whole check.
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('socket', (socket) => {
      socket.once('secureConnect', () => {
        const peer = (socket as ReturnType<typeof connect>).getPeerCertificate();
        if (peer.fingerprint256?.toUpperCase() !== want) req.destroy(new Error(`certificate fingerprint ${peer.fingerprint256} is not the pinned ${want}`));
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
