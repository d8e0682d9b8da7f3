// Bringing machines known to an earlier pxe-pilot into the store (`pxe-pilot import`): their MAC,
// first- and last-seen times and local-boot script. Re-importing is harmless: the times widen
// (earliest first sight, latest last sight) and a local-boot script set here already is kept.
// Never arms an install: that is the lifecycle's, asked separately by the import command.
import type { NodeRecord } from '../boot/ports.ts';
import { blankNode } from './mirror.ts';

export interface ImportedNode {
  mac: string;
  /** ms since the epoch; null: not known (a seed file): a new node is first seen now, a known one keeps its time. */
  firstSeen: number | null;
  /** ms since the epoch; null: never seen booting, first sight stands for it. */
  lastSeen: number | null;
  /** An already validated local-boot script; null: the default, exit. */
  localBoot: string | null;
}

export type ImportOutcome = 'added' | 'updated' | 'unchanged';

/** What a store offers `pxe-pilot import`; both backends implement it. */
export interface NodeImports {
  /** Writes each node durably; resolves once on disk, with what happened to each MAC. */
  importNodes(nodes: readonly ImportedNode[]): Promise<Map<string, ImportOutcome>>;
}

/** The node once `imported` is merged into what the store has (undefined: none yet). */
export function mergeImported(existing: NodeRecord | undefined, imported: ImportedNode, now: number): { node: NodeRecord; outcome: ImportOutcome } {
  if (!existing) {
    const firstSeen = imported.firstSeen ?? now;
    const lastSeen = Math.max(imported.lastSeen ?? firstSeen, firstSeen);
    return { node: { ...blankNode(imported.mac, firstSeen), lastSeen, localBoot: imported.localBoot }, outcome: 'added' };
  }
  const node = {
    ...existing,
    firstSeen: Math.min(existing.firstSeen, imported.firstSeen ?? existing.firstSeen),
    lastSeen: Math.max(existing.lastSeen, imported.lastSeen ?? imported.firstSeen ?? existing.lastSeen),
    localBoot: existing.localBoot ?? imported.localBoot,
  };
  const same = node.firstSeen === existing.firstSeen && node.lastSeen === existing.lastSeen && node.localBoot === existing.localBoot;
  return { node: same ? existing : node, outcome: same ? 'unchanged' : 'updated' };
}
