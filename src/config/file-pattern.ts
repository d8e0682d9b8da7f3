// Shell-style patterns for the file name of a drop-in (`conf.d/*.ini`): * and ? stand for any
// characters but /, [abc] and [!abc] for one of a set. A leading dot is matched only by a
// pattern that starts with one, as in the shell, so editor files such as .#a.ini stay out.

const WILDCARD = /[*?[]/;

/** Whether the text has a wildcard in it. */
export function hasWildcard(text: string): boolean {
  return WILDCARD.test(text);
}

/** The pattern as an anchored regular expression for one file name. */
export function fileNamePattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, close);
      const negated = set.startsWith('!');
      if (negated) set = set.slice(1);
      // Inside a class only \, ] and ^ need escaping; - keeps its range meaning.
      source += `[${negated ? '^' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = close;
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  const hidden = pattern.startsWith('.') ? '' : '(?!\\.)';
  return new RegExp(`^${hidden}${source}$`, 'u');
}

/** Whether a file name matches the pattern. */
export function matchesFileName(pattern: string, name: string): boolean {
  try {
    return fileNamePattern(pattern).test(name);
  } catch {
    // A class such as [z-a] is no valid expression: it matches nothing.
    return false;
  }
}
