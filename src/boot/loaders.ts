// The loaders a UEFI machine can be handed over PXE, and the signed chain of each architecture as
// one table row: adding an architecture is adding a row. Pure data and lookups.
//
// ipxe       [boot] uefi_x64 / uefi_arm64 (Debian's iPXE: unsigned, refused under Secure Boot)
// grub       Debian's Microsoft-signed shim → Debian-signed network GRUB → a signed kernel, the
//            kernel and initrds over TFTP (signed GRUB has no HTTP under Secure Boot)
// ipxe-shim  iPXE's own signed shim → signed ipxe.efi, files the user copies into [tftp] root

export const LOADER_NAMES = ['ipxe', 'grub', 'ipxe-shim'] as const;
export type LoaderName = (typeof LOADER_NAMES)[number];

/** One architecture's signed boot chain, as Debian's netboot installer package lays it out. */
export interface SignedChain {
  /** DHCP option 93 codes (PXE, not HTTP boot: Debian 12's signed GRUB cannot load over HTTP). */
  arches: readonly number[];
  /** For reasons and docs: "x86-64 UEFI". */
  name: string;
  /** Debian's name of the architecture: the package debian-installer-12-netboot-<debianArch>. */
  debianArch: 'amd64' | 'arm64';
  /** TFTP folder of shim and GRUB (shim fetches GRUB from its own folder), no leading slash. */
  folder: string;
  /** Microsoft-signed shim: the boot file. */
  shim: string;
  /** Debian-signed network GRUB, fetched by shim. */
  grub: string;
  /** GRUB's built-in $prefix, on (tftp,<next-server>): it reads $prefix/grub.cfg. */
  prefix: string;
  /** GRUB's platform folder under $prefix: its embedded config prefers $prefix/<platform>/grub.cfg. */
  platform: string;
  /** iPXE's signed shim for loader = ipxe-shim, in [tftp] root; it loads ipxe.efi beside it. */
  ipxeShim: string;
}

/**
 * The netboot installer's files rather than shim-signed + grub-efi-amd64-signed: both
 * architectures come in the same layout from one package family, and the prefix names the
 * architecture, so x86-64 and arm64 machines never read each other's GRUB folder (see
 * docs/decisions.md).
 */
export const SIGNED_CHAINS: readonly SignedChain[] = [
  {
    arches: [7, 9],
    name: 'x86-64 UEFI',
    debianArch: 'amd64',
    folder: 'debian-installer/amd64',
    shim: 'bootnetx64.efi',
    grub: 'grubx64.efi',
    prefix: '/debian-installer/amd64/grub',
    platform: 'x86_64-efi',
    ipxeShim: 'ipxe-shimx64.efi',
  },
  {
    arches: [11],
    name: 'ARM64 UEFI',
    debianArch: 'arm64',
    folder: 'debian-installer/arm64',
    shim: 'bootnetaa64.efi',
    grub: 'grubaa64.efi',
    prefix: '/debian-installer/arm64/grub',
    platform: 'arm64-efi',
    ipxeShim: 'ipxe-shimaa64.efi',
  },
];

/** The signed chain for a DHCP option 93 code, or undefined (BIOS, HTTP boot, no row). */
export function signedChainFor(arch: number | undefined): SignedChain | undefined {
  return arch === undefined ? undefined : SIGNED_CHAINS.find((c) => c.arches.includes(arch));
}

/** The boot file a DHCP reply names for `loader` on this chain (relative to [tftp] root). */
export function signedBootFile(chain: SignedChain, loader: Exclude<LoaderName, 'ipxe'>): string {
  return loader === 'grub' ? `${chain.folder}/${chain.shim}` : chain.ipxeShim;
}

/** Where a chain's file lies on disk: <[boot] grub_dir>/<arch>/text/<folder>/<file> (the package's layout). */
export function signedFileOnDisk(grubDir: string, chain: SignedChain, file: string): string {
  return `${grubDir.replace(/\/+$/, '')}/${chain.debianArch}/text/${chain.folder}/${file}`;
}

/** Folder, under each chain's prefix, of the generated per-machine configurations. */
export const GRUB_MACHINE_FOLDER = 'pxe-pilot';

/** What a TFTP path means for the signed chains; paths are without a leading slash. */
export type SignedPath =
  | { kind: 'binary'; chain: SignedChain; file: string }
  | { kind: 'bootstrap'; chain: SignedChain }
  | { kind: 'machine'; chain: SignedChain; mac: string }
  /** underChain: inside a chain's folder or prefix, where nothing else is served. */
  | { kind: 'none'; underChain: boolean };

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Tells the chains' files and generated configurations from everything else. */
export function classifySignedPath(path: string): SignedPath {
  const p = path.replace(/^\/+/, '');
  for (const chain of SIGNED_CHAINS) {
    if (p === `${chain.folder}/${chain.shim}`) return { kind: 'binary', chain, file: chain.shim };
    if (p === `${chain.folder}/${chain.grub}`) return { kind: 'binary', chain, file: chain.grub };
    const prefix = chain.prefix.slice(1);
    if (p === `${prefix}/grub.cfg`) return { kind: 'bootstrap', chain };
    const machine = `${prefix}/${GRUB_MACHINE_FOLDER}/`;
    if (p.startsWith(machine) && p.endsWith('.cfg')) {
      const mac = p.slice(machine.length, -'.cfg'.length).toLowerCase();
      if (MAC.test(mac)) return { kind: 'machine', chain, mac };
    }
  }
  const underChain = SIGNED_CHAINS.some((c) => p.startsWith(`${c.folder}/`) || p.startsWith(`${c.prefix.slice(1)}/`));
  return { kind: 'none', underChain };
}
