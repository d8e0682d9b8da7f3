// Which answer a machine gets: the ordered list of places to look, first match wins.
// Pure: the folder is read elsewhere (folder.ts) against this list.
import { macFileName } from '../net/mac.ts';
import { keyOf, normaliseProduct, type KeyRule } from './names.ts';

export type SelectionRule = KeyRule | 'product' | 'default';

export interface MachineIdentity {
  /** Normalised MACs, in the order the machine reported its NICs. */
  macs: string[];
  serial: string | null;
  uuid: string | null;
  /** Product short name (pve, pbs, pmg); null when unknown. */
  product: string | null;
}

export interface Candidate {
  rule: SelectionRule;
  /** Normalised key: a MAC, lower-case serial, UUID, product name, or 'default'. */
  key: string;
  /** The entry name this key is expected under, without suffix: aa-bb-cc-dd-ee-ff, the serial as sent… */
  name: string;
  /** Why this place is tried, for the event log. */
  why: string;
}

/** Folder below a layout's base that holds the entries keyed by each rule. */
export const KEYED_FOLDERS: Record<KeyRule, string> = { mac: 'hosts', serial: 'serial', uuid: 'uuid' };

/**
 * hosts/<mac> for each NIC in order, then serial/<serial>, uuid/<uuid>, <product>, default.
 * Rules left out of `rules` are skipped (installers fetched by MAC alone know no product).
 */
export function answerCandidates(identity: MachineIdentity, rules: readonly SelectionRule[] = ['mac', 'serial', 'uuid', 'product', 'default']): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<string>();
  const nics = identity.macs.length;
  if (rules.includes('mac')) {
    identity.macs.forEach((raw, i) => {
      const mac = keyOf('mac', raw);
      if (!mac || seen.has(mac)) return;
      seen.add(mac);
      out.push({ rule: 'mac', key: mac, name: macFileName(mac), why: nics > 1 ? `MAC ${mac} (NIC ${i + 1} of ${nics})` : `MAC ${mac}` });
    });
  }
  const serial = identity.serial === null ? null : keyOf('serial', identity.serial);
  if (rules.includes('serial') && serial)
    out.push({ rule: 'serial', key: serial, name: identity.serial!.trim(), why: `DMI serial ${identity.serial!.trim()}` });
  const uuid = identity.uuid === null ? null : keyOf('uuid', identity.uuid);
  if (rules.includes('uuid') && uuid) out.push({ rule: 'uuid', key: uuid, name: uuid, why: `DMI UUID ${uuid}` });
  const product = normaliseProduct(identity.product);
  if (rules.includes('product') && product && product !== 'default') out.push({ rule: 'product', key: product, name: product, why: `product ${product}` });
  if (rules.includes('default')) out.push({ rule: 'default', key: 'default', name: 'default', why: 'no more specific answer' });
  return out;
}
