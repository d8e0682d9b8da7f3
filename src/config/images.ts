// [image NAME] sections: install images whose kernel and initrds are URLs on another host, with
// an optional SHA-256 pin per file. Read straight from the INI text (not from ini.parse's tree):
// `initrd` may be written several times, a name such as ubuntu/24.04 holds a dot (which ini would
// split into nested sections), and every problem names the line. Values are unquoted by ini itself.
import { join } from 'node:path';
import ini from 'ini';
import { checkCmdline, parseCmdline, placeholderKind } from '../boot/cmdline.ts';
import { PROFILE_NAME, REMOTE_FOLDER, remoteFileName, type RemoteFile } from '../boot/catalogue.ts';
import type { Profile } from './profile.ts';

export const IMAGE_PREFIX = 'image ';

/** A remote image as the profile holds it. */
export interface RemoteImageEntry {
  /** "<product>/<version>", the name [host] profile, menu_default and the admin API use. */
  name: string;
  kernel: RemoteFile;
  initrds: RemoteFile[];
  /** Kernel command line template (src/boot/cmdline.ts placeholders). */
  cmdline: string;
  /** When its one-shot install is consumed: script (served) or answer (POST /answer). */
  consumedAt: 'script' | 'answer';
}

/** The keys of an [image NAME] section, with the doc line the shipped INI's example carries. */
export const IMAGE_KEYS = {
  kernel: 'kernel URL (http:// or https://), required',
  kernel_sha256: 'SHA-256 of the kernel: fetched once, checked, served by pxe-pilot (HTTP and TFTP)',
  initrd: 'initrd URL; write the key once per initrd, in load order',
  initrd_sha256: 'SHA-256 of each initrd, one line per initrd in the same order; empty: all unpinned',
  cmdline: 'kernel command line: ${mac} ${mac_hyphen} ${ip} ${hostname} ${answer_url} … are filled in',
  consumed_at: 'script (the install is consumed when its script is served) | answer (when it fetches POST /answer)',
} as const;

const URL_PATTERN = /^https?:\/\/[^\s/$.?#][^\s]*$/i;
const SHA256 = /^[0-9a-fA-F]{64}$/;

/** One `key = value` line of the INI, with its line number (1-based). */
interface KeyLine {
  key: string;
  value: string;
  line: number;
}

interface SectionLines {
  name: string;
  line: number;
  keys: KeyLine[];
}

/** ini's own reading of one value (quotes, inline comments), so values mean what they mean elsewhere. */
function iniValue(rhs: string): string {
  const parsed = ini.parse(`v = ${rhs}`) as Record<string, unknown>;
  const v = parsed.v;
  if (typeof v === 'string') return v;
  return typeof v === 'boolean' || typeof v === 'number' ? String(v) : '';
}

/** Every [image …] section of the text, in order, with its key lines. */
export function imageSectionLines(text: string): SectionLines[] {
  const sections: SectionLines[] = [];
  let current: SectionLines | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const header = /^\[(.*)\]$/.exec(line);
    if (header) {
      const title = header[1]!.trim();
      current = title.startsWith(IMAGE_PREFIX) ? { name: title.slice(IMAGE_PREFIX.length).trim(), line: i + 1, keys: [] } : null;
      if (current) sections.push(current);
      return;
    }
    if (!current) return;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim().replace(/\[\]$/, '');
    current.keys.push({ key, value: eq < 0 ? '' : iniValue(line.slice(eq + 1).trim()).trim(), line: i + 1 });
  });
  return sections;
}

/** What this module reports through load.ts's validator. */
export interface ImageProblemSink {
  problem(section: string, key: string, value: unknown, message: string): void;
}

/** Placeholder problems of a value, each with the column inside the value (the caller adds the line). */
function placeholderProblems(kl: KeyLine): string[] {
  return checkCmdline(kl.value).map((p) => `column ${p.column}: ${p.message}`);
}

function hasPlaceholder(value: string): boolean {
  return parseCmdline(value).some((t) => t.kind !== 'text');
}

