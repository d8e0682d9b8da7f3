// Every pxe-pilot command as one table row: name, operands, flags, and `run`, which imports the
// command's module only when it runs. The daemon (the default command) is what stays resident,
// so it loads its own code only, never the other commands' or the PostgreSQL client they use
// (docs/benchmarks.md, idle RSS). Help, usage errors and parsing are generated from the rows.
import { NODE_LIFECYCLES } from '../boot/lifecycle.ts';
import { LOG_FORMATS } from '../log.ts';
import {
  CliError,
  CONFIG_OPTIONS,
  DAEMON_CLIENT_OPTIONS,
  defineCommand,
  JSON_OPTIONS,
  UsageError,
  type Command,
  type CommandContext,
  type Operand,
  type OptionSpec,
  type OptionTable,
  type Outcome,
  type Output,
  type Values,
} from './command.ts';
import { parseCommandLine } from './parse.ts';

/** What runs when no command is named: `pxe-pilot --config FILE`. */
export const DEFAULT_COMMAND = 'run';

const MAC: Operand = { name: 'MAC', help: 'a MAC address, e.g. 52:54:00:12:34:56' };
const IMAGE: Operand = { name: 'PROFILE', help: 'an install image as <product>/<version>, e.g. proxmox-ve/9.1-1 (pxe-pilot assets ls lists them)' };

// Each command's module, imported when one of its commands runs.
const daemon = () => import('./run-daemon.ts');
const checkConfig = () => import('./check-config.ts');
const explain = () => import('./explain.ts');
const store = () => import('./store.ts');
const probe = () => import('./probe.ts');
const assets = () => import('./assets.ts');
const cert = () => import('./cert.ts');
const admin = () => import('./admin-commands.ts');
const power = () => import('../power/command.ts');
const reinstall = () => import('../power/reinstall-command.ts');
const agent = () => import('../agent/cli.ts');
const importing = () => import('../import/command.ts');

type Runner<V> = (context: CommandContext<V>) => Promise<Outcome>;

/** A `run` that imports `load`'s module when the command runs and calls its export `name`. */
function lazy<const K extends string, M extends Record<K, Runner<never>>>(load: () => Promise<M>, name: K): M[K] {
  return ((context: CommandContext<never>) => load().then((module) => module[name](context))) as M[K];
}

// The longer flag tables, apart so that the table below reads as a list of commands.
const STORE_COPY_OPTIONS = {
  from: { type: 'string', value: 'sqlite:PATH', required: true, help: "the appliance's state folder or its pxe-pilot.sqlite" },
  to: { type: 'string', value: 'postgresql:URL', required: true, help: 'the empty, migrated database (the password in PGPASSWORD)' },
  appliance: { type: 'string', value: 'NAME', help: "whose history it is in the fleet (default this host's name)" },
} as const satisfies OptionTable;

const PROBE_OPTIONS = {
  mac: { type: 'string', value: 'MAC', required: true, help: "the simulated machine's MAC address" },
  arch: { type: 'string', value: 'bios|efi64|efi64-http|ipxe', required: true, help: 'its firmware' },
  proxy: { type: 'boolean', help: "the network's router hands out addresses; expect a ProxyDHCP offer too" },
  interface: { type: 'string', short: 'i', value: 'IF', help: 'where to boot from (default the only interface besides lo)' },
  server: { type: 'string', value: 'ADDR', help: 'take boot offers only from ADDR' },
  blksize: { type: 'string', value: 'N', help: 'TFTP block size (default 1468)' },
  windowsize: { type: 'string', value: 'N', help: 'TFTP window size (default 4)' },
  ...JSON_OPTIONS,
} as const satisfies OptionTable;

