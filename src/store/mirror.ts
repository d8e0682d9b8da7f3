// The node mirror: every node and its install history in memory, the read path of both stores.
// SQLite (nodes.ts) and PostgreSQL (postgres/) are persistence adapters around it: they load it,
// write what changes in it, and (PostgreSQL) make it follow the other appliances. Here alone:
// - how a sighting changes a node (withFacts), and whether it arms one (lifecycle.sighted);
// - the only TypeScript that applies a StateChange to a node and its history (applyChange);
// - the strangers (never armed, never installed), in the order they were last seen, and their
//   eviction past the cap;
// - the directory reads (lists, counts, by hardware, install history), all from memory.
import { sighted, type NodeLifecycle, type StateChange } from '../boot/lifecycle.ts';
import type { InstallRecord, NodeDirectory, NodeRecord, SightingFacts } from '../boot/ports.ts';

/** A machine heard from for the first time: seen, nothing learnt yet. */
export function blankNode(mac: string, now: number): NodeRecord {
  return {
    mac,
    hostname: null,
    state: 'seen',
    profile: null,
    localBoot: null,
    armedAt: null,
    armedBy: null,
    consumedAt: null,
    installedAt: null,
    firstSeen: now,
    lastSeen: now,
    lastIp: null,
    arch: null,
    firmware: null,
    uuid: null,
    serial: null,
    fqdn: null,
    bootMode: null,
    installReport: null,
    inventory: null,
    enrolment: null,
  };
}

/** The node once a sighting at `now` is applied: facts present replace what was known. */
export function withFacts(node: NodeRecord, facts: SightingFacts, now: number): NodeRecord {
  return {
    ...node,
    lastSeen: now,
    lastIp: facts.ip ?? node.lastIp,
    arch: facts.arch ?? node.arch,
    firmware: facts.firmware ?? node.firmware,
    uuid: facts.uuid ?? node.uuid,
    serial: facts.serial ?? node.serial,
    hostname: facts.hostname ?? node.hostname,
  };
}

/** Two sightings as one: `later`'s facts where present, else `earlier`'s. */
export function mergeFacts(earlier: SightingFacts, later: SightingFacts): SightingFacts {
  const merged: Record<string, unknown> = { ...earlier };
  for (const [key, value] of Object.entries(later)) if (value !== undefined) merged[key] = value;
  return merged;
}

/**
 * Never armed, never installed, never inspected nor enrolled: a cancelled install is kept, or its
 * next sight would arm it again; an inspected or enrolled machine is what discovery is for.
 */
export function isStranger(n: NodeRecord): boolean {
  return n.state === 'seen' && n.installedAt === null && n.armedAt === null && !n.inventory && !n.enrolment;
}

/**
 * `change` (decided by src/boot/lifecycle.ts) applied at `now` to `node` (undefined: not recorded;
 * an arm or a completion creates it) and to its install history, given as it is and returned as a
 * new list. Undefined when the guard refuses it: only a pending install is consumed or disarmed,
 * so a stale read cannot undo a newer state. `newId` numbers a new install record.
 */
