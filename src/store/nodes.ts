// The node table and install history, held in memory as the read path (loaded at open) and
// written back whole by the group commit (batch.ts). Sightings are write-behind: memory shows
// them at once, the disk within FLUSH_MS. Lifecycle changes and local-boot settings wait for the
// disk: they are applied inside the durable group commit and show in memory once it committed,
// so no reply can be built on a consumption a crash could still undo.
import { sighted, type NodeLifecycle, type StateChange } from '../boot/lifecycle.ts';
import type { InstallRecord, NodeDirectory, NodeRecord, NodeWrites, SightingFacts } from '../boot/ports.ts';
import type { BatchWriter, WriteBehind } from './batch.ts';
import type { Db } from './database.ts';
import { countInstalls } from './install-counts.ts';
import { blankNode } from './records.ts';
import { NodeRows } from './node-rows.ts';

/** A write that waits for the disk: a lifecycle change or a local-boot setting. */
type DurableWhat = { mac: string } & ({ kind: 'change'; change: StateChange } | { kind: 'local-boot'; script: string | null });
/** `applied` is set in the commit: false for a guarded change that found nothing to change. */
type DurableWrite = DurableWhat & { at: number; applied?: boolean; resolve: (node: NodeRecord | undefined) => void; reject: (err: unknown) => void };