/** Reads one section into an entry; problems go to `v`. */
function readImage(section: SectionLines, v: ImageProblemSink): RemoteImageEntry | null {
  const title = `${IMAGE_PREFIX}${section.name}`;
  if (!PROFILE_NAME.test(section.name)) {
    v.problem(
      title,
      '',
      '',
      `line ${section.line}: ${JSON.stringify(section.name)} is not an image name: write <product>/<version>, as [host] profile names it (such as ubuntu/24.04-remote)`,
    );
    return null;
  }
  const known = Object.keys(IMAGE_KEYS);
  const single = new Map<string, KeyLine>();
  const repeated: Record<'initrd' | 'initrd_sha256', KeyLine[]> = { initrd: [], initrd_sha256: [] };
  for (const kl of section.keys) {
    if (!known.includes(kl.key)) {
      v.problem(title, kl.key, kl.value, `line ${kl.line}: unknown key; [image …] takes ${known.join(', ')}`);
      continue;
    }
    if (kl.key === 'initrd' || kl.key === 'initrd_sha256') {
      if (kl.value !== '') repeated[kl.key].push(kl);
      continue;
    }
    const before = single.get(kl.key);
    if (before) v.problem(title, kl.key, kl.value, `line ${kl.line}: written twice (also line ${before.line}); only initrd and initrd_sha256 repeat`);
    single.set(kl.key, kl);
  }
  let ok = true;
  const bad = (kl: KeyLine, message: string): void => {
    ok = false;
    v.problem(title, kl.key, kl.value, `line ${kl.line}${message.startsWith('column') ? ', ' : ': '}${message}`);
  };
  const kernelLine = single.get('kernel');
  if (!kernelLine || kernelLine.value === '') {
    v.problem(title, 'kernel', '', `line ${section.line}: an [image] needs kernel = <URL> (and usually initrd = <URL>)`);
    ok = false;
  }
  const pin = (kl: KeyLine | undefined): string | null => {
    if (!kl || kl.value === '') return null;
    if (!SHA256.test(kl.value)) {
      bad(kl, 'expected a SHA-256: 64 hex digits (sha256sum prints it)');
      return null;
    }
    return kl.value.toLowerCase();
  };
  const file = (kl: KeyLine, sha256: string | null): RemoteFile => {
    if (!URL_PATTERN.test(kl.value)) bad(kl, 'expected an http:// or https:// URL');
    else if (sha256 && hasPlaceholder(kl.value))
      bad(kl, 'a pinned URL names one file, so it cannot hold ${…} placeholders: drop the pin, or write the URL without them');
    else for (const message of placeholderProblems(kl)) bad(kl, message);
    return { url: kl.value, sha256 };
  };
  const kernel = kernelLine && kernelLine.value !== '' ? file(kernelLine, pin(single.get('kernel_sha256'))) : { url: '', sha256: null };
  const pins = repeated.initrd_sha256;
  if (pins.length > 0 && pins.length !== repeated.initrd.length)
    bad(
      pins[0]!,
      `${pins.length} initrd_sha256 line${pins.length === 1 ? '' : 's'} for ${repeated.initrd.length} initrd line${repeated.initrd.length === 1 ? '' : 's'}: write one per initrd, in the same order`,
    );
  const initrds = repeated.initrd.map((kl, i) => file(kl, pins.length === repeated.initrd.length ? pin(pins[i]) : null));
  const cmdlineLine = single.get('cmdline');
  if (cmdlineLine) for (const message of placeholderProblems(cmdlineLine)) bad(cmdlineLine, message);
  const consumed = single.get('consumed_at');
  let consumedAt: RemoteImageEntry['consumedAt'] = 'script';
  if (consumed && consumed.value !== '') {
    if (consumed.value === 'script' || consumed.value === 'answer') consumedAt = consumed.value;
    else bad(consumed, 'expected script or answer');
  }
  if (!ok) return null;
  return { name: section.name, kernel, initrds, cmdline: cmdlineLine?.value ?? '', consumedAt };
}

