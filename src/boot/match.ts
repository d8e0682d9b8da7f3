// The two small languages [rule] conditions are written in: globs (`Dell*`, `R?50`) and number
// comparisons (`>= 16`, `< 4`, `= 2`). Pure; parsed once when the profile is read, evaluated for
// every inventory a rule is tried on.

/** A glob: `*` any text, `?` one character, everything else itself; case-insensitive, whole value. */
export interface Glob {
  source: string;
  regex: RegExp;
}

export type GlobResult = { ok: true; glob: Glob } | { ok: false; problem: string };

const MAX_PATTERN = 256;

export function parseGlob(text: string): GlobResult {
  const source = text.trim();
  if (source === '') return { ok: false, problem: 'expected a pattern such as Dell* or R?50 (* any text, ? one character)' };
  if (source.length > MAX_PATTERN) return { ok: false, problem: `a pattern of at most ${MAX_PATTERN} characters` };
  if ([...source].some((c) => c.charCodeAt(0) < 0x20)) return { ok: false, problem: 'a pattern has no control characters' };
  let body = '';
  for (const c of source) {
    if (c === '*') body += '.*';
    else if (c === '?') body += '.';
    else body += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return { ok: true, glob: { source, regex: new RegExp(`^${body}$`, 'is') } };
}

/** Whether `value` (trimmed) matches; a missing fact (null) matches nothing, not even `*`. */
export function globMatches(glob: Glob, value: string | null | undefined): boolean {
  if (value === null || value === undefined) return false;
  return glob.regex.test(value.trim());
}

export const COMPARATORS = ['>=', '<=', '!=', '>', '<', '='] as const;
export type Comparator = (typeof COMPARATORS)[number];

export interface Comparison {
  op: Comparator;
  value: number;
}

export type ComparisonResult = { ok: true; comparison: Comparison } | { ok: false; problem: string };

/** `>= 16`, `<4`, `= 2`, `!= 0`, or a bare number (meaning `=`); numbers ≥ 0, decimals allowed. */
export function parseComparison(text: string): ComparisonResult {
  const m = /^\s*(>=|<=|!=|==|=|>|<)?\s*(\d{1,15}(?:\.\d{1,6})?)\s*$/.exec(text);
  if (!m) return { ok: false, problem: 'expected a comparison such as >= 16, < 4 or = 2 (>=, <=, >, <, =, !=, then a number)' };
  const op = (m[1] === '==' || m[1] === undefined ? '=' : m[1]) as Comparator;
  return { ok: true, comparison: { op, value: Number(m[2]) } };
}

export function formatComparison(c: Comparison): string {
  return `${c.op} ${c.value}`;
}

/** Whether `actual` satisfies the comparison; a missing fact (null) satisfies none. */
export function compare(c: Comparison, actual: number | null | undefined): boolean {
  if (actual === null || actual === undefined || !Number.isFinite(actual)) return false;
  switch (c.op) {
    case '>=':
      return actual >= c.value;
    case '<=':
      return actual <= c.value;
    case '>':
      return actual > c.value;
    case '<':
      return actual < c.value;
    case '=':
      return actual === c.value;
    case '!=':
      return actual !== c.value;
  }
}
