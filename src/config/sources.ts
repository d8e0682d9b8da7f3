// The profile as one INI document gathered from where it is written: the main file, the drop-in
// files its [server] include names (in name order after it), and the command line's
// `--set SECTION.KEY=VALUE` overrides (last). Every section and overridden key remembers where it
// came from, so a problem found later names the drop-in file or the flag, not the main file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import ini from 'ini';
import { normaliseMac } from '../net/mac.ts';
import { hasWildcard, matchesFileName } from './file-pattern.ts';

type Raw = Record<string, unknown>;

/**
 * The kinds of section a drop-in may hold: named sections that add machines, rules, images or
 * relayed subnets to the profile. Everything else is the main file's alone.
 */
export const DROP_IN_KINDS = ['host', 'rule', 'image', 'scope'] as const;

export interface SourceProblem {
  /** The file, or the flag (`--set …`) where the problem was written. */
  file: string;
  section: string;
  key: string;
  value: string;
  message: string;
}

/** One `--set SECTION.KEY=VALUE`. */
export interface Override {
  /** The flag as the user gave it, for messages. */
  flag: string;
  section: string;
  key: string;
  value: string;
}

export const OVERRIDE_FORM = 'expected SECTION.KEY=VALUE, such as http.port=8081 or "host 52:54:00:12:34:56.action=local"';

/**
 * Reads one override. The section is everything before the last dot ahead of the first `=`
 * (key names have no dots; a host section's MAC has colons), the value everything after it.
 */
export function parseOverride(text: string): Override | { flag: string; problem: string } {
  const flag = `--set ${text}`;
  const eq = text.indexOf('=');
  const left = eq < 0 ? '' : text.slice(0, eq);
  const dot = left.lastIndexOf('.');
  const section = left.slice(0, Math.max(dot, 0)).trim().replace(/\s+/g, ' ');
  const key = left.slice(dot + 1).trim();
  if (eq < 0 || dot < 0 || section === '' || key === '') return { flag, problem: OVERRIDE_FORM };
  return { flag, section, key, value: text.slice(eq + 1).trim() };
}

/** What identifies a section across files: a [host] by its MAC however it is spelled, others by name. */
export function sectionIdentity(name: string): string {
  if (!name.startsWith('host ')) return name;
  const mac = normaliseMac(name.slice(5).trim());
  return mac ? `host ${mac}` : name;
}

export interface ProfileSources {
  /** Main file, drop-ins and overrides merged: the document load.ts validates. */
  readonly doc: Raw;
  /** The drop-in files read, in the order their sections joined. */
  readonly dropIns: string[];
  /**
   * Each drop-in's text: [image] sections are read from the text itself (images.ts), since the
   * INI parser would split their dotted names and keep one of their repeated initrd lines.
   */
  readonly dropInTexts: { file: string; text: string }[];
  readonly problems: SourceProblem[];
  /** Where a key was written: the flag that set it, else the file of its section, else the main file. */
  originOf(section: string, key: string): string;
}

/** Gathers the profile's document from its main file's text, its drop-ins and the overrides. */
export function gatherSources(text: string, file: string, overrideTexts: readonly string[] = []): ProfileSources {
  const sectionFile = new Map<string, string>();
  const keyFlag = new Map<string, string>();
  const problems: SourceProblem[] = [];
  const doc: Raw = ini.parse(text);
  const overrides: Override[] = [];
  for (const written of overrideTexts) {
    const parsed = parseOverride(written);
    if ('problem' in parsed) problems.push({ file: parsed.flag, section: '', key: '', value: '', message: parsed.problem });
    else overrides.push(parsed);
  }

  // The include list may itself come from a flag; the last one given wins, as for any key.
  const includeFlag = overrides.filter((o) => o.section === 'server' && o.key === 'include').at(-1);
  const server = doc.server;
  const includeText = includeFlag?.value ?? (typeof server === 'object' && server !== null ? (server as Raw).include : undefined);
  const includeOrigin = includeFlag?.flag ?? file;
  const dropIns = typeof includeText === 'string' ? includedFiles(includeText, file, includeOrigin, problems) : [];
  const dropInTexts: { file: string; text: string }[] = [];
  for (const dropIn of dropIns) mergeDropIn(doc, dropIn, sectionFile, problems, file, dropInTexts);

  for (const o of overrides) {
    const name = existingSection(doc, o.section) ?? o.section;
    let section = doc[name];
    if (section === undefined) {
      section = {};
      doc[name] = section;
      sectionFile.set(sectionIdentity(name), o.flag);
    }
    if (typeof section !== 'object' || section === null) {
      problems.push({ file: o.flag, section: o.section, key: o.key, value: o.value, message: `${o.section} is a key outside any section, not a section` });
      continue;
    }
    (section as Raw)[o.key] = o.value;
    keyFlag.set(`${sectionIdentity(name)}\0${o.key}`, o.flag);
  }

  return {
    doc,
    dropIns,
    dropInTexts,
    problems,
    originOf(section, key) {
      const id = sectionIdentity(section);
      return keyFlag.get(`${id}\0${key}`) ?? sectionFile.get(id) ?? file;
    },
  };
}

