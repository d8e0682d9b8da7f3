// pxe-pilot [--config FILE]            run the daemon
// pxe-pilot check-config [--config FILE]  validate and print the effective profile
// pxe-pilot explain <mac> [--config FILE] why a machine got what it got
// Exit codes: 0 ok, 2 bad configuration, 1 runtime failure.
import { parseArgs } from 'node:util';
import { ConfigError, describeProfile, loadProfile, profileWarnings, type LoadOptions } from './config/load.ts';
import { createLogger } from './log.ts';
import { Daemon, VERSION } from './daemon.ts';
import { BindError } from './service.ts';
import { normaliseMac } from './net/mac.ts';
import { assetsArgv, STORE_USAGE } from './cli/routing.ts';
import { TlsError } from './http/tls.ts';
import { currentFacts, dropAfterBind, planDrop } from './net/privileges.ts';
import { CLIENT_USAGE, clientCommandOf, runClientCommand } from './cli/commands.ts';
import { CliError } from './cli/client.ts';
import { LOG_FORMATS, type LogFormat } from './log.ts';

// The daemon is what stays resident, so it loads only its own code: each other subcommand
// (probe, assets, explain, store, cert, check-config's asset checks) and the PostgreSQL client
// they use are imported when that subcommand runs (docs/benchmarks.md, idle RSS).

const USAGE = `usage:
  pxe-pilot [--config FILE] [--log-format auto|json|pretty]
                                            run the daemon (auto: readable lines on a terminal, JSON otherwise)
  pxe-pilot check-config [--config FILE]    validate the profile and print it
  pxe-pilot explain <mac> [--config FILE]   the last events of one machine, with reasons
${STORE_USAGE}
  pxe-pilot probe --mac MAC --arch ARCH ...  simulate a machine's network boot (probe --help)
  pxe-pilot assets add|ls|rm|verify …       installer images from ISOs (pxe-pilot assets --help)
  pxe-pilot cert [--config FILE]            the HTTPS certificate's SHA-256 fingerprint (made if none yet)
${CLIENT_USAGE}
  pxe-pilot --version
default FILE: /etc/pxe-pilot/pxe-pilot.ini`;

function fail(code: number, message: string): never {
  process.stderr.write(message.endsWith('\n') ? message : message + '\n');
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'probe') {
    const { probeCommand } = await import('./cli/probe.ts');
    process.exit(await probeCommand(argv.slice(1)));
  }
  const assets = assetsArgv(argv);
  if (assets) {
    const { runAssets } = await import('./cli/assets.ts');
    return runAssets(assets);
  }
  if (clientCommandOf(argv)) return runClient(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        limit: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        appliance: { type: 'string' },
        'log-format': { type: 'string' },
      },
    });
  } catch (err) {
    fail(2, `${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (values.version) {
    process.stdout.write(`pxe-pilot ${VERSION}\n`);
    return;
  }
  const file = values.config ?? '/etc/pxe-pilot/pxe-pilot.ini';
  const [command, ...rest] = positionals;

  const load = (options: LoadOptions = {}) => {
    try {
      return loadProfile(file, options);
    } catch (err) {
      if (err instanceof ConfigError) fail(2, `pxe-pilot: the profile has ${err.problems.length} problem(s):\n${err.message}`);
      throw err;
    }
  };

  switch (command) {
    case undefined:
    case 'run': {
      const format = values['log-format'] ?? 'auto';
      if (!(LOG_FORMATS as readonly string[]).includes(format)) fail(2, `--log-format must be one of ${LOG_FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
      return runDaemon(file, load(), format as LogFormat);
    }
    case 'check-config': {
      const profile = load();
      process.stdout.write(describeProfile(profile));
      const { assetWarnings } = await import('./assets/inventory.ts');
      const { checkProfile } = await import('./config/checks.ts');
      const checked = await checkProfile(profile);
      for (const w of [...profileWarnings(profile), ...assetWarnings(profile), ...checked.warnings]) process.stderr.write(`warning: ${w}\n`);
      if (checked.errors.length > 0)
        fail(2, `pxe-pilot: ${checked.errors.length} problem(s) start-up or an install would trip over:\n${checked.errors.join('\n')}`);
      return;
    }
    case 'explain': {
      const mac = normaliseMac(rest[0] ?? '');
      if (!mac) fail(2, `explain needs a MAC address, e.g. pxe-pilot explain 52:54:00:12:34:56\n${USAGE}`);
      // Only the state folder matters here: do not insist that [server] interface exists.
      const profile = load({ offline: true });
      const limit = values.limit ? Number(values.limit) : undefined;
      const { explainFromProfile, ExplainUnavailable } = await import('./cli/explain.ts');
      try {
        const { dhcpFacts } = await import('./explain.ts');
        const dhcp = dhcpFacts(profile);
        process.stdout.write(await explainFromProfile(profile, mac, limit && Number.isFinite(limit) ? { limit, dhcp } : { dhcp }));
      } catch (err) {
        if (err instanceof ExplainUnavailable) fail(1, `pxe-pilot explain: ${err.message}`);
        throw err;
      }
      return;
    }
    case 'store': {
      const { storeCommand } = await import('./cli/store.ts');
      return storeCommand(rest, values, () => load({ offline: true }), fail);
    }
    case 'cert': {
      const { certCommand } = await import('./cli/cert.ts');
      return process.exit(certCommand(load()));
    }
    default:
      fail(2, `unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

async function runClient(argv: string[]): Promise<void> {
  try {
    process.exitCode = await runClientCommand(argv);
  } catch (err) {
    if (err instanceof CliError) fail(err.exitCode, `pxe-pilot: ${err.message}`);
    throw err;
  }
}

async function runDaemon(file: string, profile: ReturnType<typeof loadProfile>, format: LogFormat): Promise<void> {
  const logger = createLogger(profile.server.logLevel, format);
  // Decided before binding, so a wrong [server] user stops us before any socket opens.
  const privileges = planDrop(profile.server.user, currentFacts());
  if (privileges.action === 'refuse') fail(2, `pxe-pilot: ${privileges.message}`);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start(profile, logger);
    dropAfterBind(privileges, profile.server.stateDir, { info: (m) => logger.info(m), warn: (m) => logger.warn(m) });
  } catch (err) {
    if (err instanceof BindError) {
      logger.fatal(err.message);
      fail(1, `pxe-pilot: ${err.message}`);
    }
    if (err instanceof TlsError) {
      logger.fatal(err.message);
      fail(2, `pxe-pilot: ${err.message}`);
    }
    logger.fatal({ err }, 'startup failed');
    fail(1, `pxe-pilot: startup failed: ${(err as Error).message}`);
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
      .then(() => daemon.reload(file))
      .catch((err: unknown) => {
        logger.error({ err }, 'reload failed');
        return false;
      });
  });
  // A bug in one handler must be logged, not silently kill every service; handlers catch their own.
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (a handler let this escape; please report it)'));
}

main(process.argv.slice(2)).catch((err: unknown) => fail(1, `pxe-pilot: ${(err as Error).stack ?? String(err)}`));
