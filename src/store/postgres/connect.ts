// The pg connection settings of a [store] section: the URL, the password from a file or
// PGPASSWORD (libpq's variable, read by pg itself), TLS passed through; and the error a write
// gets when PostgreSQL cannot be reached.
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Profile } from '../../config/profile.ts';

/** bigint columns (times in ms, ids) come back as numbers: they stay far below 2^53. */
const types = new pg.TypeOverrides();
types.setTypeParser(20, (v: string) => Number(v));

export type StoreSection = Profile['store'];

export function clientConfig(store: Pick<StoreSection, 'url' | 'passwordFile' | 'tls' | 'tlsCa' | 'tlsCert' | 'tlsKey'>): pg.ClientConfig {
  const config: pg.ClientConfig = {
    connectionString: store.url,
    types,
    // A down server must not hold a request: fail fast and let the store degrade.
    connectionTimeoutMillis: 3000,
    query_timeout: 5000,
    application_name: 'pxe-pilot',
  };
  if (store.passwordFile) config.password = readFileSync(store.passwordFile, 'utf8').replace(/\r?\n$/, '');
  if (store.tls !== 'off') {
    config.ssl = {
      rejectUnauthorized: store.tls === 'verify-full',
      ...(store.tlsCa ? { ca: readFileSync(store.tlsCa, 'utf8') } : {}),
      ...(store.tlsCert ? { cert: readFileSync(store.tlsCert, 'utf8'), key: readFileSync(store.tlsKey, 'utf8') } : {}),
    };
  }
  return config;
}

/**
 * The store's connections. A server going away (a restart, a fast shutdown) sends every connected
 * backend an error; a client between two queries emits it, and with no listener that would throw
 * out of the process. This base listener keeps it in: queries on the client still fail, the pool's
 * idle listener and the store's own listeners still see it and degrade the store.
 */
export class StoreClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', () => undefined);
  }
}

/** The URL without user name, for messages. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/** Thrown (rejected) when a write must reach PostgreSQL and cannot; HTTP answers it with 503. */
export class StoreUnavailableError extends Error {
  readonly status = 503;
  readonly expose = true;
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}
