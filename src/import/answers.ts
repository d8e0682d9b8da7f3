// A WisherOps answers folder (default.toml and hosts/<mac>.toml, served as written) checked as
// pxe-pilot templates: every literal `{{` must become `\{{` here, or it would be read as a
// placeholder. Each file is listed with what needs escaping; the escaped copy renders back to
// the original bytes, so an installer gets what it got before. Reading is pure but for the folder.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { keyOfEntryName } from '../answers/names.ts';
import { renderTemplate } from '../answers/template.ts';
import { MAX_ANSWER_BYTES } from '../answers/folder.ts';

export interface CheckedAnswer {
  /** Below the folder, the same below pxe-pilot's [answers] dir: default.toml, hosts/aa-bb-cc-dd-ee-ff.toml. */
  rel: string;
  original: Buffer;
  /** The text to write here: every `{{` escaped. */
  escaped: string;
  /** line:column of every literal `{{`. */
  braces: string[];
}

export interface CheckedAnswers {
  root: string;
  answers: CheckedAnswer[];
  notCarried: string[];
}

function positions(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  for (const [n, line] of lines.entries()) for (let i = line.indexOf('{{'); i !== -1; i = line.indexOf('{{', i + 2)) out.push(`${n + 1}:${i + 1}`);
  return out;
}

/** One file checked: its escaped form, or why it cannot be carried over as it is. */
export function checkAnswerText(rel: string, original: Buffer): CheckedAnswer | string {
  const text = original.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(original)) return `${rel}: not UTF-8 text; left out`;
  const escaped = text.replace(/\{\{/g, '\\{{');
  const rendered = renderTemplate(escaped, {});
  // A `\{{` already in the file would lose its backslash: the copy would not be the same answer.
  if (!rendered.ok || rendered.text !== text)
    return `${rel}: holds a backslash before "{{", which a template cannot keep as it is; left out: rewrite that line by hand`;
  return { rel, original, escaped, braces: positions(text) };
}

async function isFolder(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

async function names(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() || e.isDirectory()).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
}

/** The answers folder: DIR itself, or DIR/answers when DIR is the project's checkout. */
export async function answersRoot(dir: string): Promise<string | null> {
  if (!(await isFolder(dir))) return null;
  const has = async (d: string): Promise<boolean> => (await stat(join(d, 'default.toml')).catch(() => null)) !== null || (await isFolder(join(d, 'hosts')));
  if (await has(dir)) return dir;
  if (await has(join(dir, 'answers'))) return join(dir, 'answers');
  return null;
}

export async function checkAnswersFolder(root: string): Promise<CheckedAnswers> {
  const answers: CheckedAnswer[] = [];
  const notCarried: string[] = [];
  const take = async (rel: string): Promise<void> => {
    const info = await stat(join(root, rel));
    if (info.size > MAX_ANSWER_BYTES) {
      notCarried.push(`${rel}: over ${MAX_ANSWER_BYTES} bytes, more than pxe-pilot serves; left out`);
      return;
    }
    const checked = checkAnswerText(rel, await readFile(join(root, rel)));
    if (typeof checked === 'string') notCarried.push(checked);
    else answers.push(checked);
  };
  for (const name of (await names(root)).sort()) {
    if (name === 'default.toml') await take(name);
    else if (name !== 'hosts/') notCarried.push(`${name}: that server read only default.toml and hosts/; left out`);
  }
  if (await isFolder(join(root, 'hosts'))) {
    for (const name of (await names(join(root, 'hosts'))).sort()) {
      const rel = `hosts/${name}`;
      if (name.startsWith('.')) continue;
      if (!name.endsWith('.toml') || name.endsWith('/')) notCarried.push(`${rel}: not a .toml file; that server ignored it too`);
      else if (!keyOfEntryName('mac', name, '.toml')) notCarried.push(`${rel}: the name is not a MAC address, so no machine could get it; left out`);
      else await take(rel);
    }
  }
  return { root, answers, notCarried };
}
