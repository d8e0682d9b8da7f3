// The products and image kinds pxe-pilot installs, one row each: what the menu calls them, the
// short name their installer sends, the kernel line they boot with when their folder has none,
// and when their one-shot install is consumed. The catalogue, the lifecycle, the answer names and
// `pxe-pilot assets add` read this table: a new distribution or kind is a row here (and, for
// `assets add`, one recogniser in src/assets/recognise/), never a branch in any of them. Pure.

/** When an armed install counts as consumed: from then on the machine boots from its disk. */
export type ConsumedAt =
  /** The installer fetches its answer (POST /answer): the Proxmox automated installer. */
  | 'answer'
  /** The install script (iPXE script or GRUB configuration) is served: installers that fetch no answer. */
  | 'script'
  /** The booted system reports back (the post-installation webhook). */
  | 'report';

/** How `assets add` made an image folder (image.json `kind`). */
export const IMAGE_KINDS = ['proxmox', 'ubuntu-live', 'netboot', 'generic', 'disk-image'] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];

export interface ProductRow {
  /** The folder under [assets] dir: images are "<product>/<version>". */
  product: string;
  /** What `assets add` makes of it. */
  kind: ImageKind;
  /** What the menu, `assets ls` and the dashboard call it. */
  displayName: string;
  /** The product name its installer sends in its answer request (Proxmox: pve, pbs, pmg); null when it sends none. */
  shortName: string | null;
  /** Kernel arguments when the image folder has no cmdline file. */
  cmdline: string;
  consumedAt: ConsumedAt;
}

const PROXMOX_CMDLINE = 'ramdisk_size=16777216 rw quiet splash=silent proxmox-start-auto-installer';

export const PRODUCT_ROWS: readonly ProductRow[] = [
  { product: 'proxmox-ve', kind: 'proxmox', displayName: 'Proxmox VE', shortName: 'pve', cmdline: PROXMOX_CMDLINE, consumedAt: 'answer' },
  { product: 'proxmox-bs', kind: 'proxmox', displayName: 'Proxmox Backup Server', shortName: 'pbs', cmdline: PROXMOX_CMDLINE, consumedAt: 'answer' },
  { product: 'proxmox-mg', kind: 'proxmox', displayName: 'Proxmox Mail Gateway', shortName: 'pmg', cmdline: PROXMOX_CMDLINE, consumedAt: 'answer' },
  // Their kernel line is written into the image folder by `assets add` (cmdline), with the answer's URL.
  { product: 'ubuntu-server', kind: 'ubuntu-live', displayName: 'Ubuntu Server', shortName: null, cmdline: '', consumedAt: 'script' },
  { product: 'debian', kind: 'netboot', displayName: 'Debian', shortName: null, cmdline: '', consumedAt: 'script' },
  { product: 'ubuntu', kind: 'netboot', displayName: 'Ubuntu', shortName: null, cmdline: '', consumedAt: 'script' },
];

/** Any other folder (an image added with --kernel, or by hand): named by its folder, consumed when its script is served. */
function genericRow(product: string): ProductRow {
  return { product, kind: 'generic', displayName: product, shortName: null, cmdline: '', consumedAt: 'script' };
}

/** The row of an [assets] folder name; `rows` is the table (a test may extend it). */
export function productRow(product: string, rows: readonly ProductRow[] = PRODUCT_ROWS): ProductRow {
  return rows.find((r) => r.product === product) ?? genericRow(product);
}

/** The row of a profile name ("<product>/<version>"); undefined for none. */
export function productRowOfProfile(profile: string | null | undefined, rows: readonly ProductRow[] = PRODUCT_ROWS): ProductRow | undefined {
  if (!profile) return undefined;
  const slash = profile.indexOf('/');
  return productRow(slash < 0 ? profile : profile.slice(0, slash), rows);
}

/** The row whose installer sends `shortName` (pve → proxmox-ve). */
export function productRowByShortName(shortName: string, rows: readonly ProductRow[] = PRODUCT_ROWS): ProductRow | undefined {
  return rows.find((r) => r.shortName === shortName);
}

export function productDisplayName(product: string): string {
  return productRow(product).displayName;
}

/** Kernel arguments a product boots with when its folder has no cmdline file. */
export function defaultCmdline(product: string): string {
  return productRow(product).cmdline;
}

const CONSUMED_WORDS: Record<ConsumedAt, string> = {
  answer: 'answer fetched',
  script: 'its install script was served',
  report: 'the installed system reported',
};

/**
 * How an install of `profile` was consumed, for a reason: "install consumed: answer fetched"
 * (Proxmox), "install consumed: its install script was served" (installers that fetch no answer).
 * Without a profile the product is not known: "install consumed". `consumedAt`: a remote image's own.
 */
export function consumedWords(profile: string | null | undefined, rows: readonly ProductRow[] = PRODUCT_ROWS, consumedAt?: ConsumedAt): string {
  // A remote image ([image] consumed_at) says itself when its install is consumed.
  if (profile && consumedAt) return `install consumed: ${CONSUMED_WORDS[consumedAt]}`;
  const row = productRowOfProfile(profile, rows);
  return row ? `install consumed: ${CONSUMED_WORDS[row.consumedAt]}` : 'install consumed';
}
