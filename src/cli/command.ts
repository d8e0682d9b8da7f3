// What a pxe-pilot command is: its name, operands and flags as data (help and parsing are generated
// from them), the flag groups several commands share, and how a command stops with an exit code.

/** Where every command looks for the profile unless --config says otherwise. */
export const DEFAULT_CONFIG_FILE = '/etc/pxe-pilot/pxe-pilot.ini';

/** Exit codes: 0 done, 1 it ran and failed, 2 the command line or the profile needs fixing. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The flag may be given more than once; its value is the list. */
  readonly multiple?: boolean;
  /** Refused before the command runs when missing. */
  readonly required?: boolean;
  /** The value's placeholder in help: `--config FILE`. */
  readonly value?: string;
  readonly help: string;
  /** One of the shared groups: left out of the one-line overview of every command. */
  readonly shared?: boolean;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** A parsed flag: true/false, a string (absent: undefined), or the list of a repeatable one. */
export type FlagValue = boolean | string | string[] | undefined;

type ValueOf<S extends OptionSpec> = OptionSpec extends S
  ? FlagValue
  : S['type'] extends 'boolean'
    ? boolean
    : S['multiple'] extends true
      ? string[]
      : S['required'] extends true
        ? string
        : string | undefined;

export type Values<O extends OptionTable> = { readonly [K in keyof O]: ValueOf<O[K]> };

export interface Operand {
  /** As help shows it: MAC, SOURCE. */
  readonly name: string;
  /** What to give, completing "missing MAC: …". */
  readonly help: string;
  readonly optional?: boolean;
}

export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** What a command's `run` gets: its flags' values (typed by its options), operands and outputs. */
export interface CommandContext<V = Values<OptionTable>> {
  readonly values: V;
  readonly operands: readonly string[];
  readonly out: Output;
  readonly err: Output;
}

/** A finished command's exit code, or 'running': the daemon, which stops on a signal. */
export type Outcome = number | 'running';

export interface Command<O extends OptionTable = OptionTable> {
  /** The words that select it: 'nodes show'. */
  readonly name: string;
  readonly summary: string;
  /** More help, printed under the flags. */
  readonly details?: string;
  readonly operands?: readonly Operand[];
  readonly options: O;
  /** What exit 1 means for this command, when more can be said than that it failed. */
  readonly failure?: string;
  /** Imports its implementation when it runs, so no command loads another's code. */
  readonly run: (context: CommandContext<Values<O>>) => Promise<Outcome>;
}

/** Types `run`'s values by the row's own options; the table holds rows of any options. */
export function defineCommand<const O extends OptionTable>(command: Command<O>): Command {
  return command as unknown as Command;
}

// ---- shared flag groups ----

export const HELP_OPTIONS = { help: { type: 'boolean', short: 'h', help: 'this help', shared: true } } as const satisfies OptionTable;

export const CONFIG_OPTIONS = {
  config: { type: 'string', short: 'c', value: 'FILE', help: `the profile (default ${DEFAULT_CONFIG_FILE})`, shared: true },
  set: {
    type: 'string',
    multiple: true,
    value: 'SECTION.KEY=VALUE',
    help: 'override one key of the profile, validated as in the file ("host MAC.KEY=VALUE" for a [host])',
    shared: true,
  },
} as const satisfies OptionTable;

export const JSON_OPTIONS = { json: { type: 'boolean', help: 'machine-readable output (JSON)', shared: true } } as const satisfies OptionTable;

/** The commands that ask the running daemon through its admin API. */
export const DAEMON_CLIENT_OPTIONS = {
  config: {
    ...CONFIG_OPTIONS.config,
    help: `the profile whose [http] bind, port and admin_token reach the daemon (default ${DEFAULT_CONFIG_FILE})`,
  },
  url: {
    type: 'string',
    value: 'URL',
    help: "the daemon's address instead (or PXE_PILOT_URL); a token in PXE_PILOT_TOKEN wins over the profile's",
    shared: true,
  },
  ...JSON_OPTIONS,
} as const satisfies OptionTable;

export function configFileOf(values: { readonly config?: string | undefined }): string {
  return values.config ?? DEFAULT_CONFIG_FILE;
}

// ---- how a command stops ----

/** A command stops with this message on stderr and this exit code (no stack trace). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/**
 * The command line (or what it names) is wrong: exit 2, the message says what to fix and the
 * usage follows, of `topic` (a command or a group of them; '' for every command) or else of
 * the command that ran.
 */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly topic?: string,
  ) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}
