// The command table as a user meets it: every command's --help names its flags, every flag it
// does not have is exit 2 naming that flag, and what else a user can get wrong is exit 2 with
// what to fix. Parsing and help run in this process against the real rows with `run` replaced,
// so nothing starts; a few command lines go through the real process for its exit codes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { COMMANDS, DEFAULT_COMMAND, runCommandLine } from '../../src/cli/commands.ts';
import { DEFAULT_CONFIG_FILE, type Command, type CommandContext } from '../../src/cli/command.ts';
import { NODE_LIFECYCLES } from '../../src/boot/lifecycle.ts';
import { LOG_FORMATS } from '../../src/log.ts';
import { ARCHS } from '../../src/probe/probe.ts';
import { cliArgv } from '../helpers/cli.ts';
import { startLoopbackDaemon } from '../helpers/loopback-daemon.ts';

interface Ran {
  name: string;
  values: CommandContext['values'];
  operands: readonly string[];
}

/** The real rows, each `run` replaced by a recorder. */
function dryTable(): { table: Command[]; ran: Ran[] } {
  const ran: Ran[] = [];
  const table = COMMANDS.map((c) => ({ ...c, run: async ({ values, operands }: CommandContext) => (ran.push({ name: c.name, values, operands }), 0) }));
  return { table, ran };
}

async function dry(argv: string[]): Promise<{ code: number | 'running'; stdout: string; stderr: string; ran: Ran[] }> {
  const { table, ran } = dryTable();
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(argv, { out: { write: (s: string) => (stdout += s) }, err: { write: (s: string) => (stderr += s) } }, table);
  return { code, stdout, stderr, ran };
}

const wordsOf = (c: Command): string[] => (c.name === DEFAULT_COMMAND ? [] : c.name.split(' '));

