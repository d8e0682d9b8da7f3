// SQLite's persistence of the node mirror (mirror.ts): loaded at open and written back whole by
// the group commit (batch.ts). Sightings are write-behind: memory shows them at once, the disk
// within FLUSH_MS. Lifecycle changes and local-boot settings wait for the disk: they are applied
// inside the durable group commit and show in memory once it committed, so no reply can be
// built on a consumption a crash could still undo.
import type { StateChange } from '../boot/lifecycle.ts';
import type { Inventory } from '../agent/inventory.ts';
import type { Enrolment, InstallRecord, InventoryWrite, NodeInventory, NodeRecord, NodeWrites, SightingFacts } from '../boot/ports.ts';
import type { BatchWriter, WriteBehind } from './batch.ts';
import type { Db } from './database.ts';
import { applyChange, blankNode, NodeMirror } from './mirror.ts';
import { NodeRows } from './node-rows.ts';
import { mergeImported, type ImportedNode, type ImportOutcome } from './import-nodes.ts';

/** A write that waits for the disk: a lifecycle change, a local-boot setting, an inventory, an enrolment, an imported node. */
type DurableWhat = { mac: string } & (
  | { kind: 'change'; change: StateChange }
  | { kind: 'local-boot'; script: string | null }
  | { kind: 'inventory'; document: Inventory; session: string }
  | { kind: 'enrolment'; enrolment: Enrolment | null }
  | { kind: 'import'; imported: ImportedNode; result: { outcome: ImportOutcome } }
);
/**
 * `applied` is set in the commit: false for a guarded change that found nothing to change (an
 * inventory of a session that already delivered one; `previous`: the inventory it replaced).
 */
type DurableWrite = DurableWhat & {
  at: number;
  applied?: boolean;
  previous?: NodeInventory | null;
  resolve: (node: NodeRecord | undefined) => void;
  reject: (err: unknown) => void;
};

/**
 * A sighting that changes nothing but the time reaches the disk at most this often (memory is
 * always exact; close() writes what is left). A rack looping through /boot would otherwise
 * rewrite every row on every request.
 */
export const SIGHTING_WRITE_MS = 30_000;

function sameFacts(a: NodeRecord, b: NodeRecord): boolean {
  return a.lastIp === b.lastIp && a.arch === b.arch && a.firmware === b.firmware && a.uuid === b.uuid && a.serial === b.serial && a.hostname === b.hostname;
}