function withFacts(node: NodeRecord, facts: SightingFacts, now: number): NodeRecord {
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

/**
 * A sighting that changes nothing but the time reaches the disk at most this often (memory is
 * always exact; close() writes what is left). A rack looping through /boot would otherwise
 * rewrite every row on every request.
 */
export const SIGHTING_WRITE_MS = 30_000;

function sameFacts(a: NodeRecord, b: NodeRecord): boolean {
  return a.lastIp === b.lastIp && a.arch === b.arch && a.firmware === b.firmware && a.uuid === b.uuid && a.serial === b.serial && a.hostname === b.hostname;
}

/** Never installed, never armed: a cancelled install is kept, or its next sight would arm it again. */
function isStranger(n: NodeRecord): boolean {
  return n.state === 'seen' && n.installedAt === null && n.armedAt === null;
}

export class SqliteNodes implements NodeDirectory, NodeWrites, BatchWriter {
  private readonly nodes = new Map<string, NodeRecord>();
  private readonly installs = new Map<string, InstallRecord[]>();
  /** Never-installed 'seen' nodes, least recently seen first (moved to the end when seen). */
  private readonly strangers = new Set<string>();
  private nextInstallId = 1;
  /**
   * Nodes whose memory differs from the disk (a deleted node: absent from `nodes`): 'sighting'
   * when only last-seen facts changed on a row already written, else 'row'.
   */
  private readonly dirtyNodes = new Map<string, 'sighting' | 'row'>();
  private readonly dirtyInstalls = new Set<InstallRecord>();
  /** The last-seen time each node's row carries on disk (for SIGHTING_WRITE_MS). */
  private readonly lastSeenOnDisk = new Map<string, number>();
  /** Rows the running transaction writes: their last-seen times, recorded once it commits. */
  private stampsWriting: [string, number][] = [];
  private queued: DurableWrite[] = [];
  /** What the running transaction wrote, shown in memory once it commits. */
  private staged: { writes: DurableWrite[]; nodes: Map<string, NodeRecord | undefined>; installs: Map<string, InstallRecord[]> } | null = null;
  private readonly rows: NodeRows;

  constructor(
    db: Db,
    private readonly batch: WriteBehind,
    private readonly now: () => number,
    /** Never-installed nodes kept; the least recently seen are evicted past this. */
    private readonly maxUnknownNodes: number,
  ) {
    this.rows = new NodeRows(db);
    for (const n of this.rows.loadNodes()) {
      this.remember(n);
      this.lastSeenOnDisk.set(n.mac, n.lastSeen);
    }
    for (const i of this.rows.loadInstalls()) {
      this.historyOf(i.mac, this.installs).push(i);
      this.nextInstallId = Math.max(this.nextInstallId, i.id + 1);
    }
    batch.add(this);
  }

  private historyOf(mac: string, from: Map<string, InstallRecord[]>): InstallRecord[] {
    let list = from.get(mac);
    if (!list) from.set(mac, (list = []));
    return list;
  }

  /** Puts a node in memory and keeps the strangers in the order they were last seen. */
  private remember(node: NodeRecord): void {
    this.nodes.set(node.mac, node);
    this.strangers.delete(node.mac);
    if (isStranger(node)) this.strangers.add(node.mac);
  }

  private changed(node: NodeRecord, what: 'sighting' | 'row' = 'row'): NodeRecord {
    this.remember(node);
    if (this.dirtyNodes.get(node.mac) !== 'row') this.dirtyNodes.set(node.mac, what);
    this.batch.schedule();
    return node;
  }

  getNode(mac: string): NodeRecord | undefined {
    return this.nodes.get(mac);
  }

  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    const now = this.now();
    const existing = this.nodes.get(mac);
    // The lifecycle says whether its [host] section arms it (at first sight, or once it gained action=install).
    const armed = sighted(existing, armedByProfile).change;
    if (existing) {
      if (!armed) {
        const node = withFacts(existing, facts, now);
        const onDisk = this.lastSeenOnDisk.get(mac);
        if (onDisk !== undefined && now - onDisk < SIGHTING_WRITE_MS && sameFacts(existing, node)) {
          this.remember(node);
          return node;
        }
        return this.changed(node, 'sighting');
      }
      const node = this.applied(withFacts(existing, facts, now), armed, now, this.installs);
      for (const i of this.installs.get(mac) ?? []) this.dirtyInstalls.add(i);
      return this.changed(node);
    }
    // A profile's arm is written behind like the sighting: lost in a crash, the next boot arms it again.
    let node = withFacts(blankNode(mac, now), facts, now);
    if (armed) {
      node = this.applied(node, armed, now, this.installs);
      for (const i of this.installs.get(mac) ?? []) this.dirtyInstalls.add(i);
    }
    this.changed(node);
    this.capStrangers();
    return node;
  }

  /** Strangers must not grow the table without bound: past the cap the least recently seen go. */
  private capStrangers(): void {
    for (const mac of this.strangers) {
      if (this.strangers.size <= this.maxUnknownNodes) return;
      this.strangers.delete(mac);
      this.nodes.delete(mac);
      this.dirtyNodes.set(mac, 'row');
      this.batch.schedule();
    }
  }

  ensureNode(mac: string): NodeRecord {
    const existing = this.nodes.get(mac);
    if (existing) return existing;
    const node = this.changed(blankNode(mac, this.now()));
    this.capStrangers();
    return node;
  }

  applyChange(mac: string, change: StateChange): Promise<NodeRecord | undefined> {
    return this.queue({ kind: 'change', mac, change });
  }

  setLocalBoot(mac: string, script: string | null): Promise<NodeRecord | undefined> {
    return this.queue({ kind: 'local-boot', mac, script });
  }

  private queue(write: DurableWhat): Promise<NodeRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.queued.push({ ...write, at: this.now(), resolve, reject });
      this.batch.scheduleDurable();
    });
  }

  /**
   * One change on `node`, with the install history beside it (in `installs`). The guards keep a
   * stale read from undoing a newer state: only a pending install is consumed or disarmed.
   */
  private applied(node: NodeRecord, change: StateChange, now: number, installs: Map<string, InstallRecord[]>): NodeRecord {
    const history = (): InstallRecord[] => {
      const list = [...(installs.get(node.mac) ?? this.installs.get(node.mac) ?? [])];
      installs.set(node.mac, list);
      return list;
    };
    const edit = (list: InstallRecord[], at: number, patch: Partial<InstallRecord>): void => {
      list[at] = { ...list[at]!, ...patch };
    };
    switch (change.kind) {
      case 'arm':
        history().push({
          id: this.nextInstallId++,
          mac: node.mac,
          profile: change.profile,
          armedAt: now,
          armedBy: change.by,
          consumedAt: null,
          installedAt: null,
          fqdn: null,
        });
        return { ...node, state: 'install-pending', profile: change.profile, armedAt: now, armedBy: change.by, consumedAt: null };
      case 'consume': {
        if (node.state !== 'install-pending') return node;
        const list = history();
        const last = list.length - 1;
        if (last >= 0 && list[last]!.consumedAt === null) edit(list, last, { consumedAt: now, profile: list[last]!.profile ?? change.profile });
        return { ...node, state: 'installing', consumedAt: now, profile: node.profile ?? change.profile };
      }
      case 'complete': {
        const list = history();
        let open = list.length - 1;
        while (open >= 0 && list[open]!.installedAt !== null) open--;
        if (open >= 0) edit(list, open, { installedAt: now, fqdn: change.fqdn });
        else
          list.push({
            id: this.nextInstallId++,
            mac: node.mac,
            profile: null,
            armedAt: null,
            armedBy: null,
            consumedAt: null,
            installedAt: now,
            fqdn: change.fqdn,
          });
        return { ...node, state: 'installed', installedAt: now, fqdn: change.fqdn, bootMode: change.bootMode, installReport: change.report ?? null };
      }
      case 'disarm':
        if (node.state !== 'install-pending') return node;
        // armedAt stays: a machine once armed is not armed again by its [host] section (lifecycle.sighted).
        return { ...node, state: change.to, profile: null };
    }
  }

  /** Marks every node whose last-seen time the disk has not caught up with (before closing). */
  markUnwrittenSightings(): void {
    for (const [mac, node] of this.nodes) {
      if (this.lastSeenOnDisk.get(mac) !== node.lastSeen && !this.dirtyNodes.has(mac)) this.dirtyNodes.set(mac, 'sighting');
    }
  }

  // ---- BatchWriter: the group commit ----

  pending(): boolean {
    return this.queued.length > 0 || this.dirtyNodes.size > 0 || this.dirtyInstalls.size > 0;
  }

  write(): void {
    const staged = { writes: this.queued, nodes: new Map<string, NodeRecord | undefined>(), installs: new Map<string, InstallRecord[]>() };
    this.queued = [];
    this.staged = staged;
    const current = (mac: string): NodeRecord | undefined => (staged.nodes.has(mac) ? staged.nodes.get(mac) : this.nodes.get(mac));
    for (const w of staged.writes) {
      const node = current(w.mac);
      if (w.kind === 'local-boot') {
        if (node) staged.nodes.set(w.mac, { ...node, localBoot: w.script });
        w.applied = node !== undefined;
      } else if (w.change.kind === 'consume' || w.change.kind === 'disarm') {
        // A disarm or consume applies only to a pending install (of a node recorded at all).
        w.applied = node?.state === 'install-pending';
        if (node && w.applied) staged.nodes.set(w.mac, this.applied(node, w.change, w.at, staged.installs));
      } else {
        // Arm and complete create the node.
        staged.nodes.set(w.mac, this.applied(node ?? blankNode(w.mac, w.at), w.change, w.at, staged.installs));
        w.applied = true;
      }
    }
    const stamps: [string, number][] = [];
    for (const [mac, what] of this.dirtyNodes) {
      if (staged.nodes.has(mac)) continue;
      const node = this.nodes.get(mac);
      if (!node) this.rows.removeNode(mac);
      else if (what === 'sighting') this.rows.writeSighting(node);
      else this.rows.writeNode(node);
      stamps.push([mac, node ? node.lastSeen : -1]);
    }
    for (const node of staged.nodes.values()) {
      if (!node) continue;
      this.rows.writeNode(node);
      stamps.push([node.mac, node.lastSeen]);
    }
    this.stampsWriting = stamps;
    for (const i of this.dirtyInstalls) this.rows.writeInstall(i);
    for (const list of staged.installs.values()) for (const i of list) this.rows.writeInstall(i);
  }

  committed(): void {
    const staged = this.staged;
    this.staged = null;
    this.dirtyNodes.clear();
    this.dirtyInstalls.clear();
    for (const [mac, lastSeen] of this.stampsWriting) {
      if (lastSeen < 0) this.lastSeenOnDisk.delete(mac);
      else this.lastSeenOnDisk.set(mac, lastSeen);
    }
    this.stampsWriting = [];
    if (!staged) return;
    for (const node of staged.nodes.values()) if (node) this.remember(node);
    for (const [mac, list] of staged.installs) this.installs.set(mac, list);
    this.capStrangers();
    for (const w of staged.writes) w.resolve(w.applied ? this.nodes.get(w.mac) : undefined);
  }

  failed(error: unknown): void {
    const staged = this.staged;
    this.staged = null;
    this.stampsWriting = [];
    // Ids handed to staged installs are not reused: a gap in the history is harmless.
    for (const w of staged?.writes ?? []) w.reject(error);
  }

  // ---- NodeDirectory: served from memory ----

  private newestFirst(filter?: (n: NodeRecord) => boolean): NodeRecord[] {
    const all = [...this.nodes.values()];
    return (filter ? all.filter(filter) : all).sort((a, b) => b.lastSeen - a.lastSeen);
  }

  listNodes(limit = 1000, offset = 0): NodeRecord[] {
    return this.newestFirst().slice(offset, offset + limit);
  }

  countNodes(): number {
    return this.nodes.size;
  }

  listNodesInState(state: NodeLifecycle, limit = 1000, offset = 0): NodeRecord[] {
    return this.newestFirst((n) => n.state === state).slice(offset, offset + limit);
  }

  countNodesInState(state: NodeLifecycle): number {
    let n = 0;
    for (const node of this.nodes.values()) if (node.state === state) n++;
    return n;
  }

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
    return [...(this.installs.get(mac) ?? [])];
  }

  /** Installs consumed and completed over the kept history (metrics). */
  installCounts(): { consumed: number; completed: number } {
    return countInstalls(this.installs.values());
  }
}
