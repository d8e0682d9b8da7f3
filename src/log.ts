import { pino, type Logger } from 'pino';
import type { LogLevel } from './config/profile.ts';

export type { Logger };

/** JSON lines on stdout (journald keeps them; read them with `journalctl -o cat | jq`). */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({ level, base: { service: 'pxe-pilot' } });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