/** Reads every [image NAME] section of `text` into p.images. */
export function readImages(text: string, p: Profile, v: ImageProblemSink): void {
  for (const section of imageSectionLines(text)) {
    if (p.images.has(section.name)) {
      v.problem(`${IMAGE_PREFIX}${section.name}`, '', '', `line ${section.line}: a second section for image ${section.name}`);
      continue;
    }
    const entry = readImage(section, v);
    if (entry) p.images.set(entry.name, entry);
  }
}

/** Whether an image uses an iPXE setting (${net0/ip}) anywhere GRUB would have to expand it. */
export function usesIpxeSetting(entry: RemoteImageEntry): boolean {
  return parseCmdline(entry.cmdline).some((t) => t.kind === 'placeholder' && placeholderKind(t.name) === 'ipxe');
}

/** The images as INI text, for check-config; reads back as the same entries. */
export function describeImages(p: Profile): string[] {
  const lines: string[] = [];
  for (const image of p.images.values()) {
    // ini.safe quotes what ini would otherwise cut (a ; or # starts a comment).
    lines.push(`[${IMAGE_PREFIX}${image.name}]`, `kernel = ${ini.safe(image.kernel.url)}`);
    if (image.kernel.sha256) lines.push(`kernel_sha256 = ${image.kernel.sha256}`);
    for (const f of image.initrds) lines.push(`initrd = ${ini.safe(f.url)}`);
    if (image.initrds.some((f) => f.sha256)) for (const f of image.initrds) lines.push(`initrd_sha256 = ${f.sha256 ?? ''}`);
    lines.push(`cmdline = ${ini.safe(image.cmdline)}`, `consumed_at = ${image.consumedAt}`);
  }
  return lines;
}

/**
 * check-config's view of the images: a name also used by a folder under [assets] dir, and a file
 * GRUB could not load (loader = grub has no HTTP: only pinned files, served over TFTP, work).
 */
export function remoteImageChecks(p: Profile, folderImages: readonly string[]): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const grubHosts = [...p.hosts.values()].filter((h) => (h.loader || p.boot.loader) === 'grub');
  const grubInUse = p.boot.loader === 'grub' || grubHosts.length > 0;
  for (const image of p.images.values()) {
    const where = `${p.file}: [${IMAGE_PREFIX}${image.name}]`;
    if (folderImages.includes(image.name))
      errors.push(
        `${where}: ${p.assets.dir}/${image.name} is an image folder of the same name; rename the section or the folder (the section would hide the folder)`,
      );
    if (!grubInUse) continue;
    const unpinned = [image.kernel, ...image.initrds].filter((f) => !f.sha256).map((f) => f.url);
    const problems = [
      ...(unpinned.length > 0
        ? [
            `${unpinned.join(', ')} ${unpinned.length === 1 ? 'is' : 'are'} not pinned, so GRUB (loader = grub, the Secure Boot path, has no HTTP) cannot be served ${unpinned.length === 1 ? 'it' : 'them'}: add kernel_sha256 / initrd_sha256 so pxe-pilot fetches and serves them over TFTP`,
          ]
        : []),
      ...(usesIpxeSetting(image) ? ['its cmdline names an iPXE setting, which GRUB cannot expand'] : []),
    ];
    if (problems.length === 0) continue;
    const named = grubHosts.filter((h) => h.profile === image.name).map((h) => h.mac);
    if (named.length > 0) errors.push(`${where}: ${problems.join('; ')} (used by [host ${named.join('], [host ')}] with loader = grub)`);
    else warnings.push(`${where}: machines with loader = grub cannot install it: ${problems.join('; ')}`);
  }
  return { errors, warnings };
}

/** Where pinned remote files are kept and served from: <state_dir>/remote-images/<sha256>/<name>. */
export function remoteCacheDir(stateDir: string): string {
  return join(stateDir, `${REMOTE_FOLDER}-images`);
}

/** Whether <sha256>/<name> is a file the profile pins (only those are served from the cache). */
export function isPinnedRemoteFile(p: Pick<Profile, 'images'>, sha256: string, name: string): boolean {
  for (const image of p.images.values())
    for (const f of [image.kernel, ...image.initrds]) if (f.sha256 === sha256 && remoteFileName(f.url) === name) return true;
  return false;
}
