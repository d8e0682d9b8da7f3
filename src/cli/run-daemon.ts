// pxe-pilot [run] [--config FILE]: the daemon. It stays resident, so this module loads what the
// daemon needs and nothing of the other commands.
import type { Profile } from '../config/profile.ts';
import { createLogger, LOG_FORMATS, type LogFormat } from '../log.ts';
import { Daemon, VERSION } from '../daemon.ts';
import { BindError } from '../service.ts';
import { TlsError } from '../http/tls.ts';
import { currentFacts, dropAfterBind, planDrop } from '../net/privileges.ts';
import { CliError, configFileOf, EXIT_FAILED, EXIT_USAGE, UsageError, type CommandContext, type Outcome } from './command.ts';
import { profileFor } from './profile.ts';

export async function runDaemon(context: CommandContext<{ config?: string; set: string[]; 'log-format'?: string; version: boolean }>): Promise<Outcome> {
  const { values, out } = context;
  if (values.version) {
    out.write(`pxe-pilot ${VERSION}\n`);
    return 0;
  }
  const format = values['log-format'] ?? 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
  const file = configFileOf(values);
  const profile = profileFor(values);
  // SIGHUP re-reads the files (and their drop-ins); the command line's overrides still apply.
  await start(file, values.set, profile, format as LogFormat);
  return 'running';
}

async function start(file: string, overrides: readonly string[], profile: Profile, format: LogFormat): Promise<void> {
  const logger = createLogger(profile.server.logLevel, format);
  // Decided before binding, so a wrong [server] user stops us before any socket opens.
  const privileges = planDrop(profile.server.user, currentFacts());
  if (privileges.action === 'refuse') throw new CliError(privileges.message, EXIT_USAGE);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(profile, logger);
    dropAfterBind(privileges, profile.server.stateDir, { info: (m) => logger.info(m), warn: (m) => logger.warn(m) });
  } catch (err) {
    if (err instanceof BindError) {
      logger.fatal(err.message);
      throw new CliError(err.message, EXIT_FAILED, { cause: err });
    }
    if (err instanceof TlsError) {
      logger.fatal(err.message);
      throw new CliError(err.message, EXIT_USAGE, { cause: err });
    }
    logger.fatal({ err }, 'startup failed');
    throw new CliError(`startup failed: ${(err as Error).message}`, EXIT_FAILED, { cause: err });
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: stopping`);
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  let reloading = Promise.resolve(true);
  process.on('SIGHUP', () => {
    reloading = reloading
      .then(() => daemon.reload(file, overrides))
      .catch((err: unknown) => {
        logger.error({ err }, 'reload failed');
        return false;
      });
  });
  // A bug in one handler must be logged, not silently kill every service; handlers catch their own.
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (a handler let this escape; please report it)'));
}