export function applyChange(
  mac: string,
  node: NodeRecord | undefined,
  change: StateChange,
  now: number,
  history: readonly InstallRecord[],
  newId: () => number,
): { node: NodeRecord; history: InstallRecord[] } | undefined {
  const list = [...history];
  const edit = (at: number, patch: Partial<InstallRecord>): void => {
    list[at] = { ...list[at]!, ...patch };
  };
  const record = (fields: Partial<InstallRecord>): void => {
    list.push({ id: newId(), mac, profile: null, armedAt: null, armedBy: null, consumedAt: null, installedAt: null, fqdn: null, ...fields });
  };
  switch (change.kind) {
    case 'arm': {
      record({ profile: change.profile, armedAt: now, armedBy: change.by });
      const armed = { state: 'install-pending' as const, profile: change.profile, armedAt: now, armedBy: change.by, consumedAt: null };
      return { node: { ...(node ?? blankNode(mac, now)), ...armed }, history: list };
    }
    case 'consume': {
      if (node?.state !== 'install-pending') return undefined;
      const last = list.length - 1;
      if (last >= 0 && list[last]!.consumedAt === null) edit(last, { consumedAt: now, profile: list[last]!.profile ?? change.profile });
      return { node: { ...node, state: 'installing', consumedAt: now, profile: node.profile ?? change.profile }, history: list };
    }
    case 'complete': {
      let open = list.length - 1;
      while (open >= 0 && list[open]!.installedAt !== null) open--;
      if (open >= 0) edit(open, { installedAt: now, fqdn: change.fqdn });
      else record({ installedAt: now, fqdn: change.fqdn });
      const done = { state: 'installed' as const, installedAt: now, fqdn: change.fqdn, bootMode: change.bootMode, installReport: change.report ?? null };
      return { node: { ...(node ?? blankNode(mac, now)), ...done }, history: list };
    }
    case 'fail': {
      // Only a deploy under way (or refused before it wrote) fails; the install record stays open.
      if (node?.state !== 'installing' && node?.state !== 'install-pending') return undefined;
      return { node: { ...node, state: 'deploy-failed', installReport: change.report ?? null }, history: list };
    }
    case 'disarm':
      if (node?.state !== 'install-pending') return undefined;
      // armedAt stays: a machine once armed is not armed again by its [host] section (lifecycle.sighted).
      return { node: { ...node, state: change.to, profile: null }, history: list };
    case 'arm-wipe':
      return {
        node: { ...(node ?? blankNode(mac, now)), state: 'wipe-pending', profile: null, armedAt: now, armedBy: 'admin', consumedAt: null },
        history: list,
      };
    case 'consume-wipe': {
      if (node?.state === 'wipe-pending') return { node: { ...node, state: 'wiping', consumedAt: now }, history: list };
      if (change.by !== 'profile' || (node && node.state !== 'seen')) return undefined;
      if (node && node.armedAt !== null && (change.since === null || node.armedAt >= change.since)) return undefined;
      const base = node ?? blankNode(mac, now);
      return { node: { ...base, state: 'wiping', profile: null, armedAt: now, armedBy: 'profile', consumedAt: now }, history: list };
    }
    case 'release': {
      if (change.wiped && node?.state !== 'wiping') return undefined;
      if (!node) return undefined;
      const cleared = {
        state: 'seen' as const,
        profile: null,
        consumedAt: null,
        installedAt: null,
        fqdn: null,
        bootMode: null,
        installReport: change.report ?? null,
        enrolment: null,
      };
      return { node: { ...node, ...cleared }, history: list };
    }
  }
}

/** What a sighting did: the node before (undefined: first sight), after, and the lifecycle's arm. */
export interface Sighting {
  before: NodeRecord | undefined;
  node: NodeRecord;
  arm: StateChange | null;
}

export interface MirrorOptions {
  /** Strangers kept; past this the least recently seen are evicted. */
  maxStrangers: number;
  /** Told of each stranger evicted (gone from the mirror already), to delete it from the disk. */
  evicted: (mac: string) => void;
  /** Numbers an install record made here (SQLite's id; PostgreSQL's table numbers its own). */
  newInstallId: () => number;
}

export class NodeMirror {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly installs = new Map<string, InstallRecord[]>();
  /** Strangers, least recently seen first (moved to the end when seen). */
  private readonly strangers = new Set<string>();

  constructor(private readonly options: MirrorOptions) {}

  /**
   * Puts a node in the mirror. `seen`: it was heard from now, so a stranger moves to the end of
   * the eviction order; false (a re-read of a row) keeps its place.
   */
  put(node: NodeRecord, seen = true): void {
    const mac = node.mac;
    this.nodes.set(mac, node);
    if (!isStranger(node)) {
      this.strangers.delete(mac);
      return;
    }
    if (!seen && this.strangers.has(mac)) return;
    this.strangers.delete(mac);
    this.strangers.add(mac);
    if (this.strangers.size > this.options.maxStrangers) this.evictStrangers();
  }

  /** Past the cap, the least recently seen strangers leave. */
  private evictStrangers(): void {
    for (const mac of this.strangers) {
      if (this.strangers.size <= this.options.maxStrangers) return;
      this.forget(mac);
      this.options.evicted(mac);
    }
  }

  /** Every node's install history at once, from its records oldest first (a store's full read). */
  setHistories(records: Iterable<InstallRecord>): void {
    for (const i of records) {
      let list = this.installs.get(i.mac);
      if (!list) this.installs.set(i.mac, (list = []));
      list.push(i);
    }
  }

  setHistory(mac: string, history: InstallRecord[]): void {
    this.installs.set(mac, history);
  }

  /** The install history as held (not a copy): for the adapters that write it. */
  historyOf(mac: string): readonly InstallRecord[] {
    return this.installs.get(mac) ?? [];
  }

