// POST /inventory/<mac>: the inspection agent's report (docs/inventory.md). Not behind the admin
// guard: the per-boot agent session (AgentSessions) authenticates it, never [answers] token. The
// checks run cheapest first (token, size, document), and a refused post writes nothing but its
// event. A later inventory that differs is recorded as an event naming what changed.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { MAX_INVENTORY_BYTES, parseInventory, type Inventory } from '../agent/inventory.ts';
import { inventoryChanges } from '../agent/inventory-changes.ts';
import type { AgentDetail } from '../boot/events.ts';
import type { HttpDeps } from './context.ts';
import { bearerToken } from './auth.ts';
import { readBody } from './body.ts';
import { HttpError } from './errors.ts';
import { clientAddress, routeMac } from './request.ts';

/** A short description of what was reported, for the event. */
function summary(inv: Inventory): string {
  const s = inv.system;
  const who = [s.vendor, s.product].filter((x) => x !== null).join(' ') || 'unknown system';
  const serial = s.serial ? `, serial ${s.serial}` : '';
  return `${who}${serial}: ${inv.cpus.threads ?? '?'} threads, ${inv.memory.totalBytes ?? '?'} bytes of memory, ${inv.disks.length} disks, ${inv.nics.length} NICs`;
}

export function inventoryRoutes(router: Router, deps: HttpDeps): void {
  function record(ctx: Context, kind: string, decision: string, reason: string, detail: AgentDetail = {}): void {
    deps.store.record({ mac: routeMac(ctx), protocol: 'agent', kind, decision, reason, detail: { ip: clientAddress(ctx), ...detail } });
  }

  function refuse(ctx: Context, status: number, reason: string, detail: AgentDetail = {}): never {
    record(ctx, 'inventory-refused', 'refused', reason, { status, ...detail });
    throw new HttpError(status, reason);
  }

  router.post('/inventory/:mac', async (ctx) => {
    const mac = routeMac(ctx);
    const token = bearerToken(ctx);
    if (token === null) refuse(ctx, 403, 'inventory: send Authorization: Bearer <the agent session token of this boot>');
    const checked = deps.agentSessions?.check(mac, token) ?? { ok: false as const, reason: 'no agent sessions on this server' };
    if (!checked.ok) refuse(ctx, 403, `inventory refused: ${checked.reason}`);
    const { session } = checked;
    let raw: Buffer;
    try {
      raw = await readBody(ctx, MAX_INVENTORY_BYTES, { status: 413, what: 'inventory' });
    } catch (err) {
      if (err instanceof HttpError) refuse(ctx, err.status, err.message, { session });
      throw err;
    }
    const parsed = parseInventory(raw);
    if (!parsed.ok) {
      const reason = `inventory refused: ${parsed.field}: ${parsed.reason}`;
      record(ctx, 'inventory-refused', 'refused', reason, { status: 400, session, field: parsed.field });
      ctx.status = 400;
      ctx.body = { error: reason, field: parsed.field };
      return;
    }
    const written = await deps.store.setInventory(mac, parsed.inventory, session);
    if (written.duplicate) refuse(ctx, 409, `inventory refused: agent session ${session} already delivered its inventory (one per boot)`, { session });
    const changes = written.previous ? inventoryChanges(written.previous.document, parsed.inventory) : [];
    const first = written.previous === null;
    const how = first ? 'first inventory' : changes.length ? `${changes.length} changes` : 'same as the last one';
    record(ctx, 'inventory', 'stored', `inventory stored (${how}): ${summary(parsed.inventory)}`, { session, status: first ? 201 : 200 });
    if (changes.length) record(ctx, 'inventory-changed', 'changed', changes.join('; '), { session, changes });
    deps.logger.info({ mac, session, changes }, 'inventory stored');
    ctx.status = first ? 201 : 200;
    ctx.body = { stored: true, changes };
  });
}
