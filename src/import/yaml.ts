// A reader for the YAML the earlier pxe-pilots' files use: a seed.yml and a docker compose file.
// Block mappings and sequences, flow [..] and {..} on one line, quoted and plain scalars, block
// scalars (| and >), comments. Anchors, aliases, tags and multi-document files are refused with
// the line: better a clear "not supported" than a silently different reading. Pure.
//
// Scalars stay strings, except a plain null, ~ or empty value, which is null; yamlFlag() reads
// a boolean the way PyYAML did (true/false/yes/no/on/off).

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

export class YamlError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'YamlError';
  }
}

interface Line {
  /** 1-based, in the file. */
  number: number;
  indent: number;
  text: string;
  /** The line as written, for block scalars. */
  raw: string;
}

/** The text before a comment: `#` at the start or after a space, outside quotes. */
function withoutComment(text: string): string {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      // A quote opens a scalar only at its start (after a space, `:`, `-`, `[`, `{` or `,`).
      if (i === 0 || /[\s:[{,-]/.test(text[i - 1]!)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) return text.slice(0, i);
  }
  return text;
}

function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  const all = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let started = false;
  for (let i = 0; i < all.length; i++) {
    const raw = all[i]!;
    const indentText = /^[ \t]*/.exec(raw)![0];
    const body = withoutComment(raw.slice(indentText.length)).trimEnd();
    if (body === '') {
      lines.push({ number: i + 1, indent: -1, text: '', raw });
      continue;
    }
    if (indentText.includes('\t')) throw new YamlError(i + 1, 'a tab in the indentation: YAML indents with spaces');
    if (body === '---' || body.startsWith('--- ')) {
      if (started) throw new YamlError(i + 1, 'a second document (---): one document per file');
      if (body !== '---') throw new YamlError(i + 1, 'content after --- is not supported');
      continue;
    }
    if (body === '...') break;
    if (body.startsWith('%')) throw new YamlError(i + 1, 'directives (%) are not supported');
    started = true;
    lines.push({ number: i + 1, indent: indentText.length, text: body, raw });
  }
  return lines;
}

/** Where `key: value` splits: the first `:` followed by a space or the end, outside quotes and brackets. */
function keyColon(text: string): number {
  let quote: string | null = null;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if ((c === '"' || c === "'") && i === 0) quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ':' && depth === 0 && (i + 1 === text.length || text[i + 1] === ' ')) return i;
  }
  return -1;
}

function isSequenceItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '"': '"',
  '\\': '\\',
  '/': '/',
  ' ': ' ',
  b: '\b',
  f: '\f',
  e: '\x1b',
  a: '\x07',
};

class Reader {
  private i = 0;
  constructor(private readonly lines: Line[]) {}

  private next(): Line | undefined {
    while (this.i < this.lines.length && this.lines[this.i]!.indent < 0) this.i++;
    return this.lines[this.i];
  }

  document(): YamlValue {
    const first = this.next();
    if (!first) return null;
    const value = this.block(first.indent);
    const rest = this.next();
    if (rest) throw new YamlError(rest.number, 'unexpected indentation');
    return value;
  }