/** The section of the document an override names: a [host] matches however its MAC is spelled. */
function existingSection(doc: Raw, name: string): string | undefined {
  if (Object.hasOwn(doc, name)) return name;
  const id = sectionIdentity(name);
  return Object.keys(doc).find((existing) => sectionIdentity(existing) === id);
}

/**
 * The files the include patterns name, in file-name order (then by path), the main file left out.
 * A folder that does not exist is a problem (a typo would silently drop every machine in it);
 * a folder with no matching file is not.
 */
export function includedFiles(includeText: string, mainFile: string, origin: string, problems: SourceProblem[]): string[] {
  const baseDir = dirname(resolve(mainFile));
  const found = new Set<string>();
  for (const written of includeText.split(/[\s,]+/).filter(Boolean)) {
    const pattern = resolve(baseDir, written);
    const report = (message: string): void => {
      problems.push({ file: origin, section: 'server', key: 'include', value: written, message });
    };
    const folder = dirname(pattern);
    if (hasWildcard(folder)) {
      report('wildcards go in the file name only, such as conf.d/*.ini');
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch (err) {
      report(`cannot list the folder ${folder}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      continue;
    }
    const wanted = basename(pattern);
    for (const name of names) {
      const path = resolve(folder, name);
      if (path === resolve(mainFile) || !matchesFileName(wanted, name)) continue;
      try {
        if (statSync(path).isFile()) found.add(path);
      } catch {
        // A dangling link: nothing to read, as the shell's glob would not list it either.
      }
    }
    if (!hasWildcard(wanted) && !found.has(resolve(folder, wanted))) report(`no such file ${resolve(folder, wanted)}`);
  }
  return [...found].sort((a, b) => (basename(a) < basename(b) ? -1 : basename(a) > basename(b) ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

/** Adds a drop-in's sections to the document; refuses other kinds and sections already written. */
function mergeDropIn(
  doc: Raw,
  dropIn: string,
  sectionFile: Map<string, string>,
  problems: SourceProblem[],
  mainFile: string,
  texts: { file: string; text: string }[],
): void {
  let parsed: Raw;
  try {
    const text = readFileSync(dropIn, 'utf8');
    texts.push({ file: dropIn, text });
    parsed = ini.parse(text);
  } catch (err) {
    problems.push({
      file: dropIn,
      section: '',
      key: '',
      value: '',
      message: `cannot read the drop-in: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    });
    return;
  }
  const byIdentity = new Map(Object.keys(doc).map((name) => [sectionIdentity(name), name]));
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== 'object' || value === null) {
      problems.push({ file: dropIn, section: '(top)', key: name, value: String(value), message: 'keys must be inside a section such as [host <mac>]' });
      continue;
    }
    const kind = name.includes(' ') ? name.slice(0, name.indexOf(' ')) : '';
    if (!(DROP_IN_KINDS as readonly string[]).includes(kind)) {
      const kinds = DROP_IN_KINDS.map((k) => `[${k} …]`).join(', ');
      problems.push({ file: dropIn, section: name, key: '', value: '', message: `a drop-in holds ${kinds} sections only; [${name}] belongs in ${mainFile}` });
      continue;
    }
    // Read from the file's text by images.ts (which also refuses a second section of one image).
    if (kind === 'image') continue;
    const id = sectionIdentity(name);
    const earlier = byIdentity.get(id);
    if (earlier !== undefined) {
      const where = sectionFile.get(id) ?? mainFile;
      problems.push({ file: dropIn, section: name, key: '', value: '', message: `also written in ${where} (as [${earlier}]): write each section in one file` });
      continue;
    }
    doc[name] = value;
    byIdentity.set(id, name);
    sectionFile.set(id, dropIn);
  }
}
