// The local-boot scripts the aayusharyan API accepted on PUT /nodes/<mac>/local-boot-config, so
// its callers' scripts keep working: `exit`, or one `sanboot` whose options are each known and
// whose values match a narrow pattern. Pure; returns the script in canonical form (single spaces).
// Wider than the native rule (src/answers/local-boot.ts) in two places that project allowed:
// a decimal `--drive` (UEFI disk numbers) and `--extra`.

export type LegacyLocalBoot = { ok: true; script: string } | { ok: false; error: string };

const LONGEST = 256;
const EFI_PATH = /^\\[A-Za-z0-9\\._-]{1,127}$/;
const TAKES_VALUE: Readonly<Record<string, RegExp>> = {
  // 0x80…0xff for BIOS drive numbers; 0…255 for UEFI's disk order.
  '--drive': /^(0x[0-9a-fA-F]{1,2}|[0-9]{1,3})$/,
  '--filename': EFI_PATH,
  '--extra': EFI_PATH,
  '--label': /^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/,
  '--uuid': /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/,
};
const STANDALONE = new Set(['--no-describe', '--keep']);

export const LEGACY_SCRIPT_RULE =
  "allowed: 'exit', or a sanboot command with --no-describe, --keep, --drive <hex or 0-255>, --filename <\\path>, --extra <\\path>, --label <label>, --uuid <guid>";

export function parseLegacyLocalBoot(input: unknown): LegacyLocalBoot {
  if (typeof input !== 'string' || input.trim() === '') return { ok: false, error: "'script' must be a non-empty string" };
  if (input.length > LONGEST) return { ok: false, error: `'script' is over ${LONGEST} characters` };
  if (/[\r\n]/.test(input)) return { ok: false, error: "'script' must be one line" };
  const words = input.trim().split(/[ \t]+/);
  if (words.length === 1 && words[0] === 'exit') return { ok: true, script: 'exit' };
  if (words[0] !== 'sanboot') return { ok: false, error: `invalid local boot script; ${LEGACY_SCRIPT_RULE}` };
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (STANDALONE.has(word)) continue;
    const pattern = TAKES_VALUE[word];
    const value = words[i + 1];
    if (!pattern || value === undefined || !pattern.test(value))
      return { ok: false, error: `invalid local boot script near ${JSON.stringify(word).slice(0, 40)}; ${LEGACY_SCRIPT_RULE}` };
    i++;
  }
  return { ok: true, script: words.join(' ') };
}