  forget(mac: string): void {
    this.nodes.delete(mac);
    this.installs.delete(mac);
    this.strangers.delete(mac);
  }

  clear(): void {
    this.nodes.clear();
    this.installs.clear();
    this.strangers.clear();
  }

  /** Every node, in no particular order (the adapters' full writes). */
  all(): IterableIterator<NodeRecord> {
    return this.nodes.values();
  }

  /** A machine heard from: its facts, and the install its [host] section arms (lifecycle.sighted), at once in memory. */
  sight(mac: string, facts: SightingFacts, now: number, armedByProfile: boolean): Sighting {
    const before = this.nodes.get(mac);
    const arm = sighted(before, armedByProfile).change;
    let node = withFacts(before ?? blankNode(mac, now), facts, now);
    if (arm) {
      const armed = applyChange(mac, node, arm, now, this.historyOf(mac), this.options.newInstallId)!;
      node = armed.node;
      this.installs.set(mac, armed.history);
    }
    this.put(node);
    return { before, node, arm };
  }

  /** The node for `mac`, created as seen when absent (an admin naming a machine not heard from yet). */
  ensure(mac: string, now: number): Sighting {
    const before = this.nodes.get(mac);
    const node = before ?? blankNode(mac, now);
    if (!before) this.put(node);
    return { before, node, arm: null };
  }

  // ---- NodeDirectory ----

  getNode(mac: string): NodeRecord | undefined {
    return this.nodes.get(mac);
  }

  private newestFirst(state?: NodeLifecycle): NodeRecord[] {
    const all = [...this.nodes.values()];
    return (state ? all.filter((n) => n.state === state) : all).sort((a, b) => b.lastSeen - a.lastSeen);
  }

  listNodes(limit = 1000, offset = 0): NodeRecord[] {
    return this.newestFirst().slice(offset, offset + limit);
  }

  countNodes(): number {
    return this.nodes.size;
  }

  listNodesInState(state: NodeLifecycle, limit = 1000, offset = 0): NodeRecord[] {
    return this.newestFirst(state).slice(offset, offset + limit);
  }

  countNodesInState(state: NodeLifecycle): number {
    let n = 0;
    for (const node of this.nodes.values()) if (node.state === state) n++;
    return n;
  }

  /** The most recently seen node with this DMI UUID, else with this serial (case-insensitive). */
  findNodeByHardware(serial: string | null, uuid: string | null): NodeRecord | undefined {
    const newest = (key: 'uuid' | 'serial', value: string | null): NodeRecord | undefined => {
      if (!value) return undefined;
      const wanted = value.toLowerCase();
      let best: NodeRecord | undefined;
      for (const n of this.nodes.values()) if (n[key]?.toLowerCase() === wanted && (!best || n.lastSeen > best.lastSeen)) best = n;
      return best;
    };
    return newest('uuid', uuid) ?? newest('serial', serial);
  }

  installHistory(mac: string): InstallRecord[] {
    return [...this.historyOf(mac)];
  }

  /** Installs consumed and completed over the history held (metrics). */
  installCounts(): { consumed: number; completed: number } {
    let consumed = 0;
    let completed = 0;
    for (const list of this.installs.values()) {
      for (const i of list) {
        if (i.consumedAt !== null) consumed++;
        if (i.installedAt !== null) completed++;
      }
    }
    return { consumed, completed };
  }
}

/** The directory reads of a store, answered by its mirror: both stores extend this. */
export abstract class MirroredDirectory implements NodeDirectory {
  protected abstract readonly mirror: NodeMirror;

  getNode(mac: string): NodeRecord | undefined {
    return this.mirror.getNode(mac);
  }

  listNodes(limit?: number, offset?: number): NodeRecord[] {
    return this.mirror.listNodes(limit, offset);
  }

  countNodes(): number {
    return this.mirror.countNodes();
  }

  listNodesInState(state: NodeLifecycle, limit?: number, offset?: number): NodeRecord[] {
    return this.mirror.listNodesInState(state, limit, offset);
  }

  countNodesInState(state: NodeLifecycle): number {
    return this.mirror.countNodesInState(state);
  }

  findNodeByHardware(serial: string | null, uuid: string | null): NodeRecord | undefined {
    return this.mirror.findNodeByHardware(serial, uuid);
  }

  installHistory(mac: string): InstallRecord[] {
    return this.mirror.installHistory(mac);
  }

  /** Installs consumed and completed over the kept history, for metrics. */
  installCounts(): { consumed: number; completed: number } {
    return this.mirror.installCounts();
  }
}