for (const command of COMMANDS) {
  const typed = ['pxe-pilot', ...wordsOf(command)].join(' ');

  test(`${typed} --help exits 0 and names each operand and flag; an unknown flag exits 2 naming it`, async () => {
    const help = await dry([...wordsOf(command), '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.equal(help.stderr, '');
    assert.deepEqual(help.ran, [], '--help runs nothing');
    for (const flag of [...Object.keys(command.options), 'help']) assert.match(help.stdout, new RegExp(`--${flag}\\b`), `${typed} --help names --${flag}`);
    for (const o of command.operands ?? []) assert.ok(help.stdout.includes(o.name), `${typed} --help names ${o.name}`);
    assert.deepEqual((await dry([...wordsOf(command), '-h'])).stdout, help.stdout, '-h is --help');

    for (const flag of ['--no-such-flag', '--no-such-flag=1', '-Z']) {
      const bad = await dry([...wordsOf(command), flag]);
      assert.equal(bad.code, 2, `${typed} ${flag}: ${bad.stderr}`);
      assert.match(bad.stderr, new RegExp(`^${typed}: unknown flag ${flag.split('=')[0]}`, 'm'));
      assert.match(bad.stderr, /^usage:/m);
      assert.equal(bad.stdout, '');
      assert.deepEqual(bad.ran, [], 'a bad flag runs nothing');
    }
  });
}

test('pxe-pilot --help: every command with its summary, the daemon’s flags and the shared ones, the default profile', async () => {
  const r = await dry(['--help']);
  assert.equal(r.code, 0);
  for (const c of COMMANDS) assert.ok(r.stdout.includes(`pxe-pilot ${c.name === DEFAULT_COMMAND ? `[${c.name}]` : c.name}`), c.name);
  for (const c of COMMANDS) assert.ok(r.stdout.includes(c.summary), c.summary);
  for (const flag of ['--config', '--log-format', '--version', '--url', '--json', '--help']) assert.ok(r.stdout.includes(flag), flag);
  assert.ok(r.stdout.includes(`default FILE: ${DEFAULT_CONFIG_FILE}`));
});

test('--help lists the values a flag takes, from the lists the commands check against', async () => {
  const probe = (await dry(['probe', '--help'])).stdout;
  for (const arch of ARCHS) assert.ok(probe.includes(arch), `probe --help names ${arch}`);
  const daemon = (await dry(['run', '--help'])).stdout;
  for (const format of LOG_FORMATS) assert.ok(daemon.includes(format), `run --help names ${format}`);
  const nodes = (await dry(['nodes', '--help'])).stdout;
  for (const state of NODE_LIFECYCLES) assert.ok(nodes.includes(state), `nodes --help names ${state}`);
  for (const sub of ['show', 'cancel', 'local-boot']) assert.ok(nodes.includes(`pxe-pilot nodes ${sub} MAC`), sub);
  // reinstall takes a MAC, or --macs / --all --rule with --now.
  assert.ok(nodes.includes('pxe-pilot nodes reinstall [MAC]'), 'reinstall');
  const configHelp = COMMANDS.filter((c) => 'config' in c.options);
  for (const c of configHelp)
    assert.ok((await dry([...wordsOf(c), '--help'])).stdout.includes(DEFAULT_CONFIG_FILE), `${c.name} --help names the default profile`);
});

test('flags stand anywhere, also before the command words; values arrive typed', async () => {
  const add = await dry(['--config', '/p.ini', 'assets', 'add', 'x.iso', '--initrd', 'a', '--initrd=b', '--force', '--version', '9.1']);
  assert.deepEqual(add.ran, [
    {
      name: 'assets add',
      operands: ['x.iso'],
      values: {
        config: '/p.ini',
        set: [],
        product: undefined,
        version: '9.1',
        'answer-url': undefined,
        'cert-fingerprint': undefined,
        'answer-token': undefined,
        force: true,
        kernel: undefined,
        initrd: ['a', 'b'],
        sha256: undefined,
        sha256sums: undefined,
        kind: undefined,
      },
    },
  ]);
  const show = await dry(['-c', '/p.ini', 'nodes', '--json', 'show', '52:54:00:12:34:56']);
  assert.equal(show.ran[0]?.name, 'nodes show');
  assert.deepEqual(show.ran[0]?.operands, ['52:54:00:12:34:56']);
  assert.equal(show.ran[0]?.values.json, true);
  // --version is the daemon's flag before any command, and assets add's own after it.
  const version = await dry(['--version']);
  assert.equal(version.ran[0]?.name, DEFAULT_COMMAND);
  assert.equal(version.ran[0]?.values.version, true);
  const daemon = await dry(['--config', '/p.ini', '--set', 'http.port=8081', '--log-format', 'json', '--set', 'host 52:54:00:12:34:56.action=local']);
  assert.deepEqual(daemon.ran[0]?.values, {
    config: '/p.ini',
    set: ['http.port=8081', 'host 52:54:00:12:34:56.action=local'],
    'log-format': 'json',
    version: false,
  });
  const follow = await dry(['events', '-f', '--limit', '5', '--', '-not-a-flag']);
  assert.equal(follow.code, 2, 'events takes no operands, also after --');
  assert.match(follow.stderr, /unexpected "-not-a-flag"/);
});

test('what a user can get wrong on the command line: exit 2, what to fix, the usage, nothing run', async () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /^pxe-pilot: unknown command "frobnicate"$/m],
    [['--confg', 'x.ini'], /^pxe-pilot: unknown flag --confg; did you mean --config\?$/m],
    [['store'], /^pxe-pilot store: missing subcommand: migrate or copy$/m],
    [['store', 'vacuum'], /^pxe-pilot store: unknown subcommand "vacuum": one of migrate or copy$/m],
    [
      ['nodes', 'frob', '52:54:00:12:34:56'],
      /^pxe-pilot nodes: unknown subcommand "frob": one of ls, show, enrol, unenrol, reinstall, cancel, release, local-boot or power$/m,
    ],
    [['explain'], /^pxe-pilot explain: missing MAC: a MAC address, e\.g\. 52:54:00:12:34:56$/m],
    [['check-config', 'extra'], /^pxe-pilot check-config: unexpected "extra": check-config takes no operands$/m],
    [['nodes', 'local-boot', '52:54:00:12:34:56', 'exit', 'more'], /^pxe-pilot nodes local-boot: unexpected "more"$/m],
    [['probe', '--arch', 'bios'], /^pxe-pilot probe: --mac is required: /m],
    [['store', 'copy', '--from', 'sqlite:/x'], /^pxe-pilot store copy: --to is required: /m],
    [['nodes', '--state'], /^pxe-pilot nodes: --state needs a value: --state S$/m],
    [['nodes', '--state', '--json'], /--state needs a value before --json \(a value that starts with "-" is written --state=--json\)/],
    [['status', '--json=yes'], /^pxe-pilot status: --json takes no value/m],
    [['assets', 'ls', '--force'], /^pxe-pilot assets ls: unknown flag --force$/m],
  ];
  for (const [argv, message] of cases) {
    const r = await dry(argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, argv.join(' '));
    assert.match(r.stderr, /^usage:\n {2}pxe-pilot /m, argv.join(' '));
    assert.deepEqual(r.ran, [], argv.join(' '));
  }
});

