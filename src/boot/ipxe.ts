// iPXE script text. Pure: values in, script out.
import { compareVersionsDesc, sortImages, type DiskImage, type InstallImage } from './catalogue.ts';
import { sizeShort } from './deploy-plan.ts';
import { defaultCmdline, productDisplayName } from './products.ts';
import { fillCmdlineTemplate, type CmdlineValues, type FilledCmdline } from './cmdline.ts';
import { imageFiles } from './image-files.ts';

/** Makes a value safe to paste into an iPXE line: no variable expansion, no line breaks, no command chaining. */
export function ipxeText(value: string): string {
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/\$\{/g, '$ {')
    .replace(/\|\||&&/g, ' ');
}

/**
 * The last line of a top-level script that hands the machine back to its firmware, to try its next
 * boot device (the local disk). On UEFI the status must be an error: EDK2-based firmware (OVMF, and
 * most servers' as Dell and Lenovo report) ends its boot loop at an option that returns success
 * and shows its boot manager instead of booting the disk. A chained script's `exit` only ends that
 * script (its status becomes the `chain` command's), so the scripts /boot serves end with a plain
 * `exit` and the bootstrap, the top level, hands back.
 */
export const HAND_BACK_TO_FIRMWARE = 'iseq ${platform} efi && exit 1 || exit';

/**
 * The bootstrap every iPXE fetches first (HTTP /boot.ipxe, TFTP boot.ipxe / autoexec.ipxe):
 * asks the policy for the script of the NIC that booted (${mac}, not always net0). When that script
 * returns (local disk, a refusal) or the server is unreachable, it hands back to the firmware.
 */
export function renderBootstrapScript(httpBase: string): string {
  return [
    '#!ipxe',
    "# pxe-pilot bootstrap: ask for this machine's script; when it returns, or on failure, return to the firmware.",
    `chain --autofree ${httpBase}/boot?mac=\${mac:hexhyp}&arch=\${buildarch}&platform=\${platform}&uuid=\${uuid}&serial=\${serial:uristring} || goto unreachable`,
    HAND_BACK_TO_FIRMWARE,
    ':unreachable',
    `echo pxe-pilot: ${httpBase} did not answer; returning to the firmware`,
    HAND_BACK_TO_FIRMWARE,
    '',
  ].join('\n');
}

export function renderLocalScript(reason: string, script = 'exit'): string {
  return ['#!ipxe', `echo pxe-pilot: local disk: ${ipxeText(reason)}`, script, ''].join('\n');
}

/** A script that tells the person at the console why nothing boots, then returns to the firmware. */
export function renderRefusalScript(reason: string): string {
  return ['#!ipxe', `echo pxe-pilot: ${ipxeText(reason)}`, 'sleep 5', 'exit', ''].join('\n');
}

export interface InstallVars {
  mac: string;
  ip: string;
  /** Empty when the machine has none; a cmdline naming ${hostname} is then refused with `hostnameMissing`. */
  hostname: string;
  /** Why there is no hostname, for the refusal; a generic reason when not given. */
  hostnameMissing?: string;
  /** Our HTTP base URL. */
  server: string;
  answerUrl: string;
  /** Where secrets are fetched from: the HTTPS base when HTTPS is on, else `server`. */
  answerServer?: string;
}

/** The values of our cmdline placeholders (src/boot/cmdline.ts), and why one is empty. */
export function cmdlineValues(vars: InstallVars): CmdlineValues {
  return {
    values: {
      mac: vars.mac,
      mac_hyphen: vars.mac.replace(/:/g, '-'),
      ip: vars.ip,
      hostname: vars.hostname,
      server: vars.server,
      answer_url: vars.answerUrl,
      answer_server: vars.answerServer ?? vars.server,
    },
    missing: {
      mac: 'no NIC of this machine could be identified',
      mac_hyphen: 'no NIC of this machine could be identified',
      ip: 'the request came from no IPv4 address and [host] sets no ip',
      hostname: vars.hostnameMissing ?? `no [host ${vars.mac}] section with a hostname; set one, or take \${hostname} out of the cmdline`,
    },
  };
}

/**
 * Fills ${mac} ${mac_hyphen} ${ip} ${hostname} ${server} ${answer_server} ${answer_url}; iPXE's
 * own settings (${net0/ip}, ${buildarch}) are left for iPXE to expand at boot. An unknown name or
 * an empty value is a problem with its reason.
 */
