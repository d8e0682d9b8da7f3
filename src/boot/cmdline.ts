// Kernel command-line templates (an image's `cmdline` file, [host] cmdline). Pure: text in, tokens out.
//
// `${name}` is one of three things:
// - ours (mac, mac_hyphen, ip, hostname, server, answer_server, answer_url): filled per machine;
//   where iPXE has a setting of the same name (mac, ip, hostname), ours wins;
// - an iPXE setting (a name with a scope or type, `${net0/ip}`, `${mac:hexhyp}`, or one of iPXE's
//   own setting names such as `${buildarch}`): passed through for iPXE to expand at boot;
// - anything else: a typo, refused by check-config with the file and line, and at boot.

export type CmdlineToken =
  | { kind: 'text'; text: string }
  | { kind: 'placeholder'; name: string; raw: string; index: number }
  /** `${` with no closing `}` on the same line. */
  | { kind: 'unclosed'; raw: string; index: number };

/** Placeholders pxe-pilot fills, with what each becomes. */
export const OUR_PLACEHOLDERS: Readonly<Record<string, string>> = {
  mac: 'the MAC address that booted, 52:54:00:12:34:56',
  mac_hyphen: 'the same MAC with hyphens, 52-54-00-12-34-56',
  ip: "the machine's IPv4 address ([host] ip, else the address the request came from)",
  hostname: "[host] hostname (an error when the machine's [host] section names none)",
  server: 'our HTTP base URL, http://<address>[:port]',
  answer_server: 'the base URL for answers (HTTPS when it runs)',
  answer_url: 'the answer URL, <answer_server>/answer',
};

// iPXE's own setting names (its documentation's list of settings), those we do not fill ourselves.
const IPXE_SETTINGS = new Set([
  'asset',
  'board-serial',
  'buildarch',
  'busid',
  'busloc',
  'bustype',
  'chip',
  'cwduri',
  'cwuri',
  'dhcp-server',
  'dns',
  'domain',
  'filename',
  'gateway',
  'initiator-iqn',
  'keep-san',
  'manufacturer',
  'memsize',
  'netmask',
  'next-server',
  'ntp',
  'password',
  'platform',
  'priority',
  'product',
  'reverse-password',
  'reverse-username',
  'root-path',
  'san-filename',
  'scriptlet',
  'serial',
  'skip-san-boot',
  'ssid',
  'syslog',
  'syslogs',
  'unixtime',
  'user-class',
  'username',
  'uuid',
  'version',
]);

const TOKEN = /\$\{([^{}\n]*)\}|\$\{/g;

/** Splits a template into text and placeholders; joining every token's text/raw gives the input back. */
export function parseCmdline(text: string): CmdlineToken[] {
  const tokens: CmdlineToken[] = [];
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > last) tokens.push({ kind: 'text', text: text.slice(last, m.index) });
    if (m[1] === undefined) tokens.push({ kind: 'unclosed', raw: m[0], index: m.index });
    else tokens.push({ kind: 'placeholder', name: m[1], raw: m[0], index: m.index });
    last = m.index + m[0].length;
  }
  if (last < text.length) tokens.push({ kind: 'text', text: text.slice(last) });
  return tokens;
}

export type PlaceholderKind = 'ours' | 'ipxe' | 'unknown';

export function placeholderKind(name: string): PlaceholderKind {
  if (Object.hasOwn(OUR_PLACEHOLDERS, name)) return 'ours';
  // ${net0/ip}, ${net0.dhcp/ip}, ${mac:hexhyp}, ${smbios/uuid}: a scope or a type is iPXE's syntax.
  if (/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(:[a-z0-9]+)?$/.test(name) || /^[A-Za-z0-9_.-]+:[a-z0-9]+$/.test(name)) return 'ipxe';
  if (IPXE_SETTINGS.has(name)) return 'ipxe';
  return 'unknown';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function unknownMessage(name: string): string {
  const near = Object.keys(OUR_PLACEHOLDERS).find((k) => editDistance(k, name) <= 2);
  const hint = near ? `did you mean \${${near}}? ` : '';
  return (
    `unknown placeholder \${${name}}: ${hint}pxe-pilot fills ${Object.keys(OUR_PLACEHOLDERS)
      .map((k) => `\${${k}}`)
      .join(' ')}; ` + 'iPXE settings pass through when written as iPXE names them (${net0/ip}, ${buildarch})'
  );
}

export interface CmdlineProblem {
  line: number;
  column: number;
  message: string;
}

function position(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, column: index - (before.lastIndexOf('\n') + 1) + 1 };
}

/** Typos and unclosed `${` in a template, with line and column, for check-config. */
export function checkCmdline(text: string): CmdlineProblem[] {
  const problems: CmdlineProblem[] = [];
  for (const t of parseCmdline(text)) {
    if (t.kind === 'unclosed') problems.push({ ...position(text, t.index), message: '${ without a closing } on the same line' });
    else if (t.kind === 'placeholder' && placeholderKind(t.name) === 'unknown') problems.push({ ...position(text, t.index), message: unknownMessage(t.name) });
  }
  return problems;
}

/** One line per problem: `<where> line 2, column 7: unknown placeholder …`. */
export function describeCmdlineProblems(where: string, problems: CmdlineProblem[]): string[] {
  return problems.map((p) => `${where} line ${p.line}, column ${p.column}: ${p.message}`);
}

export interface CmdlineValues {
  /** Our placeholders' values; an empty string means "no value here". */
  values: Readonly<Record<string, string>>;
  /** Why a placeholder has no value, when it has none. */
  missing?: Readonly<Record<string, string>>;
}

export type FilledCmdline = { ok: true; parts: { text: string; ipxe: boolean }[] } | { ok: false; problem: string };

/**
 * Fills our placeholders; iPXE settings are kept as parts marked `ipxe` (the caller decides
 * whether its boot loader can expand them). An unknown name, an unclosed `${` or an empty value
 * is a problem with its reason, never a blank or a half-filled line.
 */
export function fillCmdlineTemplate(template: string, input: CmdlineValues): FilledCmdline {
  const parts: { text: string; ipxe: boolean }[] = [];
  for (const t of parseCmdline(template)) {
    if (t.kind === 'text') parts.push({ text: t.text, ipxe: false });
    else if (t.kind === 'unclosed') return { ok: false, problem: `the kernel command line has \${ without a closing }` };
    else {
      const kind = placeholderKind(t.name);
      if (kind === 'unknown') return { ok: false, problem: `the kernel command line has an ${unknownMessage(t.name)}` };
      if (kind === 'ipxe') parts.push({ text: t.raw, ipxe: true });
      else {
        const value = input.values[t.name] ?? '';
        if (value === '')
          return {
            ok: false,
            problem: `\${${t.name}} in the kernel command line has no value: ${input.missing?.[t.name] ?? 'none is known for this machine'}`,
          };
        parts.push({ text: value, ipxe: false });
      }
    }
  }
  return { ok: true, parts };
}