test('a value the command refuses is exit 2 with what to fix, before anything is asked of the daemon', async () => {
  // The real commands; the unreachable URL shows nothing was sent (that would be exit 1).
  const url = ['--url', 'http://127.0.0.1:9'];
  const cases: [string[], RegExp][] = [
    [['nodes', 'show', 'not-a-mac', ...url], /^pxe-pilot nodes show: "not-a-mac" is not a MAC address/m],
    [
      ['nodes', '--state', 'sleeping', ...url],
      /--state must be one of seen, install-pending, installing, installed, deploy-failed, wipe-pending, wiping, not "sleeping"/,
    ],
    [['nodes', 'reinstall', '52:54:00:12:34:56', '--profile', 'debian', ...url], /--profile must be <product>\/<version>/],
    [['nodes', 'local-boot', '52:54:00:12:34:56', ...url], /local-boot takes one iPXE command \(quote it\) or --clear/],
    [['events', '--limit', 'lots', ...url], /--limit "lots": give a whole number from 1 to 99999/],
    [['events', '--mac', 'nope', ...url], /--mac "nope" is not a MAC address/],
    [['status', '--url', 'ftp://x'], /--url "ftp:\/\/x" is not an http:\/\/ or https:\/\/ address/],
    [['explain', 'zz'], /^pxe-pilot explain: "zz" is not a MAC address/m],
    [['explain', '52:54:00:12:34:56', '--limit', '0'], /--limit "0": give a whole number from 1 to 1000/],
    [['--log-format', 'xml', '--config', '/nonexistent.ini'], /--log-format must be one of auto, json, pretty, not "xml"/],
  ];
  for (const [argv, message] of cases) {
    let stderr = '';
    const code = await runCommandLine(argv, { out: { write: () => undefined }, err: { write: (s: string) => (stderr += s) } });
    assert.equal(code, 2, `${argv.join(' ')}: ${stderr}`);
    assert.match(stderr, message, argv.join(' '));
  }
});

test('the real process: a bad flag is exit 2 naming it; --help exit 0; an unreachable daemon exit 1 naming the URL', async () => {
  const run = promisify(execFile);
  const pxePilot = async (args: string[]) => {
    const [node, ...argv] = cliArgv(args);
    return run(node!, argv, { encoding: 'utf8', env: { ...process.env, PXE_PILOT_URL: '', PXE_PILOT_TOKEN: '' } }).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  };
  const bad = await pxePilot(['store', 'migrate', '--bogus']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^pxe-pilot store migrate: unknown flag --bogus$/m);
  const help = await pxePilot(['assets', 'add', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--sha256sums URL/);
  const down = await pxePilot(['images', '--url', 'http://127.0.0.1:9', '--json']);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^pxe-pilot images: the daemon is unreachable at http:\/\/127\.0\.0\.1:9\/images /m);
});

const recordDir = mkdtempSync(join(tmpdir(), 'pxp-cli-modules-'));
after(() => rmSync(recordDir, { recursive: true, force: true }));

test('the daemon loads the command table and its own command, no other command’s code', async () => {
  const record = join(recordDir, 'modules.txt');
  const hook = fileURLToPath(new URL('../helpers/record-modules.mjs', import.meta.url));
  const daemon = await startLoopbackDaemon({ env: { NODE_OPTIONS: `--import=${hook}`, PXE_PILOT_RECORD_MODULES: record } });
  let loaded: string[];
  try {
    loaded = readFileSync(record, 'utf8')
      .split('\n')
      .filter((url) => /\/src\/cli(\.ts|\/)/.test(url))
      .map((url) => url.replace(/^.*\/src\//, 'src/'));
  } finally {
    await daemon.stop();
  }
  assert.deepEqual([...new Set(loaded)].sort(), [
    'src/cli.ts',
    'src/cli/command.ts',
    'src/cli/commands.ts',
    'src/cli/parse.ts',
    'src/cli/profile.ts',
    'src/cli/run-daemon.ts',
  ]);
});
