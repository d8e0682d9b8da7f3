// The "newc" cpio framing the Linux kernel unpacks into its initramfs. Pure: sizes in, bytes out.
// Used to place a whole file (the Proxmox ISO) at /<name> in the initramfs, on BIOS and UEFI
// alike: iPXE's own wrapping (`initrd <url> <name>`) only reaches the kernel on BIOS in
// builds as old as Debian's; on UEFI the EFI stub reads the image raw.

/** The largest file newc can describe (its size field is 8 hex digits). */
export const NEWC_MAX_SIZE = 0xffffffff;

function field(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

function header(name: string, mode: number, size: number, mtimeSec: number, nlink: number, ino: number): Buffer {
  const nameBytes = Buffer.from(name + '\0', 'utf8');
  const head = '070701' + [ino, mode, 0, 0, nlink, mtimeSec, size, 0, 0, 0, 0, nameBytes.length, 0].map(field).join('');
  return Buffer.concat([Buffer.from(head, 'latin1'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length))]);
}

/** Header of one regular file (mode 0644) named `name` at the initramfs root. */
export function newcFileHeader(name: string, size: number, mtimeSec: number): Buffer {
  if (!/^[A-Za-z0-9._+-]+$/.test(name)) throw new RangeError(`cpio name ${JSON.stringify(name)} is not a plain file name`);
  if (!Number.isSafeInteger(size) || size < 0 || size > NEWC_MAX_SIZE) throw new RangeError(`size ${size} does not fit a newc header`);
  return header(name, 0o100644, size, Math.max(0, Math.floor(mtimeSec)) >>> 0, 1, 1);
}

/** Padding after `size` bytes of file data, then the TRAILER!!! entry that ends the archive. */
export function newcFileTail(size: number): Buffer {
  return Buffer.concat([Buffer.alloc(pad4(size)), header('TRAILER!!!', 0, 0, 0, 1, 0)]);
}

/** Total bytes of header + data + tail. */
export function newcWrappedSize(name: string, size: number): number {
  return newcFileHeader(name, size, 0).length + size + newcFileTail(size).length;
}
