// A command line against the command table: which command it names, its flags and operands, or
// a UsageError saying what to fix. Pure; node:util parseArgs splits the flags.
import { parseArgs } from 'node:util';
import { HELP_OPTIONS, UsageError, type Command, type FlagValue, type OptionSpec, type OptionTable } from './command.ts';

export type Parsed =
  | { readonly kind: 'help'; readonly topic: string }
  | { readonly kind: 'run'; readonly command: Command; readonly words: string; readonly values: Record<string, FlagValue>; readonly operands: string[] };

/** The commands whose name is `words` or starts with `words` and a space. */
export function commandsUnder(table: readonly Command[], words: string): Command[] {
  return table.filter((c) => words === '' || c.name === words || c.name.startsWith(words + ' '));
}

export function optionsOf(command: Command): OptionTable {
  return { ...command.options, ...HELP_OPTIONS };
}

/** The long name a flag token stands for among these commands' options (`-c` is config). */
function flagName(token: string, candidates: readonly Command[]): string {
  if (token.startsWith('--')) return token.slice(2).split('=', 1)[0]!;
  for (const c of candidates) for (const [name, spec] of Object.entries(optionsOf(c))) if (spec.short === token.slice(1)) return name;
  return token.slice(1);
}

/** Whether the token after this flag is its value: a string flag in every candidate that has it. */
function takesValue(name: string, candidates: readonly Command[]): boolean {
  const specs = candidates.map((c) => optionsOf(c)[name]).filter((s): s is OptionSpec => s !== undefined);
  return specs.length > 0 && specs.every((s) => s.type === 'string');
}

/**
 * The command words: the leading positionals that spell a command's name, wherever flags stand
 * between them (`--config F assets add x.iso`). Returns their indexes in argv.
 */
function commandWords(table: readonly Command[], argv: readonly string[]): number[] {
  const indexes: number[] = [];
  let words = '';
  let candidates = table;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-') && arg !== '-') {
      if (!arg.includes('=') && /^(--[^-]|-[^-]$)/.test(arg) && takesValue(flagName(arg, candidates), candidates)) i++;
      continue;
    }
    if (arg === '' || /\s/.test(arg)) break; // an operand: no command word is empty or has a space
    const next = words === '' ? arg : `${words} ${arg}`;
    const narrowed = commandsUnder(table, next);
    if (narrowed.length === 0) break;
    words = next;
    candidates = narrowed;
    indexes.push(i);
  }
  return indexes;
}

function subcommandNames(table: readonly Command[], words: string): string[] {
  const depth = words === '' ? 0 : words.split(' ').length;
  return [
    ...new Set(
      commandsUnder(table, words)
        .filter((c) => c.name !== words)
        .map((c) => c.name.split(' ')[depth]!),
    ),
  ];
}

function oneOf(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/**
 * Reads argv (without node and the script) against the table; `defaultCommand` runs when no
 * command word is given. Throws UsageError for anything the user has to fix.
 */
export function parseCommandLine(table: readonly Command[], argv: readonly string[], defaultCommand: string): Parsed {
  const wordIndexes = commandWords(table, argv);
  const words = wordIndexes.map((i) => argv[i]!).join(' ');
  const rest = argv.filter((_, i) => !wordIndexes.includes(i));
  const command = table.find((c) => c.name === (words === '' ? defaultCommand : words));
  // Only the start of a name (`store`): its commands' flags, so `store --config F vacuum` reads.
  const options: OptionTable = command ? optionsOf(command) : Object.fromEntries(commandsUnder(table, words).flatMap((c) => Object.entries(optionsOf(c))));
  const { tokens } = parseArgs({ args: [...rest], options: parseArgsOptions(options), strict: false, allowPositionals: true, tokens: true });

  if (tokens.some((t) => t.kind === 'option' && t.name === 'help' && t.value === undefined)) return { kind: 'help', topic: words };
  const operands = tokens.filter((t) => t.kind === 'positional').map((t) => t.value);

  // The first problem in the order typed: `--confg x` is a misspelt flag, not a command "x".
  const values: Record<string, FlagValue> = {};
  for (const token of tokens) {
    if (token.kind === 'positional' && words === '') throw new UsageError(`unknown command ${JSON.stringify(token.value)}`, '');
    if (token.kind !== 'option') continue;
    const spec = options[token.name];
    if (!spec) throw new UsageError(`unknown flag ${token.rawName}${suggestion(token.rawName, options)}`, words);
    if (spec.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value (remove "=${token.value}")`, words);
      values[token.name] = true;
      continue;
    }
    const placeholder = spec.value ?? 'VALUE';
    if (token.value === undefined) throw new UsageError(`${token.rawName} needs a value: ${token.rawName} ${placeholder}`, words);
    if (!token.inlineValue && token.value.startsWith('-') && token.value !== '-')
      throw new UsageError(
        `${token.rawName} needs a value before ${token.value} (a value that starts with "-" is written ${token.rawName}=${token.value})`,
        words,
      );
    values[token.name] = spec.multiple ? [...((values[token.name] as string[] | undefined) ?? []), token.value] : token.value;
  }

  const subcommands = subcommandNames(table, words);
  if (!command) {
    if (operands.length > 0) throw new UsageError(`unknown subcommand ${JSON.stringify(operands[0])}: one of ${oneOf(subcommands)}`, words);
    throw new UsageError(`missing subcommand: ${oneOf(subcommands)}`, words);
  }
  delete values.help;
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.type === 'boolean') values[name] = values[name] === true;
    else if (spec.multiple) values[name] ??= [];
    else if (spec.required && values[name] === undefined) throw new UsageError(`--${name} is required: ${spec.help}`, words);
    else if (!(name in values)) values[name] = undefined; // every flag has its key
  }

  const declared = command.operands ?? [];
  if (operands.length > declared.length) {
    const extra = JSON.stringify(operands[declared.length]);
    if (declared.length === 0 && subcommands.length > 0) throw new UsageError(`unknown subcommand ${extra}: one of ${oneOf(subcommands)}`, words);
    throw new UsageError(`unexpected ${extra}${declared.length === 0 ? `: ${words || defaultCommand} takes no operands` : ''}`, words);
  }
  const missing = declared.slice(operands.length).find((o) => !o.optional);
  if (missing) throw new UsageError(`missing ${missing.name}: ${missing.help}`, words);
  return { kind: 'run', command, words, values, operands };
}

function parseArgsOptions(options: OptionTable): Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> {
  return Object.fromEntries(
    Object.entries(options).map(([name, s]) => [name, { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) }]),
  );
}

/** "; did you mean --state?" when a known flag differs from the typed one by a slip. */
function suggestion(raw: string, options: OptionTable): string {
  const typed = raw.replace(/^-+/, '');
  const near = Object.keys(options).find((name) => name !== 'help' && (name.startsWith(typed) || typed.startsWith(name) || editDistance(name, typed) <= 2));
  return near && typed.length > 1 ? `; did you mean --${near}?` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length]!;
}