const ASSETS_ADD_OPTIONS = {
  ...CONFIG_OPTIONS,
  product: { type: 'string', value: 'P', help: 'the product (folder name), for an installer it does not recognise' },
  version: { type: 'string', value: 'V', help: 'its version (folder name)' },
  'answer-url': { type: 'string', value: 'URL', help: "where the installer fetches its answer (default this server's /answer)" },
  'cert-fingerprint': { type: 'string', value: 'FP', help: "the certificate the installer pins (default this server's, for its own https:// URL)" },
  'answer-token': { type: 'string', value: 'T', help: 'sent with the answer request as Authorization: Bearer (default [answers] token)' },
  force: { type: 'boolean', help: 'replace an image of the same name' },
  kernel: { type: 'string', value: 'PATH', help: 'the kernel inside the ISO or tarball, for an installer it does not recognise' },
  initrd: { type: 'string', value: 'PATH', multiple: true, help: 'an initrd inside it, with --kernel' },
  sha256: { type: 'string', value: 'HEX', help: "a download's SHA-256" },
  sha256sums: { type: 'string', value: 'URL', help: 'a SHA256SUMS file that lists the download' },
  kind: { type: 'string', value: 'disk-image', help: 'a raw disk image (.raw, .raw.gz, .raw.xz, .raw.zst) for the agent to deploy' },
} as const satisfies OptionTable;

const IMPORT_OPTIONS = {
  ...CONFIG_OPTIONS,
  'from-env': { type: 'boolean', help: "an earlier pxe-pilot's variables: FILE (.env or compose file), or this process's environment" },
  'from-db': { type: 'string', value: 'pxe.db', help: "the aayusharyan pxe-pilot's database: its machines into the profile's store" },
  'from-seed': { type: 'string', value: 'seed.yml', help: "its seed file: the machines it lists into the profile's store" },
  'from-answers': { type: 'string', value: 'DIR', help: 'a WisherOps answers folder (default.toml, hosts/<mac>.toml), checked as templates' },
  write: { type: 'string', value: 'PATH', help: 'write the profile (--from-env) or the answers (--from-answers, a folder) instead of printing' },
  force: { type: 'boolean', help: 'with --write: replace files that are there' },
  'arm-reinstall': { type: 'boolean', help: 'arm the machines whose reinstall flag was set (asks first)' },
  yes: { type: 'boolean', help: 'with --arm-reinstall: do not ask (for scripts)' },
} as const satisfies OptionTable;

const EVENTS_OPTIONS = {
  mac: { type: 'string', value: 'M', help: "only this machine's events" },
  limit: { type: 'string', value: 'N', help: 'the last N events' },
  follow: { type: 'boolean', short: 'f', help: 'then print each new event as it happens, until interrupted' },
} as const satisfies OptionTable;

const NODES_LIST_OPTIONS = {
  state: { type: 'string', value: 'S', help: `only the machines in state S: ${NODE_LIFECYCLES.join(', ')}` },
  discovered: { type: 'boolean', help: 'only the discovered machines: inspected, and no [host] section or enrolment gives them settings' },
} as const satisfies OptionTable;

type DaemonClientOptions = typeof DAEMON_CLIENT_OPTIONS;

/** A row of the commands that ask the running daemon: they share its flags and what exit 1 means. */
function askDaemon<const O extends OptionTable = Record<never, OptionSpec>>(row: {
  name: string;
  summary: string;
  operands?: readonly Operand[];
  options?: O;
  run: Runner<Values<O & DaemonClientOptions>>;
}): Command {
  const options = { ...row.options, ...DAEMON_CLIENT_OPTIONS } as O & DaemonClientOptions;
  return defineCommand({ ...row, options, failure: 'the daemon unreachable or refused (the message names the URL)' });
}

