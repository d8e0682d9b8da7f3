// Small installer-shaped ISOs for tests: xorriso's mkisofs mode, BIOS (El Torito) and UEFI
// bootable like a vendor ISO, from a folder that holds boot/grub/eltorito.img and efi/efiboot.img.

/** argv for `xorriso` writing `root` to `out` with volume id `volume`. */
export function bootableIsoArgs(out: string, volume: string, root: string): string[] {
  return [
    '-as',
    'mkisofs',
    '-quiet',
    '-o',
    out,
    '-V',
    volume,
    '-R',
    '-J',
    '-b',
    'boot/grub/eltorito.img',
    '-no-emul-boot',
    '-boot-load-size',
    '4',
    '-boot-info-table',
    '-eltorito-alt-boot',
    '-e',
    'efi/efiboot.img',
    '-no-emul-boot',
    root,
  ];
}
