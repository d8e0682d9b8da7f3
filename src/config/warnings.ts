// Things a valid profile allows but that will not work until the user acts: missing folders,
// boot files TFTP would refuse, a server mode that leaves installers without DNS. Printed as
// warnings at start and by check-config, never errors.
import { existsSync, realpathSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { Profile } from './profile.ts';
import { SIGNED_CHAINS, signedFileOnDisk } from '../boot/loaders.ts';

/** What loader = grub and ipxe-shim need on disk, for the loaders the profile uses ([boot] or any [host]). */
function signedLoaderWarnings(p: Profile): string[] {
  const used = new Set([p.boot.loader, ...[...p.hosts.values()].map((h) => h.loader || p.boot.loader)]);
  const w: string[] = [];
  if (used.has('grub')) {
    const amd64 = SIGNED_CHAINS[0]!;
    for (const file of [amd64.shim, amd64.grub]) {
      const path = signedFileOnDisk(p.boot.grubDir, amd64, file);
      if (!existsSync(path))
        w.push(
          `loader = grub: ${path} is missing: install debian-installer-12-netboot-amd64 (-arm64 for ARM64 machines) or point [boot] grub_dir at its images folder`,
        );
    }
  }
  if (used.has('ipxe-shim') && p.tftp.enabled) {
    for (const file of ['ipxe-shimx64.efi', 'ipxe.efi']) {
      const problem = bootFileProblem(p.tftp.root, file);
      if (problem)
        w.push(
          `loader = ipxe-shim: ${file} ${problem}: copy it from iPXE's signed release (ipxeboot.tar.gz, folder x86_64-sb/) into [tftp] root (see docs/install.md)`,
        );
    }
  }
  return w;
}

/** Why TFTP would refuse a boot file, or null when it would serve it. */
function bootFileProblem(root: string, file: string): string | null {
  const path = resolve(root, file);
  if (!existsSync(path)) return `not found in [tftp] root ${root}`;
  // Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi; TFTP serves only what is under root.
  const realRoot = realpathSync(root);
  const real = realpathSync(path);
  if (!real.startsWith(realRoot + sep))
    return `${path} is a link to ${real}, outside [tftp] root, which TFTP refuses; copy the file into root or use snponly.efi`;
  return null;
}

export function profileWarnings(p: Profile): string[] {
  const w: string[] = [];
  if (p.tftp.enabled && !existsSync(p.tftp.root))
    w.push(
      `[tftp] root ${p.tftp.root} does not exist: install Debian's ipxe package (apt install ipxe) or point root at a folder with undionly.kpxe and snponly.efi`,
    );
  else if (p.tftp.enabled) {
    for (const [key, file] of [
      ['bios', p.boot.bios],
      ['uefi_x64', p.boot.uefiX64],
    ] as const) {
      const problem = file ? bootFileProblem(p.tftp.root, file) : null;
      if (problem) w.push(`[boot] ${key} = ${file}: ${problem}: machines asking for it will fail to boot`);
    }
  }
  if (!existsSync(p.assets.dir))
    w.push(
      `[assets] dir ${p.assets.dir} does not exist: create it and put <product>/<version>/vmlinuz and initrd in it (see docs/install.md); the menu offers local disk only until then`,
    );
  if (!existsSync(p.answers.dir))
    w.push(`[answers] dir ${p.answers.dir} does not exist: create it and put hosts/<mac>.toml or default.toml in it (see docs/answer-files.md)`);
  // Measured with Debian 12's netboot installer (auto=true priority=critical) in the QEMU lab:
  // each missing option stops it at a question before it has fetched its preseed.
  if (p.dhcp.mode === 'server' && p.dhcp.dns.length === 0)
    w.push(
      '[dhcp] dns is empty: server mode hands out no DNS server, and Debian\'s installer then stops at its "Name server addresses" question even at priority critical (an unattended install waits for a keyboard); set [dhcp] dns to a resolver the machines can reach',
    );
  if (p.dhcp.mode === 'server' && !p.dhcp.router)
    w.push(
      '[dhcp] router is empty: server mode hands out no default gateway, and Debian\'s installer then stops at "Continue without a default route?" even at priority critical; set [dhcp] router to the boot network\'s gateway',
    );
  if (!p.http.adminToken) w.push('[http] admin_token is not set: the admin API answers on loopback only');
  w.push(...signedLoaderWarnings(p));
  return w;
}