export const COMMANDS: readonly Command[] = [
  defineCommand({
    name: DEFAULT_COMMAND,
    summary: 'run the daemon',
    options: {
      ...CONFIG_OPTIONS,
      'log-format': { type: 'string', value: LOG_FORMATS.join('|'), help: 'auto (the default): readable lines on a terminal, JSON lines otherwise' },
      version: { type: 'boolean', help: 'print the version and stop' },
    },
    failure: 'it could not start (a port already taken, a state folder it cannot open)',
    run: lazy(daemon, 'runDaemon'),
  }),
  defineCommand({
    name: 'check-config',
    summary: 'validate the profile and print it',
    options: CONFIG_OPTIONS,
    run: lazy(checkConfig, 'checkConfig'),
  }),
  defineCommand({
    name: 'explain',
    summary: 'the last events of one machine, with reasons',
    operands: [MAC],
    options: { ...CONFIG_OPTIONS, limit: { type: 'string', value: 'N', help: 'the last N events (1 to 1000, default 50)' } },
    failure: 'the store could not be read (the message names it)',
    run: lazy(explain, 'explainCommand'),
  }),
  defineCommand({
    name: 'store migrate',
    summary: 'apply pending state migrations, print the schema version',
    options: CONFIG_OPTIONS,
    run: lazy(store, 'storeMigrate'),
  }),
  defineCommand({
    name: 'store copy',
    summary: "copy an appliance's SQLite history into an empty PostgreSQL",
    options: STORE_COPY_OPTIONS,
    run: lazy(store, 'storeCopy'),
  }),
  defineCommand({
    name: 'probe',
    summary: "simulate a machine's network boot, step by step",
    options: PROBE_OPTIONS,
    details: `Runs the exchange a machine would (DHCP, ProxyDHCP, TFTP, iPXE's DHCP, scripts, kernel and
initrds over HTTP) from interface IF and prints each step with its time. It binds port 68
and broadcasts on IF: run it only on a boot VLAN (or in a network namespace), never on a
LAN whose DHCP server you do not own. It puts the leased address on IF while it runs.`,
    failure: 'a step failed (named, with the reason)',
    run: lazy(probe, 'probeCommand'),
  }),
  defineCommand({
    name: 'assets add',
    summary: 'an install image from an ISO, a tarball, a netboot folder or a download; or a disk image (--kind disk-image)',
    operands: [{ name: 'SOURCE', help: 'file.iso, file.tar.gz, a netboot folder, disk.raw[.gz|.xz|.zst] or an http(s):// URL' }],
    options: ASSETS_ADD_OPTIONS,
    failure: 'it failed otherwise (an interrupted download: run it again to resume)',
    run: lazy(assets, 'assetsAdd'),
  }),
  defineCommand({
    name: 'assets ls',
    summary: 'the install images, verified against SHA256SUMS, and the hosts using each',
    options: { ...CONFIG_OPTIONS, ...JSON_OPTIONS },
    run: lazy(assets, 'assetsList'),
  }),
  defineCommand({
    name: 'assets rm',
    summary: 'remove an install image',
    operands: [IMAGE],
    options: { ...CONFIG_OPTIONS, force: { type: 'boolean', help: 'also while a [host] names it' } },
    run: lazy(assets, 'assetsRemove'),
  }),
  defineCommand({
    name: 'assets verify',
    summary: 're-hash install images against their SHA256SUMS (all, or one)',
    operands: [{ ...IMAGE, optional: true }],
    options: CONFIG_OPTIONS,
    failure: 'an image failed verification (each differing file is named)',
    run: lazy(assets, 'assetsVerify'),
  }),
  defineCommand({
    name: 'agent build',
    summary: 'the inspection agent image (Debian kernel, busybox, drivers) into the assets folder, no root',
    options: {
      ...CONFIG_OPTIONS,
      arch: { type: 'string', value: 'amd64|arm64', help: 'its architecture (default amd64)' },
      assets: { type: 'string', value: 'DIR', help: 'the assets folder (default [assets] dir of the profile)' },
      force: { type: 'boolean', help: 'replace an agent image of the same kernel' },
    },
    failure: 'it failed otherwise (a download, a tool; nothing was added)',
    run: lazy(agent, 'agentBuild'),
  }),
  defineCommand({
    name: 'import',
    summary: "an earlier pxe-pilot's settings, machines or answers (docs/migrating.md)",
    operands: [{ name: 'FILE', optional: true, help: 'with --from-env: an .env or docker compose file' }],
    options: IMPORT_OPTIONS,
    details: `One source per run. Nothing is written when the source has a problem (exit 2). The
reinstall flags of imported machines are listed, not armed: that server never cleared them.
Re-running an import is safe: machines already there keep their state.`,
    failure: 'the store or a file could not be written (the message names it)',
    run: lazy(importing, 'importCommand'),
  }),
  defineCommand({
    name: 'cert',
    summary: "the HTTPS certificate's SHA-256 fingerprint (made if none yet)",
    options: CONFIG_OPTIONS,
    run: lazy(cert, 'certCommand'),
  }),
  askDaemon({
    name: 'nodes',
    summary: 'every machine, as a table',
    options: NODES_LIST_OPTIONS,
    run: lazy(admin, 'nodesList'),
  }),
  askDaemon({ name: 'nodes ls', summary: 'every machine, as a table (as `nodes`)', options: NODES_LIST_OPTIONS, run: lazy(admin, 'nodesList') }),
  askDaemon({
    name: 'nodes show',
    summary: 'one machine: state, enrolment, inventory (disks and NICs), installs, recent events',
    operands: [MAC],
    run: lazy(admin, 'nodeShow'),
  }),
  askDaemon({
    name: 'nodes enrol',
    summary: 'enrol a machine (kept in the store): its host name, image and action, and a deploy’s network and disk',
    operands: [MAC],
    options: {
      hostname: { type: 'string', value: 'H', help: 'its host name (required)' },
      profile: { type: 'string', value: 'P', help: 'the image to install (product/version); required for --action install' },
      action: { type: 'string', value: 'A', help: 'install (default), deploy (the profile a disk image), local, menu, inspect or wipe' },
      bmc: { type: 'string', value: 'URL', help: 'its BMC, e.g. ipmi://10.0.0.5 or redfish://bmc1.lab.example' },
      install: { type: 'boolean', help: 'also arm the install now, as `nodes reinstall` does' },
      'create-bmc-user': {
        type: 'boolean',
        help: 'the inspection agent creates a pxe-pilot BMC user and the daemon writes its credentials ([power] create_bmc_user = true)',
      },
      // A deployed disk image's network-config and disk (docs/deploy.md), as the [host] keys of the same names.
      'net-address': { type: 'string', value: 'CIDR', help: 'deploy: static address with its prefix, e.g. 10.0.1.21/24; absent: DHCP' },
      'net-gateway': { type: 'string', value: 'IP', help: 'deploy: default gateway (needs --net-address)' },
      'net-dns': { type: 'string', value: 'IPS', help: 'deploy: name servers, comma-separated' },
      'net-bond': { type: 'string', value: 'NICS', help: 'deploy: two or more NICs (names or MACs) bonded with LACP as bond0, comma-separated' },
      'net-vlan': { type: 'string', value: 'ID', help: 'deploy: VLAN id the address goes on' },
      'net-mtu': { type: 'string', value: 'N', help: 'deploy: MTU of the links (576 to 9216)' },
      'install-disk': {
        type: 'string',
        value: 'DISK',
        help: 'deploy: smallest-ssd, largest, serial:X or model:GLOB; absent: the smallest disk that holds the image',
      },
    },
    run: lazy(admin, 'nodeEnrol'),
  }),
  askDaemon({ name: 'nodes unenrol', summary: 'remove its enrolment', operands: [MAC], run: lazy(admin, 'nodeUnenrol') }),
  askDaemon({
    name: 'nodes reinstall',
    summary: 'arm a reinstall at its next network boot; --now also boots it from the network through its BMC',
    operands: [{ ...MAC, optional: true }],
    options: {
      profile: { type: 'string', value: 'P', help: 'install this image (product/version) instead of its [host] profile' },
      now: { type: 'boolean', help: 'now: next boot from the network, once, then power cycle (or on) through its bmc; waits for those steps' },
      macs: { type: 'string', value: 'A,B,…', help: 'with --now: these machines, at most [power] max_parallel at once' },
      all: { type: 'boolean', help: 'with --now --rule NAME: every machine the rule matches' },
      rule: { type: 'string', value: 'NAME', help: 'with --now --all: the machines [rule NAME] matches' },
      'no-wait': { type: 'boolean', help: 'with --now: return once armed, leave the power steps to the daemon' },
    },
    run: lazy(reinstall, 'nodeReinstall'),
  }),
  askDaemon({ name: 'nodes cancel', summary: 'cancel an armed reinstall', operands: [MAC], run: lazy(admin, 'nodeCancel') }),
  askDaemon({
    name: 'nodes release',
    summary: 'release a machine: unenrol it and clear its install state (inventory kept); --wipe first wipes its disks at its next network boot',
    operands: [MAC],
    options: {
      wipe: {
        type: 'boolean',
        help: 'arm a wipe, once: its next network boot runs the agent, which clears every non-removable disk (wipefs, then discard where the disk can), reports, and powers off; then it is released',
      },
    },
    run: lazy(admin, 'nodeRelease'),
  }),
  askDaemon({
    name: 'nodes local-boot',
    summary: 'what its local boot runs (iPXE), or back to "exit"',
    operands: [MAC, { name: 'SCRIPT', optional: true, help: "one iPXE command, quoted: 'sanboot --no-describe --drive 0x80'" }],
    options: { clear: { type: 'boolean', help: 'back to the default, "exit", instead of a SCRIPT' } },
    run: lazy(admin, 'nodeLocalBoot'),
  }),
  askDaemon({
    name: 'nodes power',
    summary: 'its power through its BMC ([host] bmc): state, or on, off, cycle, reset',
    operands: [MAC, { name: 'ACTION', help: 'status | on | off | cycle | reset' }],
    options: { 'network-boot': { type: 'boolean', help: 'first set its next boot to the network, once (UEFI when it last booted UEFI)' } },
    run: lazy(power, 'nodePower'),
  }),
  askDaemon({ name: 'leases', summary: 'DHCP leases (server mode): address, MAC, hostname, expiry', run: lazy(admin, 'leasesCommand') }),
  askDaemon({
    name: 'events',
    summary: 'the event log, newest last',
    options: EVENTS_OPTIONS,
    run: lazy(admin, 'eventsCommand'),
  }),
  askDaemon({ name: 'images', summary: 'install images under [assets] dir and the hosts that use each', run: lazy(admin, 'imagesCommand') }),
  askDaemon({ name: 'status', summary: 'what runs, bound where, node counts, start-up warnings', run: lazy(admin, 'statusCommand') }),
];

