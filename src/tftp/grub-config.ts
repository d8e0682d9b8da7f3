// The per-machine GRUB configuration GRUB fetches over TFTP ($prefix/pxe-pilot/<mac>.cfg): the
// same resolution as GET /boot?mac= (src/boot/resolve.ts: decision, install lifecycle, event),
// rendered for GRUB.
import type { Profile } from '../config/profile.ts';
import type { BootPorts, ImageCatalogue } from '../boot/ports.ts';
import { resolveBoot } from '../boot/resolve.ts';
import { renderGrubInspect, renderGrubInstall, renderGrubLocal, renderGrubMenu, renderGrubRefusal } from '../boot/grub.ts';
import type { SignedChain } from '../boot/loaders.ts';

export interface GrubConfigRequest {
  mac: string;
  /** The machine's address (the TFTP client's). */
  ip: string;
  file: string;
  chain: SignedChain;
}

/** The configuration text for one machine; the event is recorded with code grub-config. */
export async function machineGrubConfig(req: GrubConfigRequest, profile: Profile, ports: BootPorts, catalogue: ImageCatalogue): Promise<string> {
  const { mac, ip } = req;
  const client = { mac, firmware: 'uefi' as const, isIpxe: false, ip, arch: req.chain.arches[0] };
  const event = { protocol: 'tftp' as const, kind: 'GRUB config', code: 'grub-config' as const, detail: { client: ip, file: req.file } };
  const outcome = await resolveBoot({ client, event }, profile, ports, catalogue);
  const tftpServer = profile.server.address;
  switch (outcome.tag) {
    case 'install':
      return renderGrubInstall(outcome.image, tftpServer, outcome.cmdline, outcome.vars, outcome.reason);
    case 'local':
      return renderGrubLocal(outcome.reason);
    case 'menu': {
      const { images, reason, cmdline, vars } = outcome;
      const { menuDefault, menuTimeout } = profile.boot;
      const defaultItem = outcome.menu?.default || menuDefault;
      return renderGrubMenu(images, { defaultItem, timeoutSeconds: menuTimeout, reason, tftpServer, extraCmdline: cmdline, vars });
    }
    case 'inspect':
      return renderGrubInspect(outcome.image, tftpServer, outcome.cmdline, outcome.reason);
    case 'refused':
    case 'error':
      return renderGrubRefusal(outcome.reason);
  }
}
