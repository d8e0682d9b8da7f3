import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type { PinoPretty } from 'pino-pretty';
import type { LogLevel } from './config/profile.ts';

export type { Logger };

/** 'auto': readable lines on a terminal, JSON lines under systemd (journald keeps them) or into a pipe. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

export function prettyWanted(format: LogFormat, stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (format !== 'auto') return format === 'pretty';
  // systemd sets INVOCATION_ID and JOURNAL_STREAM for its services, even with a TTY attached.
  return Boolean(stream.isTTY) && !env.INVOCATION_ID && !env.JOURNAL_STREAM;
}

/**
 * The base carries no "service" key: each service's child logger adds its own, once.
 * Pretty output is one line per event: time, level, service, message, then the fields.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto'): Logger {
  const options = { level, base: { pid: process.pid }, name: 'pxe-pilot' };
  if (!prettyWanted(format)) return pino(options);
  return pino(options, prettyStream(Boolean(process.stdout.isTTY)));
}

/** The readable form: "12:00:01.234 INFO: tftp: RRQ ipxe.efi served {"file":…}", synchronous, one line. */
export function prettyStream(colour: boolean, destination?: NodeJS.WritableStream): ReturnType<typeof PinoPretty> {
  // Required here, not imported above: a daemon under systemd logs JSON and never loads pino-pretty.
  const { PinoPretty: pretty } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    colorize: colour,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,service',
    messageFormat: '{if service}{service}: {end}{msg}',
    sync: true,
    ...(destination ? { destination } : {}),
  });
}

/** A logger that writes nothing, for tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