  private block(indent: number): YamlValue {
    const line = this.next()!;
    return isSequenceItem(line.text) ? this.sequence(indent) : this.mapping(indent);
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (let line = this.next(); line && line.indent === indent && isSequenceItem(line.text); line = this.next()) {
      const content = line.text.slice(1).trimStart();
      if (content === '') {
        this.i++;
        const child = this.next();
        items.push(child && child.indent > indent ? this.block(child.indent) : null);
        continue;
      }
      const offset = line.text.length - content.length;
      if (isSequenceItem(content) || keyColon(content) > 0 || /^["'][^]*["']:( |$)/.test(content)) {
        // "- key: value" opens a mapping (or "- - x" a sequence) at the content's column.
        this.lines[this.i] = { ...line, indent: indent + offset, text: content };
        items.push(this.block(indent + offset));
        continue;
      }
      this.i++;
      items.push(this.inline(content, line, indent));
    }
    return items;
  }

  private mapping(indent: number): { [key: string]: YamlValue } {
    const map: { [key: string]: YamlValue } = {};
    for (let line = this.next(); line && line.indent === indent; line = this.next()) {
      if (isSequenceItem(line.text)) throw new YamlError(line.number, 'a sequence item where a key was expected');
      const colon = keyColon(line.text);
      if (colon <= 0) throw new YamlError(line.number, `expected "key: value", found ${JSON.stringify(line.text.slice(0, 40))}`);
      const key = this.key(line.text.slice(0, colon).trim(), line);
      if (Object.prototype.hasOwnProperty.call(map, key)) throw new YamlError(line.number, `key ${JSON.stringify(key)} given twice`);
      const rest = line.text.slice(colon + 1).trim();
      this.i++;
      if (rest !== '') {
        setKey(map, key, this.inline(rest, line, indent));
        continue;
      }
      const child = this.next();
      if (child && child.indent > indent) setKey(map, key, this.block(child.indent));
      // A sequence may sit at its key's own indentation.
      else if (child && child.indent === indent && isSequenceItem(child.text)) setKey(map, key, this.sequence(indent));
      else setKey(map, key, null);
    }
    const stray = this.next();
    if (stray && stray.indent > indent) throw new YamlError(stray.number, 'unexpected indentation');
    return map;
  }

  private key(text: string, line: Line): string {
    if (text.startsWith('"') || text.startsWith("'")) return quoted(text, line.number).value;
    if (/^[&*!?]/.test(text)) throw new YamlError(line.number, `${JSON.stringify(text[0])} (anchors, aliases, tags, complex keys) is not supported`);
    return text;
  }

  /** A value on the key's or item's own line: flow, quoted, block scalar or plain. */
  private inline(text: string, line: Line, indent: number): YamlValue {
    if (/^[|>]/.test(text)) {
      if (!/^[|>][+-]?[1-9]?$/.test(text)) throw new YamlError(line.number, `block scalar header ${JSON.stringify(text)} is not supported`);
      return this.blockScalar(text, indent);
    }
    const flow = new Flow(text, line.number);
    const value = flow.value();
    flow.end();
    return value;
  }

  private blockScalar(header: string, indent: number): string {
    const parts: string[] = [];
    let contentIndent = -1;
    while (this.i < this.lines.length) {
      const l = this.lines[this.i]!;
      const lead = /^ */.exec(l.raw)![0].length;
      if (l.indent >= 0 && l.indent <= indent) break;
      if (l.indent >= 0 && contentIndent < 0) contentIndent = lead;
      parts.push(l.indent < 0 ? '' : l.raw.slice(Math.min(lead, contentIndent)));
      this.i++;
    }
    while (parts.length && parts[parts.length - 1] === '') parts.pop();
    const text = header.startsWith('>') ? parts.join(' ').replace(/ ?\n ?/g, '\n') : parts.join('\n');
    return header.includes('-') ? text : `${text}\n`;
  }
}

/** A key of the file is data: `__proto__` is a key like any other, never the object's prototype. */
function setKey(map: { [key: string]: YamlValue }, key: string, value: YamlValue): void {
  Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
}

function quoted(text: string, lineNumber: number): { value: string; length: number } {
  const q = text[0]!;
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (q === "'") {
      if (c === "'") {
        if (text[i + 1] === "'") {
          out += "'";
          i++;
          continue;
        }
        return { value: out, length: i + 1 };
      }
      out += c;
      continue;
    }
    if (c === '"') return { value: out, length: i + 1 };
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = text[++i];
    if (e === undefined) break;
    if (e === 'u' || e === 'x' || e === 'U') {
      const width = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      const hex = text.slice(i + 1, i + 1 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) throw new YamlError(lineNumber, `bad escape \\${e}${hex}`);
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) throw new YamlError(lineNumber, `bad escape \\${e}${hex}`);
      out += String.fromCodePoint(code);
      i += width;
      continue;
    }
    const mapped = ESCAPES[e];
    if (mapped === undefined) throw new YamlError(lineNumber, `unknown escape \\${e}`);
    out += mapped;
  }
  throw new YamlError(lineNumber, `unclosed ${q} quote (a quoted value must end on its line)`);
}

