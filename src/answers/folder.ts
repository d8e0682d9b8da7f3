// Reading answers from [answers] dir: the one module here that touches the file system.
// Request values are never joined into a path: each candidate key is compared with the names
// the folder lists, and whatever is read must resolve (symlinks followed) inside the folder.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { cannotRead } from '../net/readable-as.ts';
import { keyOfEntryName, normaliseProduct } from './names.ts';
import { KEYED_FOLDERS, type Candidate, type SelectionRule } from './selection.ts';

/** Where one kind of answer lives below [answers] dir. */
export interface AnswerLayout {
  /** Folder below [answers] dir; [] for the Proxmox answers at its top. */
  base: string[];
  /** Ending of entry names: '.toml', '.cfg', or '' when each machine has a folder. */
  suffix: string;
  /** With per-machine folders: the file read inside one (nocloud's user-data…). */
  leaf: string | null;
  rules: readonly SelectionRule[];
}

export const PROXMOX_LAYOUT: AnswerLayout = { base: [], suffix: '.toml', leaf: null, rules: ['mac', 'serial', 'uuid', 'product', 'default'] };
export const PRESEED_LAYOUT: AnswerLayout = { base: ['preseed'], suffix: '.cfg', leaf: null, rules: ['mac', 'serial', 'uuid', 'default'] };
export type NocloudFile = 'user-data' | 'meta-data' | 'vendor-data';
export const NOCLOUD_FILES: readonly NocloudFile[] = ['user-data', 'meta-data', 'vendor-data'];
export function nocloudLayout(file: NocloudFile): AnswerLayout {
  return { base: ['nocloud'], suffix: '', leaf: file, rules: ['mac', 'serial', 'uuid', 'default'] };
}

/** Answer files are small; a bigger one is a mistake (an ISO copied to the wrong folder). */
export const MAX_ANSWER_BYTES = 1024 * 1024;

export interface FoundAnswer {
  candidate: Candidate;
  /** Path relative to [answers] dir, '/'-separated, e.g. hosts/aa-bb-cc-dd-ee-ff.toml */
  rel: string;
  text: string;
}

export type Lookup =
  | { status: 'found'; answer: FoundAnswer }
  | { status: 'none'; tried: string[] }
  /** An entry exists for the machine but may not be served: the machine must not fall through to a less specific answer. */
  | { status: 'refused'; rel: string; reason: string };

/**
 * Lookups in flight, by what they look up: concurrent requests for the same answer (an installer
 * retrying, a rack of identical requests) share one walk of the folder instead of each paying
 * its own realpath, readdir, stat and read. Nothing is kept once the walk ends, so an edited file
 * is seen by the next request.
 */
const inFlight = new Map<string, Promise<unknown>>();

