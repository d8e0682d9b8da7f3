// A throwaway [answers] dir and [assets] dir for HTTP tests, written from a { path: text } map.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface AnswerTree {
  /** The temporary folder holding answers/ and assets/ (and anything written next to them). */
  root: string;
  answers: string;
  assets: string;
  write: (relToRoot: string, text: string) => string;
  remove: () => void;
}

/** `files` paths are relative to the answers folder; `images` are <product>/<version> folders made bootable. */
export function makeAnswerTree(files: Record<string, string>, images: string[] = []): AnswerTree {
  const root = mkdtempSync(join(tmpdir(), 'pxp-answers-'));
  const write = (rel: string, text: string): string => {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  };
  mkdirSync(join(root, 'answers'), { recursive: true });
  for (const [rel, text] of Object.entries(files)) write(join('answers', rel), text);
  for (const image of images) {
    write(join('assets', image, 'vmlinuz'), `kernel ${image}`);
    write(join('assets', image, 'initrd'), `initrd ${image}`);
  }
  return { root, answers: join(root, 'answers'), assets: join(root, 'assets'), write, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** JSON POST with fetch; returns status, headers and the text body. */
export async function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}
