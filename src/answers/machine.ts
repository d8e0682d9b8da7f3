// A machine reports several NICs; the node table knows it by the one it PXE-booted from.
// This picks which MAC names the machine, preferring what we already know about it.
import type { NodeLifecycle } from '../boot/lifecycle.ts';

export interface NicFacts {
  mac: string;
  /** State of the node with this MAC, or null when the store has none. */
  state: NodeLifecycle | null;
  /** The profile has a [host] section for this MAC. */
  hasHost: boolean;
  /** The installer says this NIC carries the management address. */
  management?: boolean;
}

/**
 * The first NIC, in the order given, whose node is in the first state of `statePreference`;
 * then the next state; then one with a [host] section; then any known node; then the
 * management NIC; then the first NIC. Null only for an empty list.
 */
export function pickMachineMac(nics: readonly NicFacts[], statePreference: readonly NodeLifecycle[]): string | null {
  for (const state of statePreference) {
    const hit = nics.find((n) => n.state === state);
    if (hit) return hit.mac;
  }
  return (nics.find((n) => n.hasHost) ?? nics.find((n) => n.state !== null) ?? nics.find((n) => n.management) ?? nics[0])?.mac ?? null;
}