function shared<T>(key: string, walk: () => Promise<T>): Promise<T> {
  let pending = inFlight.get(key) as Promise<T> | undefined;
  if (!pending) {
    pending = walk().finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

/** The folder's real path; null when it does not exist; why not, when this account may not look into it. */
async function realFolder(path: string): Promise<string | null | { denied: string }> {
  try {
    return await realpath(path);
  } catch (err) {
    const denied = cannotRead(path, err, 'folder');
    return denied ? { denied } : null;
  }
}

/** The names in a folder (none when it does not exist); why not, when this account may not list it. */
async function listNames(path: string): Promise<string[] | { denied: string }> {
  try {
    return (await readdir(path)).sort();
  } catch (err) {
    const denied = cannotRead(path, err, 'folder');
    return denied ? { denied } : [];
  }
}

const namesOnly = (listed: string[] | { denied: string }): string[] => (Array.isArray(listed) ? listed : []);

type Entry = { kind: 'file'; path: string; size: number } | { kind: 'absent' } | { kind: 'refused'; reason: string };

// An entry this account may not read is refused, not absent: falling through to a less specific
// answer (default.toml) would install the machine with another machine's answer.
async function resolveEntry(root: string, realRoot: string, segments: string[]): Promise<Entry> {
  let real: string;
  try {
    real = await realpath(join(realRoot, ...segments));
  } catch (err) {
    const denied = cannotRead(join(root, ...segments), err);
    return denied ? { kind: 'refused', reason: denied } : { kind: 'absent' };
  }
  if (!real.startsWith(realRoot + sep)) return { kind: 'refused', reason: 'it resolves (through a symlink) outside [answers] dir' };
  let stats;
  try {
    stats = await stat(real);
  } catch (err) {
    const denied = cannotRead(join(root, ...segments), err);
    return denied ? { kind: 'refused', reason: denied } : { kind: 'absent' };
  }
  if (!stats.isFile()) return { kind: 'absent' };
  if (stats.size > MAX_ANSWER_BYTES) return { kind: 'refused', reason: `it is ${stats.size} bytes, over the ${MAX_ANSWER_BYTES}-byte limit for answer files` };
  return { kind: 'file', path: real, size: stats.size };
}

/** The first candidate with an entry in the folder, read; or why there is none. */
export function findAnswer(root: string, layout: AnswerLayout, candidates: readonly Candidate[]): Promise<Lookup> {
  return shared(JSON.stringify([root, layout, candidates]), () => walkAnswers(root, layout, candidates));
}

async function walkAnswers(root: string, layout: AnswerLayout, candidates: readonly Candidate[]): Promise<Lookup> {
  const realRoot = await realFolder(root);
  const tried: string[] = [];
  if (!realRoot) return { status: 'none', tried: [`${root} (does not exist)`] };
  if (typeof realRoot !== 'string') return { status: 'refused', rel: '.', reason: realRoot.denied };
  const listings = new Map<string, Promise<string[] | { denied: string }>>();
  const leaf = layout.leaf ? [layout.leaf] : [];

  for (const candidate of candidates) {
    let names: string[];
    let folder: string[];
    if (candidate.rule === 'mac' || candidate.rule === 'serial' || candidate.rule === 'uuid') {
      const rule = candidate.rule;
      folder = [...layout.base, KEYED_FOLDERS[rule]];
      const key = folder.join('/');
      if (!listings.has(key)) listings.set(key, listNames(join(realRoot, ...folder)));
      const canonical = candidate.name + layout.suffix;
      const listed = await listings.get(key)!;
      if (!Array.isArray(listed)) return { status: 'refused', rel: key, reason: listed.denied };
      // Any spelling of the key matches (AA-BB…, aabb.ccdd…); the canonical spelling first.
      names = listed.filter((n) => keyOfEntryName(rule, n, layout.suffix) === candidate.key).sort((a, b) => Number(b === canonical) - Number(a === canonical));
      if (names.length === 0) tried.push([...folder, canonical, ...leaf].join('/'));
    } else {
      folder = [...layout.base];
      names = [candidate.name + layout.suffix];
    }
    for (const name of names) {
      const segments = [...folder, name, ...leaf];
      const rel = segments.join('/');
      const entry = await resolveEntry(root, realRoot, segments);
      if (entry.kind === 'refused') return { status: 'refused', rel, reason: entry.reason };
      if (entry.kind === 'absent') {
        tried.push(rel);
        continue;
      }
      let text: string;
      try {
        text = await readFile(entry.path, 'utf8');
      } catch (err) {
        const denied = cannotRead(join(root, ...segments), err);
        if (denied) return { status: 'refused', rel, reason: denied };
        throw err;
      }
      return { status: 'found', answer: { candidate, rel, text } };
    }
  }
  return { status: 'none', tried };
}

export interface AnswerInventory {
  macs: { mac: string; file: string }[];
  serials: { serial: string; file: string }[];
  uuids: { uuid: string; file: string }[];
  products: { product: string; file: string }[];
  default: string | null;
  /** Entries in keyed folders whose names are not a valid key: never served. */
  ignored: string[];
}

/** What the folder holds for one layout, for GET /hosts. Names only; no file is read. */
export async function listAnswers(root: string, layout: AnswerLayout): Promise<AnswerInventory> {
  const inv: AnswerInventory = { macs: [], serials: [], uuids: [], products: [], default: null, ignored: [] };
  const realRoot = await realFolder(root);
  if (typeof realRoot !== 'string') return inv;
  for (const rule of ['mac', 'serial', 'uuid'] as const) {
    if (!layout.rules.includes(rule)) continue;
    const folder = [...layout.base, KEYED_FOLDERS[rule]];
    for (const name of namesOnly(await listNames(join(realRoot, ...folder)))) {
      const rel = [...folder, name].join('/');
      const key = keyOfEntryName(rule, name, layout.suffix);
      if (!key) {
        inv.ignored.push(
          `${rel}: not a ${rule === 'mac' ? 'MAC address' : rule === 'serial' ? 'usable serial' : 'UUID'}${layout.suffix ? ` followed by ${layout.suffix}` : ''}`,
        );
        continue;
      }
      // Per-machine folders are listed as folders: which files each holds is chosen file by file.
      const file = [...folder, name].join('/') + (layout.leaf ? '/' : '');
      if (rule === 'mac') inv.macs.push({ mac: key, file });
      else if (rule === 'serial') inv.serials.push({ serial: name.slice(0, name.length - layout.suffix.length), file });
      else inv.uuids.push({ uuid: key, file });
    }
  }
  const top = namesOnly(await listNames(join(realRoot, ...layout.base)));
  const defaultName = `default${layout.suffix}`;
  if (top.includes(defaultName)) inv.default = [...layout.base, defaultName].join('/') + (layout.leaf ? '/' : '');
  if (layout.rules.includes('product') && layout.suffix) {
    for (const name of top) {
      if (!name.endsWith(layout.suffix) || name === defaultName) continue;
      const product = normaliseProduct(name.slice(0, name.length - layout.suffix.length));
      if (product && `${product}${layout.suffix}` === name) inv.products.push({ product, file: [...layout.base, name].join('/') });
    }
  }
  return inv;
}