export function fillCmdline(template: string, vars: InstallVars): FilledCmdline {
  return fillCmdlineTemplate(template.replace(/[\r\n]+/g, ' '), cmdlineValues(vars));
}

/**
 * The kernel line an install boots with: the image's (or its product's default) and the [host]
 * extras, filled. GRUB cannot expand iPXE's settings, so on that loader one is a problem too.
 * The resolution checks it before it consumes an install; the renderers build from it.
 */
export function installCmdline(image: InstallImage, extraCmdline: string, vars: InstallVars, loader: 'ipxe' | 'grub'): FilledCmdline {
  const template = [image.remote ? (image.cmdline ?? '') : (image.cmdline ?? defaultCmdline(image.product)), extraCmdline]
    .filter((s) => s.trim() !== '')
    .join(' ');
  const filled = fillCmdline(template, vars);
  if (!filled.ok) return { ok: false, problem: `cannot install ${image.profile}: ${filled.problem}` };
  const ipxeOnly = loader === 'grub' ? filled.parts.find((p) => p.ipxe) : undefined;
  if (ipxeOnly)
    return {
      ok: false,
      problem: `cannot install ${image.profile}: ${ipxeOnly.text} in the kernel command line is an iPXE setting, which GRUB (loader = grub) cannot expand; use pxe-pilot's placeholders (\${ip}, \${mac}, \${hostname}) or boot this machine with loader = ipxe`,
    };
  return filled;
}

/** The filled line as iPXE text: our values made inert, iPXE's settings kept as `${…}` for iPXE. */
function ipxeArgs(parts: { text: string; ipxe: boolean }[]): string {
  let out = '';
  for (const part of parts) {
    if (part.ipxe) out += part.text;
    else {
      const text = ipxeText(part.text);
      // A value ending in `$` followed by text starting with `{` must not become a `${`.
      out += out.endsWith('$') && text.startsWith('{') ? ' ' + text : text;
    }
  }
  return out.replace(/\s+/g, ' ').trim();
}

/**
 * kernel + named initrds + boot. Every initrd gets a name and the kernel line names it
 * (initrd=<name>): UEFI iPXE builds as old as Debian's only hand named initrds to the EFI stub.
 */
export function renderInstallScript(image: InstallImage, assetBase: string, extraCmdline: string, vars: InstallVars, reason: string): string {
  const filled = installCmdline(image, extraCmdline, vars, 'ipxe');
  if (!filled.ok) return renderRefusalScript(filled.problem);
  const files = imageFiles(image, 'ipxe', { assetBase, tftpServer: '' }, vars);
  if (!files.ok) return renderRefusalScript(files.problem);
  const args = ipxeArgs(filled.parts);
  const names = files.initrds.map((f) => f.name);
  const lines = [
    '#!ipxe',
    `echo pxe-pilot: installing ${image.profile}: ${ipxeText(reason)}`,
    'imgfree',
    `kernel ${files.kernel.location} ${names.map((n) => `initrd=${n}`).join(' ')}${args ? ' ' + args : ''} || goto failed`,
    ...files.initrds.map((f) => `initrd --name ${f.name} ${f.location} || goto failed`),
    'boot || goto failed',
    ':failed',
    `echo pxe-pilot: could not load ${image.profile}; returning to the firmware`,
    'sleep 5',
    'exit',
    '',
  ];
  return lines.join('\n');
}

/**
 * The inspection agent: its kernel (with the agent's URL and session token) and initrd. The
 * line is ours alone (no template): the token is made inert like any value.
 */
export function renderInspectScript(image: InstallImage, assetBase: string, cmdline: string, reason: string): string {
  const encoded = (rel: string): string => `${assetBase}/${rel.split('/').map(encodeURIComponent).join('/')}`;
  return [
    '#!ipxe',
    `echo pxe-pilot: inspecting with ${image.profile}: ${ipxeText(reason)}`,
    'imgfree',
    `kernel ${encoded(image.kernel)} initrd=initrd ${ipxeText(cmdline)} || goto failed`,
    `initrd --name initrd ${encoded(image.initrds[0]!)} || goto failed`,
    'boot || goto failed',
    ':failed',
    `echo pxe-pilot: could not load ${image.profile}; returning to the firmware`,
    'sleep 5',
    'exit',
    '',
  ].join('\n');
}

export interface MenuOptions {
  mac: string;
  httpBase: string;
  /** 'local', 'shell' or a profile name (an install image: a disk image is never a default). */
  defaultItem: string;
  timeoutSeconds: number;
  reason: string;
}

