// Files generated per request rather than read from the root: the iPXE bootstrap script,
// so a firmware or an iPXE build that asks TFTP for its script is sent on to HTTP.
import { renderBootstrapScript } from '../boot/ipxe.ts';
import type { Profile } from '../config/profile.ts';
import { httpBase } from '../boot/urls.ts';

/** Names iPXE builds look for (autoexec.ipxe) and the name our DHCP side may hand out (boot.ipxe). */
export const VIRTUAL_FILE_NAMES: readonly string[] = ['boot.ipxe', 'autoexec.ipxe'];

/** The generated content for `filename`, or null when it is not a virtual file. */
export function virtualFile(filename: string, profile: Profile): Buffer | null {
  if (!VIRTUAL_FILE_NAMES.includes(filename)) return null;
  return Buffer.from(renderBootstrapScript(httpBase(profile)), 'utf8');
}