/** A value written on one line: flow collections, quoted or plain scalars. */
class Flow {
  private i = 0;
  constructor(
    private readonly text: string,
    private readonly line: number,
  ) {}

  private space(): void {
    while (this.text[this.i] === ' ') this.i++;
  }

  end(): void {
    this.space();
    if (this.i < this.text.length) throw new YamlError(this.line, `unexpected ${JSON.stringify(this.text.slice(this.i, this.i + 20))}`);
  }

  value(inFlow = false): YamlValue {
    this.space();
    const c = this.text[this.i];
    if (c === '[') return this.list();
    if (c === '{') return this.map();
    if (c === '"' || c === "'") {
      const q = quoted(this.text.slice(this.i), this.line);
      this.i += q.length;
      return q.value;
    }
    if (c !== undefined && /[&*!]/.test(c)) throw new YamlError(this.line, `${JSON.stringify(c)} (anchors, aliases, tags) is not supported`);
    if (c === '@' || c === '`') throw new YamlError(this.line, `a plain value cannot start with ${c}`);
    let end = this.i;
    for (; end < this.text.length; end++) {
      const ch = this.text[end]!;
      if (!inFlow) continue;
      if (ch === ',' || ch === ']' || ch === '}') break;
      const after = this.text[end + 1];
      if (ch === ':' && (after === undefined || after === ' ' || after === ',' || after === ']' || after === '}')) break;
    }
    const plain = this.text.slice(this.i, end).trim();
    this.i = end;
    return plain === '' || plain === '~' || /^(null|Null|NULL)$/.test(plain) ? null : plain;
  }

  private list(): YamlValue[] {
    this.i++;
    const items: YamlValue[] = [];
    for (;;) {
      this.space();
      if (this.text[this.i] === ']') {
        this.i++;
        return items;
      }
      items.push(this.value(true));
      this.space();
      if (this.text[this.i] === ',') this.i++;
      else if (this.text[this.i] !== ']') throw new YamlError(this.line, 'expected , or ] in a [..] list (a flow list must end on its line)');
    }
  }

  private map(): { [key: string]: YamlValue } {
    this.i++;
    const map: { [key: string]: YamlValue } = {};
    for (;;) {
      this.space();
      if (this.text[this.i] === '}') {
        this.i++;
        return map;
      }
      const key = this.value(true);
      if (typeof key !== 'string') throw new YamlError(this.line, 'a {..} key must be a plain or quoted string');
      this.space();
      let value: YamlValue = null;
      if (this.text[this.i] === ':') {
        this.i++;
        value = this.value(true);
      }
      if (Object.prototype.hasOwnProperty.call(map, key)) throw new YamlError(this.line, `key ${JSON.stringify(key)} given twice`);
      setKey(map, key, value);
      this.space();
      if (this.text[this.i] === ',') this.i++;
      else if (this.text[this.i] !== '}') throw new YamlError(this.line, 'expected , or } in a {..} map (a flow map must end on its line)');
    }
  }
}

/** Parses one YAML document of the subset above; throws YamlError naming the line. */
export function parseYaml(text: string): YamlValue {
  return new Reader(splitLines(text)).document();
}

/** A boolean as PyYAML read one (true/false, yes/no, on/off, any case); undefined otherwise. */
export function yamlFlag(value: YamlValue | undefined): boolean | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^(true|yes|on)$/i.test(value)) return true;
  if (/^(false|no|off)$/i.test(value)) return false;
  return undefined;
}

export function isYamlMap(value: YamlValue | undefined): value is { [key: string]: YamlValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