export interface CommandIo {
  readonly out: Output;
  readonly err: Output;
}

/**
 * Runs one command line: its help, or the command, with any CliError turned into its message on
 * `err` and its exit code. Anything else is a bug and propagates with its stack.
 */
export async function runCommandLine(argv: readonly string[], io: CommandIo, table: readonly Command[] = COMMANDS): Promise<Outcome> {
  let words = '';
  try {
    const parsed = parseCommandLine(table, argv, DEFAULT_COMMAND);
    if (parsed.kind === 'help') {
      // Help text is not the daemon's business: loaded only when asked for.
      const { commandHelp } = await import('./help.ts');
      io.out.write(commandHelp(table, parsed.topic, DEFAULT_COMMAND) + '\n');
      return 0;
    }
    words = parsed.words;
    return await parsed.command.run({ values: parsed.values, operands: parsed.operands, out: io.out, err: io.err });
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    const topic = err instanceof UsageError && err.topic !== undefined ? err.topic : words;
    io.err.write(`pxe-pilot${topic ? ` ${topic}` : ''}: ${err.message.replace(/\n?$/, '\n')}`);
    if (err instanceof UsageError) io.err.write((await import('./help.ts')).usageReminder(table, topic, DEFAULT_COMMAND) + '\n');
    return err.exitCode;
  }
}