/** The least time the erase question waits: the person who just picked is at the console. */
export const CONFIRM_MIN_SECONDS = 30;

/** Disk images in menu order: products by name, versions newest first. */
export function sortDiskImages(disks: readonly DiskImage[]): DiskImage[] {
  const name = (d: DiskImage): string => productDisplayName(d.profile.split('/')[0]!);
  const version = (d: DiskImage): string => d.profile.split('/')[1] ?? '';
  return [...disks].sort((x, y) => name(x).localeCompare(name(y)) || compareVersionsDesc(version(x), version(y)));
}

/** "Deploy <product> <version> (<size>)": what the menu calls a disk image. */
export function deployItemText(disk: DiskImage): string {
  const [product = '', version = ''] = disk.profile.split('/');
  return `Deploy ${productDisplayName(product)} ${version} (${sizeShort(disk.sizeBytes)})`;
}

/**
 * The boot menu. Items get generated labels (profile names hold '/' and '.'), every goto
 * target exists, and the choice times out to the default, so an unattended machine never waits.
 * Disk images (`disks`) are their own group; picking one asks first, in a second menu whose
 * default, also on its timeout, is back to this one: a deploy erases the disk, so no timeout ever
 * reaches one (nor does a default naming one: that is local disk).
 */
export function renderMenu(images: InstallImage[], options: MenuOptions, disks: readonly DiskImage[] = []): string {
  const sorted = sortImages(images);
  const deployable = sortDiskImages(disks);
  const labels = new Map<string, string>();
  sorted.forEach((img, i) => labels.set(img.profile, `image${i}`));
  const defaultIsDisk = deployable.some((d) => d.profile === options.defaultItem);
  const defaultLabel = options.defaultItem === 'shell' ? 'shell' : (labels.get(options.defaultItem) ?? 'local');
  const macHyphen = options.mac.replace(/:/g, '-');
  const lines = ['#!ipxe', `# ${ipxeText(options.reason)}`];
  if (defaultIsDisk) lines.push(`# the default ${ipxeText(options.defaultItem)} is a disk image: a timeout never deploys, so it is local disk`);
  lines.push(':top', `menu pxe-pilot: ${options.mac}`);
  let product = '';
  for (const img of sorted) {
    if (img.product !== product) {
      product = img.product;
      lines.push(`item --gap -- ${ipxeText(productDisplayName(product))}`);
    }
    lines.push(`item ${labels.get(img.profile)} Install ${ipxeText(productDisplayName(img.product))} ${ipxeText(img.version)}`);
  }
  if (deployable.length > 0) lines.push('item --gap -- Deploy a disk image (erases the disk)');
  deployable.forEach((disk, i) => lines.push(`item disk${i} ${ipxeText(deployItemText(disk))}`));
  lines.push('item --gap -- Other', 'item local Boot from local disk', 'item shell iPXE shell');
  lines.push(`choose --default ${defaultLabel} --timeout ${Math.round(options.timeoutSeconds * 1000)} target || goto local`);
  lines.push('goto ${target}');
  for (const img of sorted) {
    lines.push(`:${labels.get(img.profile)}`);
    lines.push(`chain --autofree ${options.httpBase}/install?mac=${macHyphen}&profile=${encodeURIComponent(img.profile)} || goto local`);
  }
  // 0 is iPXE's "no timeout": the question then waits for an answer, as the menu does.
  const confirmMs = options.timeoutSeconds === 0 ? 0 : Math.round(Math.max(options.timeoutSeconds, CONFIRM_MIN_SECONDS) * 1000);
  deployable.forEach((disk, i) => {
    const name = ipxeText(disk.profile);
    lines.push(
      `:disk${i}`,
      `menu This erases the disk of ${options.mac}: deploy ${name}?`,
      'item top No, back to the menu',
      `item deploy${i} Yes, erase the disk and deploy ${name} (${sizeShort(disk.sizeBytes)})`,
      `choose --default top --timeout ${confirmMs} target || goto top`,
      'goto ${target}',
      `:deploy${i}`,
      // ${buildarch}: the agent is served for this machine's architecture.
      `chain --autofree ${options.httpBase}/install?mac=${macHyphen}&profile=${encodeURIComponent(disk.profile)}&erase=yes&arch=\${buildarch} || goto local`,
    );
  });
  lines.push(':shell', 'shell', 'goto local', ':local', 'echo pxe-pilot: booting from local disk', 'exit', '');
  return lines.join('\n');
}
