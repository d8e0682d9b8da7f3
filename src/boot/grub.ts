// GRUB configuration text for loader = grub, the counterpart of ipxe.ts. Pure: values in, text out.
// Debian 12's signed GRUB has no HTTP under Secure Boot, so kernels and initrds come over TFTP
// from (tftp,<server>)/assets/…, the image folders TFTP serves read-only.
import { sortImages, type InstallImage } from './catalogue.ts';
import { productDisplayName } from './products.ts';
import { installCmdline, type InstallVars } from './ipxe.ts';
import { GRUB_MACHINE_FOLDER } from './loaders.ts';
import { imageFiles } from './image-files.ts';
import { TFTP_ASSETS_FOLDER } from './tftp-folders.ts';

export { TFTP_ASSETS_FOLDER } from './tftp-folders.ts';

/** One GRUB word, single-quoted: no variable expansion, no line break, no command chaining. */
export function grubWord(value: string): string {
  return `'${value.replace(/[\r\n]+/g, ' ').replace(/'/g, `'\\''`)}'`;
}

/** A line GRUB prints on the console. */
function say(text: string): string {
  return `echo ${grubWord(`pxe-pilot: ${text}`)}`;
}

/**
 * $prefix/grub.cfg, the same for every machine: GRUB's own per-MAC lookup never runs in Debian's
 * image, so it sources the configuration generated for $net_default_mac (the NIC that booted).
 */
export function renderGrubBootstrap(): string {
  return [
    '# pxe-pilot: each machine reads the configuration generated for its MAC address.',
    'if [ -z "$net_default_mac" ]; then',
    `  ${say('GRUB did not say which network card booted ($net_default_mac is empty); returning to the firmware')}`,
    '  sleep 5',
    '  exit',
    'fi',
    `configfile "$prefix/${GRUB_MACHINE_FOLDER}/\${net_default_mac}.cfg"`,
    say('no configuration for $net_default_mac from the server; returning to the firmware'),
    'sleep 5',
    'exit',
    '',
  ].join('\n');
}

/** Local disk: back to the firmware, which tries its next boot entry. */
export function renderGrubLocal(reason: string): string {
  return [`# ${grubComment(reason)}`, say(`local disk: ${reason}`), 'exit', ''].join('\n');
}

/** Says why nothing boots, then returns to the firmware. */
export function renderGrubRefusal(reason: string): string {
  return [`# ${grubComment(reason)}`, say(reason), 'sleep 5', 'exit', ''].join('\n');
}

function grubComment(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

/** The linux, initrd and boot lines of an image, files from (tftp,<server>); or why it cannot boot. */
function loadLines(image: InstallImage, tftpServer: string, extraCmdline: string, vars: InstallVars): string[] | { problem: string } {
  const filled = installCmdline(image, extraCmdline, vars, 'grub');
  if (!filled.ok) return { problem: filled.problem };
  const files = imageFiles(image, 'grub', { assetBase: '', tftpServer }, vars);
  if (!files.ok) return { problem: files.problem };
  const args = filled.parts
    .map((p) => p.text)
    .join('')
    .split(/\s+/)
    .filter((a) => a !== '');
  // Extra images (the Proxmox ISO) GRUB wraps in cpio itself (newc:) so they appear as /<name>.
  const initrds = files.initrds.map((f) => (f.wrap ? `newc:${f.name}:${f.location}` : f.location));
  return [`linux ${[files.kernel.location, ...args].map(grubWord).join(' ')}`, `initrd ${initrds.map(grubWord).join(' ')}`, 'boot'];
}

/**
 * Install: the image's kernel with the same command line as the iPXE script, its initrds, boot.
 * When the kernel is refused (an unsigned kernel under Secure Boot: "bad shim signature") or a
 * file is missing, GRUB prints its error, then ours, and returns to the firmware.
 */
export function renderGrubInstall(image: InstallImage, tftpServer: string, extraCmdline: string, vars: InstallVars, reason: string): string {
  const load = loadLines(image, tftpServer, extraCmdline, vars);
  if (!Array.isArray(load)) return renderGrubRefusal(`${reason}, but ${load.problem}`);
  return [
    `# ${grubComment(reason)}`,
    say(`installing ${image.profile}: ${reason}`),
    ...load,
    say(`could not load ${image.profile}; returning to the firmware`),
    'sleep 5',
    'exit',
    '',
  ].join('\n');
}

/** The inspection agent through GRUB (Secure Boot: shim → GRUB → Debian's signed kernel), files over TFTP. */
export function renderGrubInspect(image: InstallImage, tftpServer: string, cmdline: string, reason: string): string {
  const file = (rel: string): string => `(tftp,${tftpServer})/${TFTP_ASSETS_FOLDER}/${rel}`;
  const args = cmdline.split(/\s+/).filter((a) => a !== '');
  return [
    `# ${grubComment(reason)}`,
    say(`inspecting with ${image.profile}: ${reason}`),
    `linux ${[file(image.kernel), ...args].map(grubWord).join(' ')}`,
    `initrd ${grubWord(file(image.initrds[0]!))}`,
    'boot',
    say(`could not load ${image.profile}; returning to the firmware`),
    'sleep 5',
    'exit',
    '',
  ].join('\n');
}

export interface GrubMenuOptions {
  /** 'local', 'shell' or a profile name; GRUB has no shell entry ('c' opens its command line), so shell means local. */
  defaultItem: string;
  timeoutSeconds: number;
  reason: string;
  tftpServer: string;
  extraCmdline: string;
  vars: InstallVars;
}

/** The menu: one entry per image, then local disk; the default is taken after the timeout. */
export function renderGrubMenu(images: InstallImage[], options: GrubMenuOptions): string {
  const sorted = sortImages(images);
  const ids = new Map(sorted.map((img, i) => [img.profile, `image${i}`]));
  const lines = [
    `# ${grubComment(options.reason)}`,
    say(options.reason),
    `set default=${ids.get(options.defaultItem) ?? 'local'}`,
    `set timeout=${Math.max(0, Math.round(options.timeoutSeconds))}`,
  ];
  for (const img of sorted) {
    const title = `Install ${productDisplayName(img.product)} ${img.version}`;
    lines.push(`menuentry ${grubWord(title)} --id ${ids.get(img.profile)} {`);
    lines.push(`  ${say(`installing ${img.profile}: chosen from the menu at the console`)}`);
    const load = loadLines(img, options.tftpServer, options.extraCmdline, options.vars);
    if (Array.isArray(load)) {
      for (const l of load) lines.push(`  ${l}`);
      lines.push(`  ${say(`could not load ${img.profile}; returning to the firmware`)}`);
    } else lines.push(`  ${say(load.problem)}`);
    lines.push('  sleep 5', '  exit', '}');
  }
  lines.push(`menuentry ${grubWord('Boot from local disk')} --id local {`, `  ${say('booting from local disk')}`, '  exit', '}', '');
  return lines.join('\n');
}