export class SqliteNodes implements NodeWrites, BatchWriter {
  /** The nodes and their install history, as the disk holds them plus what is not written yet. */
  readonly mirror: NodeMirror;
  private nextInstallId = 1;
  /**
   * Nodes whose memory differs from the disk (a deleted node: absent from the mirror): 'sighting'
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
  private staged: { writes: DurableWrite[]; nodes: Map<string, NodeRecord>; installs: Map<string, InstallRecord[]> } | null = null;
  private readonly rows: NodeRows;

  constructor(
    db: Db,
    private readonly batch: WriteBehind,
    private readonly now: () => number,
    /** Never-installed nodes kept; the least recently seen are evicted past this. */
    maxUnknownNodes: number,
  ) {
    this.rows = new NodeRows(db);
    this.mirror = new NodeMirror({ maxStrangers: maxUnknownNodes, evicted: (mac) => this.changed(mac), newInstallId: () => this.nextInstallId++ });
    const installs = this.rows.loadInstalls();
    for (const i of installs) this.nextInstallId = Math.max(this.nextInstallId, i.id + 1);
    this.mirror.setHistories(installs);
    // Least recently seen first: the strangers' eviction order.
    for (const n of this.rows.loadNodes()) {
      this.lastSeenOnDisk.set(n.mac, n.lastSeen);
      this.mirror.put(n);
    }
    batch.add(this);
  }

  /** The node's row is to be written (or deleted, when it left the mirror). */
  private changed(mac: string, what: 'sighting' | 'row' = 'row'): void {
    if (this.dirtyNodes.get(mac) !== 'row') this.dirtyNodes.set(mac, what);
    this.batch.schedule();
  }

  sawNode(mac: string, facts: SightingFacts, armedByProfile: boolean): NodeRecord {
    const now = this.now();
    // A profile's arm is written behind like the sighting: lost in a crash, the next boot arms it again.
    const { before, node, arm } = this.mirror.sight(mac, facts, now, armedByProfile);
    if (arm) for (const i of this.mirror.historyOf(mac)) this.dirtyInstalls.add(i);
    if (!before || arm) this.changed(mac);
    else {
      const onDisk = this.lastSeenOnDisk.get(mac);
      if (onDisk === undefined || now - onDisk >= SIGHTING_WRITE_MS || !sameFacts(before, node)) this.changed(mac, 'sighting');
    }
    return node;
  }

  ensureNode(mac: string): NodeRecord {
    const { before, node } = this.mirror.ensure(mac, this.now());
    if (!before) this.changed(mac);
    return node;
  }

  applyChange(mac: string, change: StateChange): Promise<NodeRecord | undefined> {
    return this.queue({ kind: 'change', mac, change });
  }

  setLocalBoot(mac: string, script: string | null): Promise<NodeRecord | undefined> {
    return this.queue({ kind: 'local-boot', mac, script });
  }

  async setInventory(mac: string, document: Inventory, session: string): Promise<InventoryWrite> {
    const { write, done } = this.queueWrite({ kind: 'inventory', mac, document, session });
    const node = await done;
    // The node exists either way: created by this write, or holding the session's first inventory.
    if (!write.applied) return { duplicate: true, node: node ?? this.mirror.getNode(mac)! };
    return { duplicate: false, node: node!, previous: write.previous ?? null };
  }

  setEnrolment(mac: string, enrolment: Enrolment | null): Promise<NodeRecord | undefined> {
    return this.queue({ kind: 'enrolment', mac, enrolment });
  }

  /** A node brought in by `pxe-pilot import` (import-nodes.ts), durable like a lifecycle change. */
  async importNode(imported: ImportedNode): Promise<ImportOutcome> {
    const result: { outcome: ImportOutcome } = { outcome: 'unchanged' };
    await this.queue({ kind: 'import', mac: imported.mac, imported, result });
    return result.outcome;
  }

  private queue(write: DurableWhat): Promise<NodeRecord | undefined> {
    return this.queueWrite(write).done;
  }

  private queueWrite(what: DurableWhat): { write: DurableWrite; done: Promise<NodeRecord | undefined> } {
    let write!: DurableWrite;
    const done = new Promise<NodeRecord | undefined>((resolve, reject) => {
      write = { ...what, at: this.now(), resolve, reject };
      this.queued.push(write);
      this.batch.scheduleDurable();
    });
    return { write, done };
  }

  /** Marks every node whose last-seen time the disk has not caught up with (before closing). */
  markUnwrittenSightings(): void {
    for (const node of this.mirror.all()) {
      if (this.lastSeenOnDisk.get(node.mac) !== node.lastSeen && !this.dirtyNodes.has(node.mac)) this.dirtyNodes.set(node.mac, 'sighting');
    }
  }

  // ---- BatchWriter: the group commit ----

  pending(): boolean {
    return this.queued.length > 0 || this.dirtyNodes.size > 0 || this.dirtyInstalls.size > 0;
  }

  write(): void {
    const staged = { writes: this.queued, nodes: new Map<string, NodeRecord>(), installs: new Map<string, InstallRecord[]>() };
    this.queued = [];
    this.staged = staged;
    for (const w of staged.writes) {
      const node = staged.nodes.get(w.mac) ?? this.mirror.getNode(w.mac);
      if (w.kind === 'import') {
        const merged = mergeImported(node, w.imported, w.at);
        w.result.outcome = merged.outcome;
        if (merged.outcome !== 'unchanged') staged.nodes.set(w.mac, merged.node);
        w.applied = true;
        continue;
      }
      if (w.kind === 'local-boot') {
        if (node) staged.nodes.set(w.mac, { ...node, localBoot: w.script });
        w.applied = node !== undefined;
        continue;
      }
      if (w.kind === 'enrolment') {
        if (node) staged.nodes.set(w.mac, { ...node, enrolment: w.enrolment });
        w.applied = node !== undefined;
        continue;
      }
      if (w.kind === 'inventory') {
        // One inventory per agent session: a second (a replay, or two posts racing) writes nothing.
        w.applied = node?.inventory?.session !== w.session;
        if (!w.applied) continue;
        w.previous = node?.inventory ?? null;
        staged.nodes.set(w.mac, { ...(node ?? blankNode(w.mac, w.at)), inventory: { document: w.document, reportedAt: w.at, session: w.session } });
        continue;
      }
      const history = staged.installs.get(w.mac) ?? this.mirror.historyOf(w.mac);
      const applied = applyChange(w.mac, node, w.change, w.at, history, () => this.nextInstallId++);
      w.applied = applied !== undefined;
      if (applied) {
        staged.nodes.set(w.mac, applied.node);
        staged.installs.set(w.mac, applied.history);
      }
    }
    const stamps: [string, number][] = [];
    for (const [mac, what] of this.dirtyNodes) {
      if (staged.nodes.has(mac)) continue;
      const node = this.mirror.getNode(mac);
      if (!node) this.rows.removeNode(mac);
      else if (what === 'sighting') this.rows.writeSighting(node);
      else this.rows.writeNode(node);
      stamps.push([mac, node ? node.lastSeen : -1]);
    }
    for (const node of staged.nodes.values()) {
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
    for (const [mac, list] of staged.installs) this.mirror.setHistory(mac, list);
    for (const node of staged.nodes.values()) this.mirror.put(node);
    for (const w of staged.writes) w.resolve(w.applied ? this.mirror.getNode(w.mac) : undefined);
  }

  failed(error: unknown): void {
    const staged = this.staged;
    this.staged = null;
    this.stampsWriting = [];
    // Ids handed to staged installs are not reused: a gap in the history is harmless.
    for (const w of staged?.writes ?? []) w.reject(error);
  }
}
