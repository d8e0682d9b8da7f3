// Where a requested TFTP path is read from: a generated file (the iPXE bootstrap, GRUB's
// configurations), the signed shim and GRUB of loader = grub (from [boot] grub_dir), an image
// folder under [assets] dir (assets/…), or [tftp] root. Every file on disk goes through a
// FileProvider rooted at its own folder, so the same traversal rules hold everywhere.
import type { Profile } from '../config/profile.ts';
import { classifySignedPath, signedFileOnDisk, type SignedChain } from '../boot/loaders.ts';
import { renderGrubBootstrap, TFTP_ASSETS_FOLDER } from '../boot/grub.ts';
import { checkRequestPath } from './path.ts';
import { REMOTE_FOLDER } from '../boot/catalogue.ts';
import { isPinnedRemoteFile, remoteCacheDir } from '../config/images.ts';
import { virtualFile } from './virtual.ts';

/** Files shim asks for beside GRUB; "not found" is the normal answer, not worth a warning. */
export const SHIM_PROBES: readonly string[] = ['revocations_sbat.efi', 'revocations_sku.efi', 'shim_certificate_0.efi'];

export type SourcePlan =
  /** Generated now. */
  | { kind: 'virtual'; bytes: Buffer }
  /** The per-machine GRUB configuration (decided by the policy; records an event). */
  | { kind: 'grub-machine'; mac: string; chain: SignedChain }
  /** A file below `root`. */
  | { kind: 'file'; root: string; segments: string[] }
  /** Refused: `quiet` ones (shim's probes) get their ERROR without a warning or event. */
  | { kind: 'refused'; notFound: boolean; reason: string; quiet?: boolean };

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** What serving `filename` means under `profile`. Pure: no filesystem access. */
export function planSource(filename: string, profile: Profile): SourcePlan {
  const checked = checkRequestPath(filename);
  if (!checked.ok) return { kind: 'refused', notFound: false, reason: checked.reason };
  const segments = checked.segments;
  const path = segments.join('/');

  const generated = virtualFile(path, profile);
  if (generated) return { kind: 'virtual', bytes: generated };

  const signed = classifySignedPath(path);
  switch (signed.kind) {
    case 'binary': {
      const onDisk = signedFileOnDisk(profile.boot.grubDir, signed.chain, signed.file);
      return { kind: 'file', root: onDisk.slice(0, onDisk.lastIndexOf('/')), segments: [signed.file] };
    }
    case 'bootstrap':
      return { kind: 'virtual', bytes: Buffer.from(renderGrubBootstrap(), 'utf8') };
    case 'machine':
      return { kind: 'grub-machine', mac: signed.mac, chain: signed.chain };
    case 'none':
      break;
  }
  if (SHIM_PROBES.includes(baseName(path)))
    return { kind: 'refused', notFound: true, reason: `${baseName(path)}: shim's optional file, not served`, quiet: true };
  // The chains' folders hold only what classifySignedPath names: GRUB's $prefix/<platform>/grub.cfg
  // must be "not found" so that it falls back to $prefix/grub.cfg, which we generate.
  if (signed.underChain)
    return { kind: 'refused', notFound: true, reason: 'file not found (only the signed shim, GRUB and its configuration are served here)' };
  if (segments[0] === TFTP_ASSETS_FOLDER && segments.length > 1) return { kind: 'file', root: profile.assets.dir, segments: segments.slice(1) };
  // Pinned remote files, for GRUB (no HTTP under Secure Boot): only what the profile pins, once fetched.
  if (segments[0] === REMOTE_FOLDER && segments.length === 3) {
    if (!isPinnedRemoteFile(profile, segments[1]!, segments[2]!))
      return { kind: 'refused', notFound: true, reason: `no [image] section pins ${segments[2]} with SHA-256 ${segments[1]}` };
    return { kind: 'file', root: remoteCacheDir(profile.server.stateDir), segments: segments.slice(1) };
  }
  return { kind: 'file', root: profile.tftp.root, segments };
}
