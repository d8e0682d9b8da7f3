// `pxe-pilot import`: an earlier pxe-pilot's settings, machines or answers brought in. Each source
// is read and checked whole first (bad input: the message and exit 2, nothing written); then the
// profile or answers are written atomically, or the machines go into the profile's store through
// its import port. Every run ends with what was not carried over, and why.
import { readFileSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { nextState } from '../boot/lifecycle.ts';
import { CliError, EXIT_FAILED, EXIT_USAGE, UsageError, type CommandContext, type Output } from '../cli/command.ts';
import { profileFor } from '../cli/profile.ts';
import type { Profile } from '../config/profile.ts';
import { silentLogger } from '../log.ts';
import type { ImportedNode } from '../store/import-nodes.ts';
import { answersRoot, checkAnswersFolder } from './answers.ts';
import { EnvFileError, fromFile, fromProcessEnvironment, type EnvSource } from './env-source.ts';
import { profileFromEnvironment, renderEnvProfile } from './env-profile.ts';
import { LegacySourceError, readLegacyDatabase, readSeed, type LegacyNodes } from './legacy-nodes.ts';
import { FileExistsError, writeFileAtomically } from './write-file.ts';

export interface ImportValues {
  readonly config?: string | undefined;
  readonly 'from-env': boolean;
  readonly 'from-db'?: string | undefined;
  readonly 'from-seed'?: string | undefined;
  readonly 'from-answers'?: string | undefined;
  readonly write?: string | undefined;
  readonly force: boolean;
  readonly 'arm-reinstall': boolean;
  readonly yes: boolean;
}

/** Machines written to the store per step, so a terminal can show progress. */
const STEP = 250;

function notCarried(out: Output, lines: readonly string[]): void {
  if (lines.length === 0) out.write('Everything was carried over.\n');
  else out.write(`Not carried over (${lines.length}):\n${lines.map((l) => `  ${l}\n`).join('')}`);
}

function usage(message: string): never {
  throw new UsageError(message, 'import');
}

export async function importCommand({ values, operands, out, err }: CommandContext<ImportValues>): Promise<number> {
  const sources = (['from-env', 'from-db', 'from-seed', 'from-answers'] as const).filter((k) => (k === 'from-env' ? values[k] : values[k] !== undefined));
  if (sources.length !== 1) usage('name one source: --from-env [FILE], --from-db pxe.db, --from-seed seed.yml or --from-answers DIR');
  const source = sources[0]!;
  if (operands.length > 0 && source !== 'from-env') usage(`FILE goes with --from-env only; --${source} takes its own value`);
  if (values['arm-reinstall'] && source !== 'from-db' && source !== 'from-seed') usage('--arm-reinstall goes with --from-db or --from-seed');
  if (values.write !== undefined && (source === 'from-db' || source === 'from-seed'))
    usage('--write goes with --from-env (the profile) or --from-answers (the answers folder); machines go into the store the profile names');
  switch (source) {
    case 'from-env':
      return importEnvironment(operands[0], values, out);
    case 'from-answers':
      return importAnswers(values['from-answers']!, values, out);
    default:
      return importNodes(source, values, out, err);
  }
}

// ---- --from-env ----

function readEnvSource(file: string | undefined): EnvSource {
  if (file === undefined) return fromProcessEnvironment(process.env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot read it: ${(err as Error).message}`, EXIT_USAGE);
  }
  try {
    const source = fromFile(text, file);
    // Bind mounts are relative to the compose file's folder.
    for (const [inside, outside] of source.mounts) if (!outside.startsWith('/')) source.mounts.set(inside, resolve(dirname(file), outside));
    return source;
  } catch (err) {
    if (err instanceof EnvFileError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

function importEnvironment(file: string | undefined, values: ImportValues, out: Output): number {
  const source = readEnvSource(file);
  if (source.vars.size === 0)
    throw new CliError(
      `${source.name}: no variable of either earlier pxe-pilot (PXE_PILOT_*, PXE_*, ADMIN_API_KEY)${source.notes.length ? `\n${source.notes.join('\n')}` : ''}`,
      EXIT_USAGE,
    );
  const profile = profileFromEnvironment(source);
  profile.notCarried.unshift(...source.notes);
  const text = renderEnvProfile(profile, source.name);
  if (values.write === undefined) {
    out.write(text);
    return 0;
  }
  try {
    // It may hold the admin token: readable by its owner only.
    writeFileAtomically(values.write, text, { force: values.force, mode: 0o600 });
  } catch (err) {
    if (err instanceof FileExistsError) throw new CliError(err.message, EXIT_USAGE);
    throw new CliError(`${values.write}: cannot write it: ${(err as Error).message}`, EXIT_FAILED);
  }
  out.write(
    `Wrote ${values.write} from ${source.name} (${profile.projects.join(' and ')} settings); check it with pxe-pilot check-config --config ${values.write}\n`,
  );
  notCarried(out, profile.notCarried);
  return 0;
}

// ---- --from-answers ----

async function importAnswers(dir: string, values: ImportValues, out: Output): Promise<number> {
  const root = await answersRoot(dir);
  if (!root) throw new CliError(`${dir}: no default.toml or hosts/ folder here or in ${join(dir, 'answers')}: not a WisherOps answers folder`, EXIT_USAGE);
  const checked = await checkAnswersFolder(root);
  const needing = checked.answers.filter((a) => a.braces.length > 0);
  out.write(`${checked.answers.length} answer file(s) in ${root}; ${needing.length} need(s) escaping (a literal {{ is written \\{{ here):\n`);
  for (const a of checked.answers) out.write(`  ${a.rel}: ${a.braces.length ? `{{ at ${a.braces.join(', ')}` : 'ok as a template'}\n`);
  if (values.write !== undefined) {
    const target = values.write;
    // Every collision is found before anything is written; a file already the same is left alone.
    const plan: { rel: string; path: string; text: string }[] = [];
    const clashes: string[] = [];
    for (const a of checked.answers) {
      const path = join(target, a.rel);
      const existing = await readFile(path, 'utf8').catch(() => null);
      if (existing === a.escaped) continue;
      if (existing !== null && !values.force) clashes.push(path);
      plan.push({ rel: a.rel, path, text: a.escaped });
    }
    if (clashes.length)
      throw new CliError(
        `${clashes.length} file(s) exist with other content; give --force to replace them:\n${clashes.map((c) => `  ${c}`).join('\n')}`,
        EXIT_USAGE,
      );
    if ((await stat(target).catch(() => null))?.isDirectory() === false) throw new CliError(`${target} is not a folder`, EXIT_USAGE);
    for (const p of plan) {
      await mkdir(dirname(p.path), { recursive: true });
      writeFileAtomically(p.path, p.text, { force: values.force, mode: 0o640 });
    }
    out.write(
      `Wrote ${plan.length} file(s) to ${target} (${checked.answers.length - plan.length} already the same); each renders to the bytes the earlier server sent\n`,
    );
  }
  notCarried(out, checked.notCarried);
  return 0;
}

// ---- --from-db, --from-seed ----

function readNodes(source: 'from-db' | 'from-seed', file: string): LegacyNodes {
  try {
    if (source === 'from-db') return readLegacyDatabase(file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new LegacySourceError(`${file}: cannot read it: ${(err as Error).message}`);
    }
    return readSeed(text, file);
  } catch (err) {
    if (err instanceof LegacySourceError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

/** A SQLite daemon keeps the node table in memory from its start: it must not run during an import. */
async function refuseWhileDaemonRuns(profile: Profile): Promise<void> {
  if (profile.store.backend !== 'sqlite') return;
  const host = profile.http.bind === '0.0.0.0' ? '127.0.0.1' : profile.http.bind;
  const answered = await fetch(`http://${host}:${profile.http.port}/health`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  );
  if (answered)
    throw new CliError(
      `a pxe-pilot daemon answers on ${host}:${profile.http.port}: stop it first (systemctl stop pxe-pilot), import, then start it; it reads the SQLite node table at start and would not see the machines imported meanwhile`,
      EXIT_FAILED,
    );
}

async function confirm(count: number, yes: boolean, out: Output): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY)
    throw new CliError(
      `--arm-reinstall would make ${count} machine(s) reinstall at their next network boot; confirm with --yes (no terminal to ask on)`,
      EXIT_USAGE,
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${count} machine(s) will REINSTALL, erasing their disks, at their next network boot. Type yes to arm them: `);
    if (answer.trim().toLowerCase() !== 'yes') throw new CliError('not armed: the answer was not yes; nothing was written', EXIT_FAILED);
  } finally {
    rl.close();
  }
  out.write('\n');
}

async function importNodes(source: 'from-db' | 'from-seed', values: ImportValues, out: Output, err: Output): Promise<number> {
  const file = values[source]!;
  const profile = profileFor(values);
  const legacy = readNodes(source, file);
  const flagged = legacy.nodes.filter((n) => n.reinstall);
  if (values['arm-reinstall'] && flagged.length > 0) await confirm(flagged.length, values.yes, err);
  await refuseWhileDaemonRuns(profile);

  const { openStore } = await import('../store/open.ts');
  let store: Awaited<ReturnType<typeof openStore>>;
  try {
    store = await openStore(profile, silentLogger());
  } catch (e) {
    throw new CliError(`cannot open the store the profile names (${profile.store.backend}): ${(e as Error).message}`, EXIT_FAILED);
  }
  const counts = { added: 0, updated: 0, unchanged: 0 };
  const armed: string[] = [];
  try {
    const all: ImportedNode[] = legacy.nodes.map((n) => ({ mac: n.mac, firstSeen: n.createdAt, lastSeen: n.lastSeen, localBoot: n.localBoot }));
    for (let i = 0; i < all.length; i += STEP) {
      const outcomes = await store.importNodes(all.slice(i, i + STEP));
      for (const o of outcomes.values()) counts[o]++;
      if (err.isTTY) err.write(`\rimporting machines: ${Math.min(i + STEP, all.length)}/${all.length}`);
    }
    if (err.isTTY && all.length) err.write('\n');
    if (values['arm-reinstall']) {
      for (const n of flagged) {
        if (store.getNode(n.mac)?.state === 'install-pending') continue;
        const arm = nextState({ kind: 'reinstall-armed', profile: null }, store.getNode(n.mac));
        if (!arm.change) continue;
        await store.applyChange(n.mac, arm.change);
        store.record({
          mac: n.mac,
          protocol: 'admin',
          kind: 'import --arm-reinstall',
          decision: 'armed',
          reason: `reinstall armed by pxe-pilot import from ${file}: ${arm.reason}`,
        });
        armed.push(n.mac);
      }
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`writing the store failed: ${(e as Error).message}; run the import again (it is safe to repeat)`, EXIT_FAILED);
  } finally {
    store.flushEvents();
    await store.close();
  }
  const where = profile.store.backend === 'sqlite' ? `${profile.server.stateDir}/pxe-pilot.sqlite` : 'the PostgreSQL store';
  out.write(
    `${legacy.nodes.length} machine(s) from ${file} into ${where}: ${counts.added} added, ${counts.updated} updated, ${counts.unchanged} already there\n`,
  );
  if (flagged.length === 0) out.write('No machine had its reinstall flag set.\n');
  else if (values['arm-reinstall'])
    out.write(
      `Reinstall flag set on ${flagged.length}: ${armed.length} armed now, ${flagged.length - armed.length} already armed; each installs once at its next network boot:\n${flagged.map((n) => `  ${n.mac}\n`).join('')}`,
    );
  else
    out.write(
      `Reinstall flag set on ${flagged.length}, NOT armed (that server never cleared it after an install, so most are stale):\n${flagged.map((n) => `  ${n.mac}\n`).join('')}` +
        `Arm the ones that should reinstall: pxe-pilot nodes reinstall <mac>, or all of them: add --arm-reinstall\n`,
    );
  notCarried(out, legacy.notCarried);
  return 0;
}
