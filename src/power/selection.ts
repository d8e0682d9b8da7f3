// Which machines a reinstall of many takes: the MACs given, or the machines a rule matches.
// Pure. The rule's predicate comes from the boot rules ([rule NAME]); this module only applies
// it to a node list, so the selection does not change when rules learn new conditions.
import type { NodeRecord } from '../boot/ports.ts';
import { normaliseMac } from '../net/mac.ts';

/** The MACs of the nodes `matches` accepts, in the list's order, each once. */
export function selectMachines<N extends { mac: string }>(nodes: Iterable<N>, matches: (node: N) => boolean): string[] {
  const chosen = new Set<string>();
  for (const node of nodes) if (matches(node)) chosen.add(node.mac);
  return [...chosen];
}

/** A list of MACs as given ("a,b" or an array): normalised, each once; or the first that is not a MAC. */
export function parseMacList(given: readonly string[]): { ok: true; macs: string[] } | { ok: false; bad: string } {
  const macs = new Set<string>();
  for (const raw of given) {
    const mac = normaliseMac(raw.trim());
    if (!mac) return { ok: false, bad: raw };
    macs.add(mac);
  }
  return { ok: true, macs: [...macs] };
}

/**
 * The predicate of `[rule NAME]`, or null when there is no such rule. Rules are not in this
 * build yet: this is where they are wired (the rule's match against a node and its inventory).
 */
export type RuleLookup = (name: string) => ((node: NodeRecord) => boolean) | null;

export const noRules: RuleLookup = () => null;
