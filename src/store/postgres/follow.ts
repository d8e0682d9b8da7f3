// How the mirror follows the shared tables: read whole at each (re)connection, and one node read
// again when a notice names it (another appliance, or this one, changed it). What this appliance
// queued and has not written yet (queue.ts) is laid over the rows, so the mirror never goes back.
import type pg from 'pg';
import type { NodeMirror } from '../mirror.ts';
import { sessionFromRow, type AgentSessionBook, type SessionDbRow } from '../agent-sessions.ts';
import type { WriteQueue } from './queue.ts';
import { toInstall, toNode, type InstallRow, type NodeRow } from './rows.ts';

export class TableFollower {
  /** The re-read running per MAC: one at a time, so an older read never lands after a newer one. */
  private readonly reads = new Map<string, Promise<void>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly mirror: NodeMirror,
    private readonly queue: WriteQueue,
    /** A read failed: PostgreSQL is away. */
    private readonly failed: (reason: string) => void,
    /** The agent sessions, which follow the shared table the same way. */
    private readonly sessions?: AgentSessionBook,
  ) {}

  private async readSessions(db: pg.ClientBase | pg.Pool, mac?: string): Promise<void> {
    if (!this.sessions) return;
    const rows = mac
      ? await db.query<SessionDbRow>('SELECT * FROM agent_sessions WHERE mac = $1', [mac])
      : await db.query<SessionDbRow>('SELECT * FROM agent_sessions WHERE expires_at > $1', [Date.now()]);
    for (const r of rows.rows) this.sessions.put(sessionFromRow(r));
  }

  /** Every node and install record, on the connection being set up. */
  async readAll(db: pg.ClientBase): Promise<void> {
    const nodes = await db.query<NodeRow>('SELECT * FROM nodes ORDER BY last_seen');
    const installs = await db.query<InstallRow>('SELECT * FROM installs ORDER BY id');
    this.mirror.clear();
    this.mirror.setHistories(installs.rows.map(toInstall));
    // Least recently seen first, so the strangers' order is the eviction order.
    for (const row of nodes.rows) this.mirror.put(toNode(row));
    this.queue.replay(this.mirror);
    await this.readSessions(db);
  }

  /** Reads one node and its history again; a failure is reported, not thrown. */
  reread(mac: string): Promise<void> {
    const next = (this.reads.get(mac) ?? Promise.resolve()).then(async () => {
      try {
        const node = await this.pool.query<NodeRow>('SELECT * FROM nodes WHERE mac = $1', [mac]);
        const history = await this.pool.query<InstallRow>('SELECT * FROM installs WHERE mac = $1 ORDER BY id', [mac]);
        await this.readSessions(this.pool, mac);
        const row = node.rows[0];
        // Evicted here, its delete queued or being written: not brought back by the notice of its own insert.
        if (this.queue.evicting(mac)) return;
        this.mirror.setHistory(mac, history.rows.map(toInstall));
        // A re-read keeps a stranger's place: it was not heard from now.
        if (row) this.mirror.put(this.queue.overlay(toNode(row)), false);
        else if (!this.queue.inserting(mac)) this.mirror.forget(mac);
      } catch (err) {
        this.failed(`re-reading ${mac}: ${(err as Error).message}`);
      }
    });
    this.reads.set(mac, next);
    void next.then(() => {
      if (this.reads.get(mac) === next) this.reads.delete(mac);
    });
    return next;
  }

  /** Resolves once the re-reads started so far have landed. */
  async settled(): Promise<void> {
    await Promise.all([...this.reads.values()]);
  }
}
