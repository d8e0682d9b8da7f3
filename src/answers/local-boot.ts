// The local-boot scripts an admin may set for a node: `exit`, or one `sanboot` with whitelisted
// options. Anything else is refused, so the admin API cannot be used to run arbitrary iPXE.

export type LocalBootResult = { ok: true; script: string } | { ok: false; error: string };

const MAX_LENGTH = 256;
const VALUE_PATTERNS: Record<string, { pattern: RegExp; what: string }> = {
  '--drive': { pattern: /^0x[0-9a-fA-F]{1,8}$/, what: 'a hex drive number such as 0x80' },
  // EFI loader paths use backslashes; no spaces, quotes, `$`, braces or shell-like operators.
  '--filename': { pattern: /^[A-Za-z0-9_.\\/-]{1,200}$/, what: 'a path of letters, digits and _ . - / \\' },
  '--label': { pattern: /^[A-Za-z0-9_.-]{1,64}$/, what: 'a label of letters, digits and _ . -' },
  '--uuid': { pattern: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, what: 'a UUID' },
};
const FLAGS = new Set(['--no-describe', '--keep']);
const ALLOWED = 'allowed: "exit", or "sanboot" with --no-describe, --keep, --drive <hex>, --filename <path>, --label <label>, --uuid <uuid>';

/** Validates a local-boot script and returns it in canonical form (single spaces, `--opt value`). */
export function parseLocalBoot(input: unknown): LocalBootResult {
  if (typeof input !== 'string') return { ok: false, error: `script must be a string; ${ALLOWED}` };
  if (input.length > MAX_LENGTH) return { ok: false, error: `script is over ${MAX_LENGTH} characters; ${ALLOWED}` };
  if (/[\r\n]/.test(input)) return { ok: false, error: `script must be one line; ${ALLOWED}` };
  const words = input
    .trim()
    .split(/[ \t]+/)
    .filter((w) => w !== '');
  const [command, ...rest] = words;
  if (command === 'exit' && rest.length === 0) return { ok: true, script: 'exit' };
  if (command !== 'sanboot') return { ok: false, error: `${JSON.stringify(command ?? '')} is not allowed; ${ALLOWED}` };

  const out = ['sanboot'];
  const used = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    const eq = word.indexOf('=');
    const option = eq > 0 ? word.slice(0, eq) : word;
    if (used.has(option)) return { ok: false, error: `sanboot option ${option} given twice` };
    used.add(option);
    if (FLAGS.has(option)) {
      if (eq > 0) return { ok: false, error: `sanboot option ${option} takes no value` };
      out.push(option);
      continue;
    }
    const rule = VALUE_PATTERNS[option];
    if (!rule) return { ok: false, error: `sanboot ${JSON.stringify(word).slice(0, 60)} is not allowed; ${ALLOWED}` };
    const value = eq > 0 ? word.slice(eq + 1) : rest[++i];
    if (value === undefined || value === '') return { ok: false, error: `sanboot option ${option} needs ${rule.what}` };
    if (!rule.pattern.test(value)) return { ok: false, error: `sanboot ${option} ${JSON.stringify(value).slice(0, 60)}: expected ${rule.what}` };
    out.push(option, value);
  }
  return { ok: true, script: out.join(' ') };
}
