// GET /agent/<mac>/next through a real socket: only this boot's agent session may ask; the answer
// is the policy's next step with its reason. And GET /nodes/<mac> says where settings come from.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import type { NodeRecord } from '../../src/boot/ports.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { testProfile } from '../helpers/profile.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { testInventory } from '../helpers/inventory.ts';
import { parseGlob } from '../../src/boot/match.ts';

const MAC = '52:54:00:ac:00:01';
const ADMIN = 'admin-token-0123456789abcdef';

describe('GET /agent/<mac>/next', () => {
  let service: HttpService;
  let store: Store;
  let base: string;
  const sessions = new MemoryAgentSessions();
  const reportedAt = Date.parse('2026-12-07T05:00:00Z');

  before(async () => {
    store = Store.open(':memory:');
    const profile = testProfile({ http: { bind: '127.0.0.1', port: 0, adminToken: ADMIN }, boot: { unknown: 'inspect', afterInspect: 'local' } });
    const product = parseGlob('Roadrunner-*');
    assert.ok(product.ok);
    profile.rules.push({
      name: 'never',
      file: '(test)',
      when: { product: product.glob, cpuThreads: { op: '>', value: 64 } },
      action: 'install',
      profile: 'debian/12',
    });
    store.sawNode(MAC, {}, false);
    // Until the store keeps inventories: this node carries one.
    const getNode = store.getNode.bind(store);
    store.getNode = (mac: string): NodeRecord | undefined => {
      const node = getNode(mac);
      return node && mac === MAC ? { ...node, inventory: { document: testInventory(), reportedAt, session: 's1' } } : node;
    };
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions });
    await service.start();
    base = `http://127.0.0.1:${service.port}`;
  });
  after(async () => {
    await service.stop();
    store.close();
  });

  test("without this boot's token: 403 with the reason, and nothing recorded", async () => {
    const before = store.events({ mac: MAC }).length;
    const none = await fetch(`${base}/agent/${MAC}/next`);
    assert.equal(none.status, 403);
    assert.match(((await none.json()) as { error: string }).error, /agent session token is missing/);
    const wrong = await fetch(`${base}/agent/${MAC}/next`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 403);
    const { token } = sessions.mint('52:54:00:ac:00:99');
    const otherMachine = await fetch(`${base}/agent/${MAC}/next`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(otherMachine.status, 403, "another machine's session is not this one's");
    const admin = await fetch(`${base}/agent/${MAC}/next`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(admin.status, 403, 'not the admin token either');
    assert.equal(store.events({ mac: MAC }).length, before);
  });

  test('with it: the next step and its reason, recorded', async () => {
    const { token } = sessions.mint(MAC);
    const r = await fetch(`${base}/agent/${MAC}/next`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {
      next: 'reboot',
      reason: 'inspected at 2026-12-07T05:00:00Z; [boot] after_inspect = local: its next boot is from its local disk',
      pollSeconds: 5,
    });
    assert.equal(store.events({ mac: MAC }).at(-1)?.decision, 'reboot');
  });

  test('GET /nodes/<mac> says where its settings come from, and that it is discovered', async () => {
    const r = await fetch(`${base}/nodes/${MAC}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { settingsFrom: unknown; discovered: boolean };
    assert.deepEqual(body.settingsFrom, { source: 'none', reason: 'no [host] section, no enrolment, and no [rule] matches' });
    assert.equal(body.discovered, true);
  });
});
