// A [store] section for a test PostgreSQL server, and a logger that keeps tests quiet.
import type { Profile } from '../../src/config/profile.ts';
import { silentLogger, type Logger } from '../../src/log.ts';

export function pgStoreSection(url: string, overrides: Partial<Profile['store']> = {}): Profile['store'] {
  return {
    backend: 'postgresql',
    url,
    passwordFile: '',
    tls: 'off',
    tlsCa: '',
    tlsCert: '',
    tlsKey: '',
    poolSize: 10,
    appliance: 'test-a',
    startDegraded: false,
    ...overrides,
  };
}

export function quietLogger(): Logger {
  return silentLogger();
}
