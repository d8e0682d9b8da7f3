// The per-machine GRUB configuration GRUB fetches over TFTP ($prefix/pxe-pilot/<mac>.cfg): the
// same decision, reason and install lifecycle as GET /boot?mac= (src/http/boot.ts), rendered for
// GRUB. Transport glue: asks src/boot, writes through the ports, records the event.
import type { Profile } from '../config/profile.ts';
import type { InstallImage } from '../boot/catalogue.ts';
import type { NodeLookup, NodeWrites } from '../boot/ports.ts';
import type { EventSink } from '../boot/events.ts';
import { answerBase, httpBase } from '../boot/urls.ts';
import { fetchesAnswer, nextState, profileArmsInstall, type StateChange } from '../boot/lifecycle.ts';
import { decide } from '../boot/policy.ts';
import { renderGrubInstall, renderGrubLocal, renderGrubMenu, renderGrubRefusal } from '../boot/grub.ts';
import type { SignedChain } from '../boot/loaders.ts';

/** What the GRUB configuration needs of the store. */
export type GrubNodeStore = NodeLookup & Pick<NodeWrites, 'sawNode' | 'applyChange'> & EventSink & { reread?: NodeWrites['reread'] };

/** The install images under [assets] dir (src/assets/catalogue-scan.ts AssetCatalogue). */
export interface ImageCatalogue {
  find(dir: string, profile: string): InstallImage | undefined;
  images(dir: string): InstallImage[];
}

export interface GrubConfigRequest {
  mac: string;
  /** The machine's address (the TFTP client's). */
  ip: string;
  file: string;
  chain: SignedChain;
}

async function consumeRefusal(store: GrubNodeStore, mac: string, change: StateChange): Promise<string | null> {
  try {
    return (await store.applyChange(mac, change))
      ? null
      : 'the install was consumed meanwhile (another request or appliance served it): booting from local disk next';
  } catch (err) {
    return `the store cannot record the install consumption now (${(err as Error).message}): not served, so it cannot run twice; retry when the store is back`;
  }
}

/** The configuration text for one machine; records the decision as an event (code grub-config). */
export async function machineGrubConfig(req: GrubConfigRequest, profile: Profile, store: GrubNodeStore, catalogue: ImageCatalogue): Promise<string> {
  const { mac, ip } = req;
  const host = profile.hosts.get(mac);
  let node = store.sawNode(mac, { ip, firmware: 'uefi', hostname: host?.hostname || undefined }, profileArmsInstall(host));
  const client = { mac, firmware: 'uefi' as const, isIpxe: false, ip, arch: req.chain.arches[0] };
  let decision = decide(client, profile, node);
  if (decision.action === 'install' && store.reread) {
    node = (await store.reread(mac)) ?? node;
    decision = decide(client, profile, node);
  }
  const server = httpBase(profile);
  const vars = { mac, ip, hostname: host?.hostname ?? '', server, answerUrl: `${answerBase(profile)}/answer`, answerServer: answerBase(profile) };
  let outcome: string = decision.action;
  let reason = decision.reason;
  let text: string;

  if (decision.action === 'install') {
    const image = catalogue.find(profile.assets.dir, decision.profile!);
    if (!image) {
      outcome = 'error';
      reason = `${decision.reason}, but ${profile.assets.dir}/${decision.profile} has no vmlinuz and initrd`;
      text = renderGrubRefusal(reason);
    } else if (image.integrity === 'changed') {
      outcome = 'error';
      reason = `${decision.reason}, but ${image.profile} is not offered: ${image.integrityProblem}; run pxe-pilot assets verify ${image.profile}, or add the image again`;
      text = renderGrubRefusal(reason);
    } else {
      const served = nextState({ kind: 'script-served', profile: image.profile, fetchesAnswer: fetchesAnswer(image.product) }, node);
      const refusal = served.change ? await consumeRefusal(store, mac, served.change) : null;
      if (refusal) {
        outcome = 'refused';
        reason = `${decision.reason}, but ${refusal}`;
        text = renderGrubRefusal(reason);
      } else {
        text = renderGrubInstall(image, profile.server.address, host?.cmdline ?? '', vars, decision.reason);
        if (served.change) reason += `; ${served.reason}`;
      }
    }
  } else if (decision.action === 'local') {
    text = renderGrubLocal(decision.reason);
  } else if (decision.action === 'menu') {
    text = renderGrubMenu(catalogue.images(profile.assets.dir), {
      defaultItem: profile.boot.menuDefault,
      timeoutSeconds: profile.boot.menuTimeout,
      reason: decision.reason,
      tftpServer: profile.server.address,
      extraCmdline: host?.cmdline ?? '',
      vars,
    });
  } else {
    text = renderGrubRefusal(decision.reason);
  }
  store.record({
    mac,
    protocol: 'tftp',
    kind: 'GRUB config',
    decision: outcome,
    reason,
    code: 'grub-config',
    detail: { client: ip, file: req.file, ...(decision.profile ? { profile: decision.profile } : {}) },
  });
  return text;
}
