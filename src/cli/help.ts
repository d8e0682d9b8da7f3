// Help and usage text, generated from the command table: what `--help` prints and what follows a
// usage error.
import { DEFAULT_CONFIG_FILE, type Command, type Operand, type OptionSpec } from './command.ts';
import { commandsUnder, optionsOf } from './parse.ts';

const WIDTH = 100;
const SUMMARY_COLUMN = 44;
/** Longer overview lines show `[flags...]` for the optional flags. */
const OVERVIEW_LINE = 80;
const GENERIC_FAILURE = 'it ran and failed (the message says what failed)';

function flagUsage(name: string, spec: OptionSpec): string {
  const flag = spec.type === 'string' ? `--${name} ${spec.value ?? 'VALUE'}${spec.multiple ? '...' : ''}` : `--${name}`;
  return spec.required ? flag : `[${flag}]`;
}

/**
 * `pxe-pilot nodes reinstall MAC [--profile P] …`. `brief` (the overview's one line) leaves out
 * the shared flags, and the optional ones too where they would not fit.
 */
export function usageLine(command: Command, defaultCommand: string, brief = false): string {
  const head = ['pxe-pilot', command.name === defaultCommand ? `[${command.name}]` : command.name];
  for (const o of command.operands ?? []) head.push(o.optional ? `[${o.name}]` : o.name);
  const flags = Object.entries(command.options).filter(([, spec]) => !(brief && spec.shared));
  const required = flags.filter(([, spec]) => spec.required).map(([name, spec]) => flagUsage(name, spec));
  const optional = flags.filter(([, spec]) => !spec.required).map(([name, spec]) => flagUsage(name, spec));
  const words = [...head, ...required, ...optional];
  if (brief && words.join(' ').length > OVERVIEW_LINE) return [...head, ...required, '[flags...]'].join(' ');
  // Continuation lines indented under the command (the caller indents the first by two).
  const lines = [''];
  for (const word of words) {
    const last = lines.at(-1)!;
    if (last !== '' && last.length + 1 + word.length > WIDTH - 2) lines.push(`      ${word}`);
    else lines[lines.length - 1] = last === '' ? word : `${last} ${word}`;
  }
  return lines.join('\n  ');
}

/** One aligned row per operand and flag: the command's own flags first, the shared ones, then --help. */
function flagRows(operands: readonly Operand[], options: ReadonlyMap<string, OptionSpec>): string[] {
  const rank = (name: string, spec: OptionSpec): number => (name === 'help' ? 2 : spec.shared ? 1 : 0);
  const flags = [...options].sort(([a, sa], [b, sb]) => rank(a, sa) - rank(b, sb));
  const rows: [string, string][] = [
    ...operands.map((o): [string, string] => [o.name, o.help]),
    ...flags.map(([name, spec]): [string, string] => [
      `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`,
      spec.help + (spec.multiple ? ' (may be given more than once)' : '') + (spec.required ? ' (required)' : ''),
    ]),
  ];
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

/** Each flag once, as the first command that has it describes it. */
function firstOfEach(entries: Iterable<readonly [string, OptionSpec]>): Map<string, OptionSpec> {
  const map = new Map<string, OptionSpec>();
  for (const [name, spec] of entries) if (!map.has(name)) map.set(name, spec);
  return map;
}

function exitLine(failures: readonly string[]): string {
  const distinct = [...new Set(failures)];
  return `exit: 0 done, 1 ${distinct.length === 1 ? distinct[0] : GENERIC_FAILURE}, 2 a bad command line or profile (the message says what to fix)`;
}

/** `--help` of one command, of every command under a group name (`store`, `nodes`), or '' for the overview. */
export function commandHelp(table: readonly Command[], topic: string, defaultCommand: string): string {
  if (topic === '') return overview(table, defaultCommand);
  const commands = commandsUnder(table, topic);
  const operands = new Map(commands.flatMap((c) => (c.operands ?? []).map((o) => [o.name, o] as const)));
  const options = firstOfEach(commands.flatMap((c) => Object.entries(optionsOf(c))));
  const details = commands.map((c) => c.details).filter(Boolean);
  return [
    'usage:',
    ...commands.map((c) => `  ${usageLine(c, defaultCommand)}\n      ${c.summary}`),
    '',
    ...flagRows([...operands.values()], options),
    ...(details.length > 0 ? ['', ...details] : []),
    exitLine(commands.map((c) => c.failure ?? GENERIC_FAILURE)),
  ].join('\n');
}

function overview(table: readonly Command[], defaultCommand: string): string {
  const daemon = table.find((c) => c.name === defaultCommand);
  // The daemon's flags, then every flag several commands share (each once).
  const options = firstOfEach([
    ...Object.entries(daemon ? optionsOf(daemon) : {}),
    ...table.flatMap((c) => Object.entries(optionsOf(c))).filter(([, spec]) => spec.shared),
  ]);
  return [
    'usage:',
    ...table.map((c) => {
      const usage = usageLine(c, defaultCommand, true);
      const fits = !usage.includes('\n') && usage.length < SUMMARY_COLUMN - 3;
      return fits ? `  ${usage.padEnd(SUMMARY_COLUMN - 2)}${c.summary}` : `  ${usage}\n${' '.repeat(SUMMARY_COLUMN)}${c.summary}`;
    }),
    '',
    'flags (pxe-pilot <command> --help lists the flags of each command):',
    ...flagRows([], options),
    '',
    `default FILE: ${DEFAULT_CONFIG_FILE}`,
    exitLine([GENERIC_FAILURE]),
  ].join('\n');
}

/** What follows a usage error: the usage lines of the topic, and where its whole help is. */
export function usageReminder(table: readonly Command[], topic: string, defaultCommand: string): string {
  const lines =
    topic === ''
      ? [
          ...table.filter((c) => c.name === defaultCommand).map((c) => usageLine(c, defaultCommand)),
          `pxe-pilot <command> … with a command of: ${[...new Set(table.filter((c) => c.name !== defaultCommand).map((c) => c.name.split(' ')[0]))].join(', ')}`,
        ]
      : commandsUnder(table, topic).map((c) => usageLine(c, defaultCommand));
  return `usage:\n${lines.map((l) => `  ${l}`).join('\n')}\n(pxe-pilot${topic ? ` ${topic}` : ''} --help says more)`;
}
