// Reads an iPXE script the way the probe needs it: which URL it chains to, or which kernel and
// initrds it loads, and what it says (echo) when it gives up. Pure: text in, a typed value out.
// Not an iPXE interpreter: it follows goto and a menu's default choice, nothing conditional;
// the first chain or kernel reached decides.

export interface IpxeCommand {
  /** 1-based line number in the script. */
  line: number;
  /** The command; ':' for a label line, whose args[0] is the label. */
  name: string;
  /** `--name X`, `--name=X` → value; `--autofree` → true. */
  options: Record<string, string | true>;
  args: string[];
}

export type IpxeParseResult = { ok: true; commands: IpxeCommand[] } | { ok: false; reason: string };

/** Options of kernel/initrd/chain/imgfetch that take a value (all others are flags). */
const VALUE_OPTIONS = new Set(['name', 'timeout', 'default', 'key']);

/** The part of a line before `||` or `&&` (iPXE's error handling), without surrounding blanks. */
function commandPart(line: string): string {
  const cut = line.search(/\s(\|\||&&)(\s|$)/);
  return (cut < 0 ? line : line.slice(0, cut)).trim();
}

function parseLine(text: string, line: number): IpxeCommand | null {
  const trimmed = commandPart(text.trim());
  if (trimmed === '' || trimmed.startsWith('#')) return null;
  if (trimmed.startsWith(':')) return { line, name: ':', options: {}, args: [trimmed.slice(1).trim()] };
  const tokens = trimmed.split(/\s+/);
  const name = tokens.shift()!;
  const options: Record<string, string | true> = {};
  while (tokens.length > 0 && tokens[0]!.startsWith('--') && tokens[0]!.length > 2) {
    const token = tokens.shift()!;
    const eq = token.indexOf('=');
    if (eq > 0) options[token.slice(2, eq)] = token.slice(eq + 1);
    else if (VALUE_OPTIONS.has(token.slice(2)) && tokens.length > 0) options[token.slice(2)] = tokens.shift()!;
    else options[token.slice(2)] = true;
  }
  return { line, name, options, args: tokens };
}

/** Splits a script into commands; refuses text that does not start with the `#!ipxe` signature. */
export function parseIpxeScript(text: string): IpxeParseResult {
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) return { ok: false, reason: 'the script is empty' };
  if (!lines[first]!.trim().startsWith('#!ipxe'))
    return { ok: false, reason: `not an iPXE script: it starts with ${JSON.stringify(lines[first]!.trim().slice(0, 40))}` };
  const commands: IpxeCommand[] = [];
  lines.forEach((l, i) => {
    const command = parseLine(l, i + 1);
    if (command) commands.push(command);
  });
  return { ok: true, commands };
}

/**
 * Replaces `${name}` and `${name:type}` as iPXE does: a variable it does not know expands to
 * nothing. `vars` is looked up by the whole "name:type" first, then by "name".
 */
export function expandIpxeVariables(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([^}]*)\}/g, (_whole, key: string) => {
    if (Object.hasOwn(vars, key)) return vars[key]!;
    const name = key.split(':')[0]!;
    return Object.hasOwn(vars, name) ? vars[name]! : '';
  });
}

export interface BootImage {
  url: string;
  /** The initrd's --name, if any. */
  name?: string;
}

/** What a script makes the machine do next. */
export type ScriptOutcome =
  { kind: 'chain'; url: string } | { kind: 'kernel'; kernel: BootImage; args: string; initrds: BootImage[] } | { kind: 'exit'; said: string[] };

const CHAIN = new Set(['chain', 'boot']);
const KERNEL = new Set(['kernel', 'imgexec']);
const INITRD = new Set(['initrd', 'module']);

/** Commands run before giving up on a script that loops (goto back and forth). */
const MAX_STEPS = 10_000;

/**
 * Runs the script's control flow as far as the probe needs: `goto LABEL`, and `choose` takes
 * its `--default` (the menu times out to it, as an unattended machine does). The first chain
 * or kernel reached decides; initrds after a kernel belong to it. A `boot` with a URL chains
 * like `chain`. A script that reaches `exit` (or its end) first returns to the firmware; what
 * it echoed says why.
 */
export function scriptOutcome(commands: readonly IpxeCommand[]): ScriptOutcome {
  const labels = new Map<string, number>();
  commands.forEach((c, i) => {
    if (c.name === ':' && c.args[0] && !labels.has(c.args[0])) labels.set(c.args[0], i);
  });
  const said: string[] = [];
  let kernel: { kernel: BootImage; args: string } | null = null;
  const initrds: BootImage[] = [];
  let at = 0;
  for (let steps = 0; at < commands.length && steps < MAX_STEPS; steps++) {
    const command = commands[at]!;
    at += 1;
    const jump =
      command.name === 'goto'
        ? command.args[0]
        : command.name === 'choose' && typeof command.options.default === 'string'
          ? command.options.default
          : undefined;
    if (jump !== undefined) {
      const to = labels.get(jump);
      if (to === undefined) break; // iPXE fails the goto; with no `||` the script ends
      at = to + 1;
      continue;
    }
    if (kernel) {
      if (INITRD.has(command.name) && command.args[0]) {
        const name = command.options.name;
        initrds.push({ url: command.args[0], ...(typeof name === 'string' ? { name } : {}) });
      } else if (command.name === 'boot' || command.name === 'exit') break;
      continue;
    }
    if (command.name === 'echo') said.push(command.args.join(' '));
    else if (CHAIN.has(command.name) && command.args[0]) return { kind: 'chain', url: command.args[0] };
    else if (KERNEL.has(command.name) && command.args[0]) kernel = { kernel: { url: command.args[0] }, args: command.args.slice(1).join(' ') };
    else if (command.name === 'exit') break;
  }
  if (kernel) return { kind: 'kernel', ...kernel, initrds };
  return { kind: 'exit', said };
}
