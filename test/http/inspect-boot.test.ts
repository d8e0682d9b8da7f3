// GET /boot for a machine to inspect, through a real socket and a real assets folder: the agent
// image as `agent build` lays it out (with its manifest) is served with a fresh session token; a
// file of it that changed is not, and the script says why.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { testProfile } from '../helpers/profile.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { agentAssets } from '../helpers/deploy-assets.ts';

const MAC = '52:54:00:ad:00:01';
const RELEASE = '6.1.0-57-amd64';

describe('GET /boot with [boot] unknown = inspect', () => {
  const root = mkdtempSync(join(tmpdir(), 'pxp-inspect-'));
  const sessions = new MemoryAgentSessions();
  let store: Store;
  let service: HttpService;
  let base: string;
  let agentDir: string;

  before(async () => {
    agentDir = await agentAssets(root);
    store = Store.open(':memory:');
    const profile = testProfile({ http: { bind: '127.0.0.1', port: 0 }, assets: { dir: root }, boot: { unknown: 'inspect' } });
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions });
    await service.start();
    profile.http.port = service.port;
    base = `http://127.0.0.1:${service.port}`;
  });
  after(async () => {
    await service.stop();
    store.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('an unknown machine gets the agent with the server URL and a token that authenticates it', async () => {
    const r = await fetch(`${base}/boot?mac=${MAC}&arch=x86_64&platform=efi`);
    assert.equal(r.status, 200);
    const script = await r.text();
    const { token } = sessions.minted.at(-1)!;
    assert.match(
      script,
      new RegExp(
        `^kernel ${base}/assets/pxe-pilot-agent/${RELEASE}/vmlinuz initrd=initrd pxe_pilot\\.url=${base} pxe_pilot\\.token=${token} BOOTIF=01-52-54-00-ad-00-01 \\|\\| goto failed$`,
        'm',
      ),
    );
    const next = await fetch(`${base}/agent/${MAC}/next`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(next.status, 200, 'the minted token is the one the agent then uses');
    assert.equal(((await next.json()) as { next: string }).next, 'wait', 'nothing reported yet');
  });

  test('an agent image whose file changed is not served, and the script says why', async () => {
    const initrd = join(agentDir, 'initrd');
    writeFileSync(initrd, 'tampered initrd bytes');
    const reload = () => service.reload(testProfile({ http: { bind: '127.0.0.1', port: service.port }, assets: { dir: root }, boot: { unknown: 'inspect' } }));
    reload();
    const minted = sessions.minted.length;
    const script = await (await fetch(`${base}/boot?mac=52:54:00:ad:00:02`)).text();
    // Build the image again, for the other tests.
    agentDir = await agentAssets(root);
    reload();
    assert.match(
      script,
      /^echo pxe-pilot: .*but the inspection agent pxe-pilot-agent\/6\.1\.0-57-amd64 is not offered: initrd changed since it was added.*rebuild it with pxe-pilot agent build --force$/m,
    );
    assert.doesNotMatch(script, /^kernel /m);
    assert.equal(sessions.minted.length, minted, 'no session for an agent that is not served');
  });
});
