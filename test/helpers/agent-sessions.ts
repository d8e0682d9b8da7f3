// An in-memory AgentSessions (the store implements the real one): a token per mint, valid for
// its MAC until it expires or a newer one is minted for the same machine.
import { randomBytes } from 'node:crypto';
import type { AgentSessions } from '../../src/boot/ports.ts';

export class MemoryAgentSessions implements AgentSessions {
  readonly minted: { mac: string; token: string; session: string }[] = [];
  private readonly live = new Map<string, { token: string; session: string; expiresAt: number }>();
  constructor(
    private readonly ttlMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {}

  mint(mac: string): { token: string; session: string; expiresAt: number } {
    const session = `s${this.minted.length + 1}`;
    const token = randomBytes(24).toString('hex');
    const expiresAt = this.now() + this.ttlMs;
    this.live.set(mac, { token, session, expiresAt });
    this.minted.push({ mac, token, session });
    return { token, session, expiresAt };
  }

  check(mac: string, token: string): { ok: true; session: string } | { ok: false; reason: string } {
    const s = this.live.get(mac);
    if (!s || s.token !== token) return { ok: false, reason: `not a live agent session for ${mac}` };
    if (s.expiresAt <= this.now()) return { ok: false, reason: `the agent session for ${mac} expired` };
    return { ok: true, session: s.session };
  }
}
