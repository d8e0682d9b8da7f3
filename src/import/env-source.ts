// Where an earlier pxe-pilot's settings were: the process environment, an `.env` file, or the
// `environment:` of a docker compose service. Each is read into the same shape: the variables,
// the container paths mounted from the host (a compose file's volumes), and what could not be
// read as written. Pure.
import { posix } from 'node:path';
import { isYamlMap, parseYaml, YamlError, type YamlValue } from './yaml.ts';

export interface EnvSource {
  /** Where it came from, for messages: "the environment", "deploy/.env", "compose.yml service pxe-pilot". */
  name: string;
  vars: Map<string, string>;
  /** Container path → host path, from the service's bind mounts (a compose file only). */
  mounts: Map<string, string>;
  /** What was not taken, and why. */
  notes: string[];
}

export class EnvFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    message: string,
  ) {
    super(`${file}${line === null ? '' : `:${line}`}: ${message}`);
    this.name = 'EnvFileError';
  }
}

/** The variables either earlier project read. */
export function isPxePilotVariable(name: string): boolean {
  return /^PXE_/.test(name) || ['ADMIN_API_KEY', 'DATABASE_PATH', 'PORT', 'TIMEZONE', 'SEED_FILE'].includes(name);
}

/** The generic names count only beside a PXE_ one (PORT alone is any program's). */
const GENERIC = new Set(['PORT', 'TIMEZONE', 'DATABASE_PATH', 'SEED_FILE', 'ADMIN_API_KEY']);

function keepRelevant(all: Map<string, string>): Map<string, string> {
  const vars = new Map([...all].filter(([k]) => isPxePilotVariable(k)));
  if (![...vars.keys()].some((k) => !GENERIC.has(k))) for (const k of GENERIC) if (k !== 'ADMIN_API_KEY') vars.delete(k);
  return vars;
}

export function fromProcessEnvironment(env: Readonly<Record<string, string | undefined>>): EnvSource {
  const all = new Map(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'));
  return { name: 'the environment', vars: keepRelevant(all), mounts: new Map(), notes: [] };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DOUBLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', $: '$' };

/**
 * An `.env` file as docker and compose read it: `KEY=VALUE` lines, `export ` allowed, `#`
 * comments, single quotes literal, double quotes with \n \t \" \\ escapes; every variable, in order.
 */
export function parseDotEnv(text: string, file: string): Map<string, string> {
  const vars = new Map<string, string>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.replace(/^export\s+/, '');
    const eq = body.indexOf('=');
    if (eq <= 0) throw new EnvFileError(file, n + 1, `expected NAME=VALUE, found ${JSON.stringify(line.slice(0, 40))}`);
    const name = body.slice(0, eq).trim();
    if (!NAME.test(name)) throw new EnvFileError(file, n + 1, `${JSON.stringify(name.slice(0, 40))} is not a variable name`);
    vars.set(name, dotEnvValue(body.slice(eq + 1).trim(), file, n + 1));
  }
  return vars;
}

function dotEnvValue(raw: string, file: string, line: number): string {
  const q = raw[0];
  if (q !== '"' && q !== "'") {
    const comment = raw.search(/\s#/);
    return (comment >= 0 ? raw.slice(0, comment) : raw).trim();
  }
  let out = '';
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === q) {
      const rest = raw.slice(i + 1).trim();
      if (rest !== '' && !rest.startsWith('#')) throw new EnvFileError(file, line, `text after the closing ${q}: ${JSON.stringify(rest.slice(0, 20))}`);
      return out;
    }
    if (q === '"' && c === '\\' && i + 1 < raw.length) {
      const e = raw[++i]!;
      out += DOUBLE_ESCAPES[e] ?? `\\${e}`;
      continue;
    }
    out += c;
  }
  throw new EnvFileError(file, line, `unclosed ${q} quote (a quoted value must end on its line)`);
}

export function fromDotEnv(text: string, file: string): EnvSource {
  return { name: file, vars: keepRelevant(parseDotEnv(text, file)), mounts: new Map(), notes: [] };
}

/** Compose reads `$$` as a literal `$`; `${VAR}` it fills from the shell, which is noted. */
function composeValue(raw: string, name: string, notes: string[]): string {
  const interpolated = raw.replace(/\$\$/g, '').match(/\$\{?[A-Za-z_][A-Za-z0-9_]*/g);
  if (interpolated)
    notes.push(
      `${name}: compose fills ${interpolated.map((v) => (v.startsWith('${') ? `${v}}` : v)).join(', ')} from the shell, not the container; taken as written`,
    );
  return raw.replace(/\$\$/g, '$');
}

function scalarText(value: YamlValue): string | null {
  return typeof value === 'string' ? value : null;
}

/** The compose file's service that carries either project's settings (the first, when several do). */
export function fromCompose(text: string, file: string): EnvSource {
  let doc: YamlValue;
  try {
    doc = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlError) throw new EnvFileError(file, err.line, err.message.replace(/^line \d+: /, ''));
    throw err;
  }
  if (!isYamlMap(doc) || !isYamlMap(doc.services)) throw new EnvFileError(file, null, 'not a compose file: no services: mapping');
  const notes: string[] = [];
  const candidates: { service: string; vars: Map<string, string>; mounts: Map<string, string> }[] = [];
  for (const [service, spec] of Object.entries(doc.services)) {
    if (!isYamlMap(spec)) continue;
    const all = new Map<string, string>();
    const env = spec.environment;
    if (Array.isArray(env)) {
      for (const item of env) {
        const entry = scalarText(item);
        if (entry === null) continue;
        const eq = entry.indexOf('=');
        if (eq < 0) {
          if (isPxePilotVariable(entry)) notes.push(`${entry}: passed through from the shell that ran compose; its value is not in the file`);
          continue;
        }
        all.set(entry.slice(0, eq), composeValue(entry.slice(eq + 1), entry.slice(0, eq), notes));
      }
    } else if (isYamlMap(env)) {
      for (const [k, v] of Object.entries(env)) {
        const value = scalarText(v);
        if (value === null) {
          if (isPxePilotVariable(k)) notes.push(`${k}: no value in the file (passed through from the shell that ran compose)`);
          continue;
        }
        all.set(k, composeValue(value, k, notes));
      }
    }
    if (typeof spec.env_file === 'string' || Array.isArray(spec.env_file))
      notes.push(`service ${service}: env_file is not read; import it with --from-env <that file>`);
    const mounts = new Map<string, string>();
    if (Array.isArray(spec.volumes)) {
      for (const v of spec.volumes) {
        const parts = scalarText(v)?.split(':');
        // A bind mount names a host path (./answers, /srv/answers); a named volume does not.
        if (parts && parts.length >= 2 && /^[./~]/.test(parts[0]!)) mounts.set(parts[1]!, posix.normalize(parts[0]!));
      }
    }
    const vars = keepRelevant(all);
    if (vars.size > 0) candidates.push({ service, vars, mounts });
  }
  if (candidates.length === 0) return { name: file, vars: new Map(), mounts: new Map(), notes };
  const [chosen, ...others] = candidates;
  for (const o of others) notes.push(`service ${o.service} also has settings; only ${chosen!.service}'s were read`);
  return { name: `${file} service ${chosen!.service}`, vars: chosen!.vars, mounts: chosen!.mounts, notes };
}

/** A compose file (YAML with services:) or an .env file, told apart by their content. */
export function fromFile(text: string, file: string): EnvSource {
  return /^services\s*:/m.test(text) ? fromCompose(text, file) : fromDotEnv(text, file);
}
