// Properties of the command-line parser over the real command table: any argv is a parse or a
// UsageError; a command line built from a command's own flags and operands, in any order, parses
// back to exactly them; a flag a command does not have is refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COMMANDS, DEFAULT_COMMAND } from '../../src/cli/commands.ts';
import { UsageError, type Command, type FlagValue } from '../../src/cli/command.ts';
import { optionsOf, parseCommandLine } from '../../src/cli/parse.ts';

const wordsOf = (c: Command): string[] => (c.name === DEFAULT_COMMAND ? [] : c.name.split(' '));

function parseOrUsage(argv: string[]): ReturnType<typeof parseCommandLine> | UsageError {
  try {
    return parseCommandLine(COMMANDS, argv, DEFAULT_COMMAND);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
}

test('any argv is a command with its values, a help topic, or a UsageError: nothing else is thrown', () => {
  const known = [
    ...new Set(COMMANDS.flatMap((c) => [...wordsOf(c), ...Object.keys(optionsOf(c)).flatMap((f) => [`--${f}`, `--${f}=x`])])),
    '-c',
    '-h',
    '-i',
    '-f',
    '-hc',
    '--',
    '-',
    '',
    '52:54:00:12:34:56',
  ];
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constantFrom(...known), fc.string({ maxLength: 12 })), { maxLength: 10 }), (argv) => {
      const r = parseOrUsage(argv);
      if (r instanceof UsageError) {
        assert.equal(r.exitCode, 2);
        assert.ok(r.message.length > 0);
        return;
      }
      if (r.kind === 'help') return;
      assert.ok(COMMANDS.includes(r.command));
      for (const o of r.operands) assert.equal(typeof o, 'string');
      for (const name of Object.keys(r.values)) assert.ok(name in r.command.options, `values only of ${r.command.name}'s own flags: ${name}`);
    }),
    { numRuns: 2000 },
  );
});

/** A command line for `command`: each piece is one flag (one or two tokens) or one operand. */
const commandLine = fc
  .constantFrom(...COMMANDS)
  .chain((command) => {
    const flags = Object.entries(command.options).map(([name, spec]) => {
      const spaced = fc.string({ maxLength: 8 }).filter((v) => !v.startsWith('-') || v === '-');
      const value = fc.oneof(
        spaced.map((v) => ({ tokens: [`--${name}`, v], value: v, early: false })),
        fc.string({ maxLength: 8 }).map((v) => ({ tokens: [`--${name}=${v}`], value: v, early: true })),
        ...(spec.short ? [spaced.map((v) => ({ tokens: [`-${spec.short}`, v], value: v, early: false }))] : []),
      );
      if (spec.type === 'boolean')
        return fc.option(fc.constant({ name, tokens: [spec.short && name.length % 2 ? `-${spec.short}` : `--${name}`], value: true, early: true }));
      if (spec.multiple)
        return fc.option(
          fc
            .array(value, { minLength: 1, maxLength: 3 })
            .map((vs) => ({ name, tokens: vs.flatMap((v) => v.tokens), value: vs.map((v) => v.value), early: false })),
        );
      const one = value.map((v) => ({ name, ...v, value: v.value as FlagValue }));
      return spec.required ? one : fc.option(one);
    });
    const declared = command.operands ?? [];
    const required = declared.filter((o) => !o.optional).length;
    const operand = fc.string({ maxLength: 10 }).filter((v) => !v.startsWith('-'));
    return fc.record({
      command: fc.constant(command),
      flags: fc.tuple(...flags),
      operands: fc.array(operand, { minLength: required, maxLength: declared.length }),
      order: fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
      early: fc.boolean(),
    });
  })
  .map(({ command, flags, operands, order, early }) => {
    const given = flags.filter((f): f is NonNullable<typeof f> => f !== null);
    // Flags in a shuffled order, operands kept in theirs, interleaved; some flags that read the
    // same for every command (`--x=v`, booleans) may stand before the command words.
    const moved = (f: (typeof given)[number]): boolean => early && f.early && f.tokens.length === 1;
    const shuffled = given
      .filter((f) => !moved(f))
      .map((f, i) => ({ tokens: [...f.tokens], key: order[i % order.length]! + i / 100 }))
      .sort((a, b) => a.key - b.key);
    const after: string[] = [];
    const rest = operands.map((o, i) => ({ tokens: [o], key: order[(i + 16) % order.length]! + i / 100 }));
    for (const f of shuffled) {
      while (rest.length > 0 && rest[0]!.key < f.key) after.push(...rest.shift()!.tokens);
      after.push(...f.tokens);
    }
    for (const o of rest) after.push(...o.tokens);
    const before = given.filter(moved).flatMap((f) => f.tokens);
    const expected: Record<string, FlagValue> = {};
    for (const [name, spec] of Object.entries(command.options)) expected[name] = spec.type === 'boolean' ? false : spec.multiple ? [] : undefined;
    for (const f of given) expected[f.name] = f.value;
    return { command, argv: [...before, ...wordsOf(command), ...after], values: expected, operands };
  });

test("a command line of a command's own flags and operands, in any order, parses back to exactly them", () => {
  fc.assert(
    fc.property(commandLine, ({ command, argv, values, operands }) => {
      const r = parseCommandLine(COMMANDS, argv, DEFAULT_COMMAND);
      assert.equal(r.kind, 'run');
      if (r.kind !== 'run') return;
      assert.equal(r.command.name, command.name);
      assert.deepEqual(r.values, values);
      assert.deepEqual(r.operands, operands);
    }),
    { numRuns: 3000 },
  );
});

test('a flag a command does not have is refused naming it, wherever it stands', () => {
  const valueFlags = new Set(
    COMMANDS.flatMap((c) =>
      Object.entries(optionsOf(c))
        .filter(([, spec]) => spec.type !== 'boolean')
        .map(([name]) => name),
    ),
  );
  const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/);
  fc.assert(
    fc.property(fc.constantFrom(...COMMANDS), name, fc.boolean(), fc.boolean(), (command, flag, first, inline) => {
      fc.pre(!(flag in optionsOf(command)));
      // Before the command's words, a flag that takes a value in some command (`--config F store
      // vacuum`) takes the next word as its value, so the words are not read as this command's.
      fc.pre(!(first && !inline && valueFlags.has(flag)));
      const typed = inline ? `--${flag}=1` : `--${flag}`;
      const argv = first ? [typed, ...wordsOf(command)] : [...wordsOf(command), typed];
      const r = parseOrUsage(argv);
      assert.ok(r instanceof UsageError, `${argv.join(' ')} is refused`);
      assert.match(r.message, new RegExp(`^unknown flag --${flag}(;|$)`));
      assert.equal(r.topic, command.name === DEFAULT_COMMAND ? '' : command.name);
    }),
    { numRuns: 1000 },
  );
});
