// Per-boot sessions of the inspection agent (AgentSessions of src/boot/ports.ts, docs/inventory.md).
// A session is minted when the agent's boot is served and its token goes on the kernel line; a new
// mint for the same MAC (a new boot) replaces the earlier one. Only the token's SHA-256 is kept;
// a check compares hashes in constant time. A session lasts [agent] session_minutes after its last use,
// so an agent that waits and polls keeps its session while it is up, and a lost token dies.
// The book lives in memory (check is sync: it runs on every report); the store persists it (the
// SQLite file here, the shared table in postgres/) and a fleet's appliances follow each other's.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AgentSessions } from '../boot/ports.ts';
import type { BatchWriter, WriteBehind } from './batch.ts';
import type { Db } from './database.ts';

/** The default ([agent] session_minutes): an agent boots, reports and powers off in minutes; a waiting agent renews it by polling. */
export const AGENT_SESSION_MS = 2 * 60 * 60 * 1000;

/** One MAC's live session as stored. */
export interface AgentSessionRow {
  mac: string;
  session: string;
  /** SHA-256 of the token, hex. */
  tokenHash: string;
  mintedAt: number;
  expiresAt: number;
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Whether `a` is newer than `b`: a later mint, or the same mint renewed later. */
function newer(a: AgentSessionRow, b: AgentSessionRow): boolean {
  return a.mintedAt !== b.mintedAt ? a.mintedAt > b.mintedAt : a.expiresAt > b.expiresAt;
}

/** The sessions in memory; `persist` writes a minted or renewed one (write-behind). */
export class AgentSessionBook implements AgentSessions {
  private readonly rows = new Map<string, AgentSessionRow>();

  constructor(
    private readonly now: () => number,
    private readonly persist: (row: AgentSessionRow) => void,
    private readonly ttlMs = AGENT_SESSION_MS,
  ) {}

  mint(mac: string): { token: string; session: string; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const session = randomBytes(12).toString('base64url');
    const now = this.now();
    // A mint in the same millisecond as the last must still win over it everywhere.
    const before = this.rows.get(mac);
    const mintedAt = before && before.mintedAt >= now ? before.mintedAt + 1 : now;
    const row = { mac, session, tokenHash: hashToken(token).toString('hex'), mintedAt, expiresAt: now + this.ttlMs };
    this.rows.set(mac, row);
    this.persist(row);
    return { token, session, expiresAt: row.expiresAt };
  }

  check(mac: string, token: string): { ok: true; session: string } | { ok: false; reason: string } {
    const row = this.rows.get(mac);
    if (!row) return { ok: false, reason: `no agent session for ${mac}: its agent boot was not served by this fleet` };
    const given = hashToken(token);
    const stored = Buffer.from(row.tokenHash, 'hex');
    if (stored.length !== given.length || !timingSafeEqual(given, stored))
      return { ok: false, reason: `the token is not ${mac}'s current agent session (a wrong token, or one of an earlier boot)` };
    const now = this.now();
    if (now >= row.expiresAt) return { ok: false, reason: `${mac}'s agent session expired at ${new Date(row.expiresAt).toISOString()}` };
    // Renewed when half used, so a polling agent costs a write an hour, not one per poll.
    if (row.expiresAt - now < this.ttlMs / 2) {
      const renewed = { ...row, expiresAt: now + this.ttlMs };
      this.rows.set(mac, renewed);
      this.persist(renewed);
    }
    return { ok: true, session: row.session };
  }

  /** A row read from the store (at open, or another appliance's write): kept unless older than the one held. */
  put(row: AgentSessionRow): void {
    const held = this.rows.get(row.mac);
    if (!held || newer(row, held)) this.rows.set(row.mac, row);
  }
}

/** A row of the agent_sessions table (both stores). */
export interface SessionDbRow {
  mac: string;
  session: string;
  token_hash: string;
  minted_at: number;
  expires_at: number;
}

export function sessionFromRow(r: SessionDbRow): AgentSessionRow {
  return { mac: r.mac, session: r.session, tokenHash: r.token_hash, mintedAt: Number(r.minted_at), expiresAt: Number(r.expires_at) };
}

/** SQLite: the book, loaded at open, its mints written by the group commit within 50 ms. */
export class SqliteAgentSessions extends AgentSessionBook implements BatchWriter {
  private dirty = new Map<string, AgentSessionRow>();
  private readonly upsert;
  private readonly deleteExpired;

  constructor(db: Db, batch: WriteBehind, now: () => number, ttlMs?: number) {
    super(
      now,
      (row) => {
        this.dirty.set(row.mac, row);
        batch.schedule();
      },
      ttlMs,
    );
    this.upsert = db.prepare<[SessionDbRow]>(
      `INSERT INTO agent_sessions (mac, session, token_hash, minted_at, expires_at) VALUES (@mac, @session, @token_hash, @minted_at, @expires_at)
       ON CONFLICT (mac) DO UPDATE SET session = excluded.session, token_hash = excluded.token_hash, minted_at = excluded.minted_at, expires_at = excluded.expires_at`,
    );
    this.deleteExpired = db.prepare<[number]>('DELETE FROM agent_sessions WHERE expires_at <= ?');
    this.deleteExpired.run(now());
    for (const r of db.prepare<[], SessionDbRow>('SELECT * FROM agent_sessions').all()) this.put(sessionFromRow(r));
    batch.add(this);
  }

  pending(): boolean {
    return this.dirty.size > 0;
  }

  write(): void {
    for (const r of this.dirty.values())
      this.upsert.run({ mac: r.mac, session: r.session, token_hash: r.tokenHash, minted_at: r.mintedAt, expires_at: r.expiresAt });
  }

  committed(): void {
    this.dirty.clear();
  }

  failed(): void {
    // Kept dirty: written by the next commit.
  }
}
