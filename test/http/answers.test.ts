// POST /answer, /hosts and the webhook through a real socket, against a real answers folder.
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { makeAnswerTree, post, type AnswerTree } from '../helpers/answer-tree.ts';
import { hostEntry } from '../helpers/profile.ts';

const PVE1 = '52:54:00:aa:00:01';
const PVE2 = '52:54:00:aa:00:02';
const SECOND_NIC = '52:54:00:aa:00:99';

function request(macs: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    $schema: { version: '1.0' },
    product: { fullname: 'Proxmox VE', product: 'pve', enable_btrfs: true },
    iso: { release: '9.1', isorelease: '1' },
    dmi: { system: { serial: 'NOSUCHSERIAL', uuid: '11111111-2222-3333-4444-555555555555', sku: '', name: 'x' } },
    network_interfaces: macs.map((mac, i) => ({ link: `eno${i + 1}`, mac })),
    ...extra,
  };
}

describe('POST /answer', () => {
  let tree: AnswerTree;
  let h: RunningHttp;

  before(async () => {
    tree = makeAnswerTree({
      'hosts/52-54-00-aa-00-01.toml': '[global]\nfqdn = "{{hostname}}.rack.example"\n# rack {{rack}} mac {{mac}} ip {{ip}} product {{product}}\n',
      'hosts/5254.00aa.0002.toml': 'pve2 by dot spelling\n',
      'hosts/52-54-00-aa-00-03.toml': '[global]\nfqdn = "x"\n\n[network]\ncidr = "{{ address }}"\n',
      'serial/CZJ2340F1K.toml': 'by serial {{serial}}\n',
      'uuid/4c4c4544-0051-3510-8057-b7c04f4b4e32.toml': 'by uuid {{uuid}}\n',
      'pbs.toml': 'by product {{product}}\n',
      'default.toml': 'default for {{mac}}\n',
    });
    tree.write('secret.toml', 'outside = true\n');
    symlinkSync(join(tree.root, 'secret.toml'), join(tree.answers, 'hosts', '52-54-00-aa-00-66.toml'));
    h = await startHttp({
      answers: { dir: tree.answers },
      hosts: [
        hostEntry(PVE1, { hostname: 'pve1', action: 'install', profile: 'proxmox-ve/9.1-1', vars: { rack: 'r12' } }),
        hostEntry(PVE2, { hostname: 'pve2' }),
      ],
    });
  });
  after(async () => {
    await h.stop();
    tree.remove();
  });

  test('hosts/<mac>.toml of the first NIC that has one, filled from [host] and the request, as application/toml', async () => {
    const r = await post(h.base, '/answer', request([SECOND_NIC, PVE1]));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/toml; charset=utf-8');
    assert.equal(r.headers.get('x-pxe-pilot-source'), 'hosts/52-54-00-aa-00-01.toml');
    assert.equal(r.text, '[global]\nfqdn = "pve1.rack.example"\n# rack r12 mac 52:54:00:aa:00:01 ip 127.0.0.1 product pve\n');
  });

  test('NIC order decides between two host files; any spelling of the file name matches', async () => {
    const r = await post(h.base, '/answer', request(['52-54-00-AA-00-02', PVE1]));
    assert.equal(r.headers.get('x-pxe-pilot-source'), 'hosts/5254.00aa.0002.toml');
    assert.equal(r.text, 'pve2 by dot spelling\n');
  });

  test('then serial, then UUID, then product, then default', async () => {
    const dmi = (serial: string, uuid: string) => ({ dmi: { system: { serial, uuid } } });
    const bySerial = await post(h.base, '/answer', request([SECOND_NIC], dmi(' czj2340f1k ', '4C4C4544-0051-3510-8057-B7C04F4B4E32')));
    assert.deepEqual([bySerial.headers.get('x-pxe-pilot-source'), bySerial.text], ['serial/CZJ2340F1K.toml', 'by serial czj2340f1k\n']);
    const byUuid = await post(h.base, '/answer', request([SECOND_NIC], dmi('Not Specified', '4C4C4544-0051-3510-8057-B7C04F4B4E32')));
    assert.deepEqual(
      [byUuid.headers.get('x-pxe-pilot-source'), byUuid.text],
      ['uuid/4c4c4544-0051-3510-8057-b7c04f4b4e32.toml', 'by uuid 4c4c4544-0051-3510-8057-b7c04f4b4e32\n'],
    );
    const byProduct = await post(h.base, '/answer', request([SECOND_NIC], { product: { product: 'pbs' } }));
    assert.deepEqual([byProduct.headers.get('x-pxe-pilot-source'), byProduct.text], ['pbs.toml', 'by product pbs\n']);
    const byDefault = await post(h.base, '/answer', request([SECOND_NIC]));
    assert.deepEqual([byDefault.headers.get('x-pxe-pilot-source'), byDefault.text], ['default.toml', `default for ${SECOND_NIC}\n`]);
  });

  test('an unknown placeholder is a 400 naming file and line, and the event log says so', async () => {
    const r = await post(h.base, '/answer', request(['52:54:00:aa:00:03']));
    assert.equal(r.status, 400);
    assert.match(String((r.json() as { error: string }).error), /hosts\/52-54-00-aa-00-03\.toml line 5, column 9: unknown placeholder \{\{address\}\}/);
    assert.doesNotMatch(r.text, /\[network\]/);
    const ev = h.store.events({ mac: '52:54:00:aa:00:03', protocol: 'answer' }).at(-1);
    assert.equal(ev?.decision, 'error');
  });

  test('each malformed body is a 400 JSON error naming the problem, never a 500', async () => {
    const cases: [string, RegExp][] = [
      ['{not json', /not valid JSON/],
      ['', /empty body/],
      ['[]', /is a list/],
      ['"pve"', /is a string/],
      [JSON.stringify({ network_interfaces: null }), /network_interfaces is null/],
      [JSON.stringify({ network_interfaces: { mac: PVE1 } }), /network_interfaces is an object/],
      [JSON.stringify({ network_interfaces: [PVE1] }), /network_interfaces\[0\] is a string/],
      [JSON.stringify({ network_interfaces: [{ mac: 5254 }] }), /network_interfaces\[0\]\.mac is a number/],
      [JSON.stringify({ network_interfaces: [{ mac: null }] }), /network_interfaces\[0\]\.mac is null/],
      [JSON.stringify({ ...request([PVE1]), dmi: [] }), /dmi is a list/],
    ];
    for (const [body, message] of cases) {
      const r = await post(h.base, '/answer', body);
      assert.equal(r.status, 400, body);
      assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.match(String((r.json() as { error: string }).error), message, body);
    }
  });

  test('a body over 64 KiB is refused before it is read whole', async () => {
    const big = JSON.stringify(request([PVE1], { padding: 'x'.repeat(70 * 1024) }));
    const r = await post(h.base, '/answer', big);
    assert.equal(r.status, 400);
    assert.match(String((r.json() as { error: string }).error), /over the limit of 65536 bytes/);
  });

  test('no MAC, serial, UUID or path trick reads a file outside the answers folder', async () => {
    for (const hostile of ['../secret', '../../secret.toml', '/etc/passwd', '..%2fsecret', '%2e%2e/secret', 'a\u0000b', '....//secret']) {
      const r = await post(
        h.base,
        '/answer',
        request([hostile, SECOND_NIC], { dmi: { system: { serial: hostile, uuid: hostile } }, product: { product: hostile } }),
      );
      assert.equal(r.status, 200, hostile);
      assert.equal(r.headers.get('x-pxe-pilot-source'), 'default.toml', hostile);
      assert.doesNotMatch(r.text, /outside/);
    }
  });

  test('a host file that is a symlink out of the folder is refused (403), not served and not skipped', async () => {
    const r = await post(h.base, '/answer', request(['52:54:00:aa:00:66']));
    assert.equal(r.status, 403);
    assert.match(r.text, /resolves \(through a symlink\) outside \[answers\] dir/);
    assert.doesNotMatch(r.text, /outside = true/);
  });

  test('GET is not a way to fetch an answer', async () => {
    const r = await rawRequest(h.port, 'GET', '/answer');
    assert.equal(r.status, 405);
  });
});

describe('answers: token and allowed networks', () => {
  let tree: AnswerTree;
  let h: RunningHttp;
  const TOKEN = 'answer-token-0123456789';

  before(async () => {
    tree = makeAnswerTree({ 'default.toml': 'ok\n' });
    h = await startHttp({ answers: { dir: tree.answers, token: TOKEN } });
  });
  after(async () => {
    await h.stop();
    tree.remove();
  });

  test('with [answers] token: 401 without or with a wrong token, 200 with the Bearer token or ?token=', async () => {
    const none = await post(h.base, '/answer', request([PVE1]));
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.match(none.text, /Authorization: Bearer/);
    assert.equal((await post(h.base, '/answer', request([PVE1]), { authorization: 'Bearer wrong-token-000000000' })).status, 401);
    const ok = await post(h.base, '/answer', request([PVE1]), { authorization: `Bearer ${TOKEN}`, accept: 'application/json, application/toml;q=0.5' });
    assert.deepEqual([ok.status, ok.text], [200, 'ok\n']);
    assert.equal((await post(h.base, `/answer?token=${TOKEN}`, request([PVE1]))).status, 200);
    assert.equal(h.store.events({ protocol: 'answer' }).filter((e) => e.decision === 'refused').length, 2);
  });

  test('the webhook takes the same token', async () => {
    assert.equal((await post(h.base, '/webhook/proxmox', { fqdn: 'a.b', 'network-interfaces': [{ mac: PVE1 }] })).status, 401);
    assert.equal((await post(h.base, `/webhook/proxmox?token=${TOKEN}`, { fqdn: 'a.b', 'network-interfaces': [{ mac: PVE1 }] })).status, 200);
  });

  test('with [answers] allow: 403 from outside the blocks, served from inside', async () => {
    h.service.reload({ ...h.profile, answers: { ...h.profile.answers, token: '', allow: ['10.0.0.0/8', 'fd00::/8'] } });
    const r = await post(h.base, '/answer', request([PVE1]));
    assert.equal(r.status, 403);
    assert.match(r.text, /127\.0\.0\.1 is not in \[answers\] allow \(10\.0\.0\.0\/8, fd00::\/8\)/);
    h.service.reload({ ...h.profile, answers: { ...h.profile.answers, token: '', allow: ['10.0.0.0/8', '127.0.0.0/8'] } });
    assert.equal((await post(h.base, '/answer', request([PVE1]))).status, 200);
  });
});

describe('no answer at all', () => {
  test('404 JSON listing what was tried, in order', async () => {
    const tree = makeAnswerTree({ 'hosts/README': 'not an answer' });
    const h = await startHttp({ answers: { dir: tree.answers } });
    try {
      const r = await post(h.base, '/answer', request([PVE1], { dmi: { system: { serial: 'CZJ2340F1K' } } }));
      assert.equal(r.status, 404);
      const { error } = r.json() as { error: string };
      assert.match(error, /tried hosts\/52-54-00-aa-00-01\.toml, serial\/CZJ2340F1K\.toml, pve\.toml, default\.toml$/);
      assert.equal(h.store.events({ protocol: 'answer' }).at(-1)?.decision, 'not-found');
    } finally {
      await h.stop();
      tree.remove();
    }
  });
});

describe('GET /hosts and /hosts/<mac> (admin only: answers hold root passwords)', () => {
  let tree: AnswerTree;
  let h: RunningHttp;
  const ADMIN = 'admin-token-0123456789abcdef';

  before(async () => {
    tree = makeAnswerTree({
      'hosts/52-54-00-aa-00-01.toml': 'root-password = "{{hostname}}-secret"\n',
      'hosts/typo.toml': 'x',
      'serial/CZJ2340F1K.toml': 's',
      'uuid/4c4c4544-0051-3510-8057-b7c04f4b4e32.toml': 'u',
      'pve.toml': 'p',
      'default.toml': 'd',
      'preseed/hosts/52-54-00-aa-00-01.cfg': 'd-i',
      'nocloud/default/user-data': '#cloud-config',
    });
    h = await startHttp({ answers: { dir: tree.answers }, hosts: [hostEntry(PVE1, { hostname: 'pve1' })] });
  });
  after(async () => {
    await h.stop();
    tree.remove();
  });

  test('GET /hosts lists MACs, serials, UUIDs, products, default, and names it ignores', async () => {
    const r = await fetch(`${h.base}/hosts`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as Record<string, unknown>;
    assert.deepEqual(body.macs, [{ mac: PVE1, file: 'hosts/52-54-00-aa-00-01.toml' }]);
    assert.deepEqual(body.serials, [{ serial: 'CZJ2340F1K', file: 'serial/CZJ2340F1K.toml' }]);
    assert.deepEqual(body.uuids, [{ uuid: '4c4c4544-0051-3510-8057-b7c04f4b4e32', file: 'uuid/4c4c4544-0051-3510-8057-b7c04f4b4e32.toml' }]);
    assert.deepEqual(body.products, [{ product: 'pve', file: 'pve.toml' }]);
    assert.equal(body.default, 'default.toml');
    assert.deepEqual(body.ignored, ['hosts/typo.toml: not a MAC address followed by .toml']);
    assert.deepEqual((body.preseed as { macs: unknown }).macs, [{ mac: PVE1, file: 'preseed/hosts/52-54-00-aa-00-01.cfg' }]);
    assert.equal((body.nocloud as { default: unknown }).default, 'nocloud/default/');
  });

  test('GET /hosts/<mac> in any spelling shows the filled answer and where it came from, without touching the node', async () => {
    for (const spelling of ['52-54-00-AA-00-01', '525400aa0001', '5254.00aa.0001']) {
      const r = await fetch(`${h.base}/hosts/${spelling}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-pxe-pilot-source'), 'hosts/52-54-00-aa-00-01.toml');
      assert.equal(await r.text(), 'root-password = "pve1-secret"\n');
    }
    const other = await fetch(`${h.base}/hosts/52:54:00:aa:00:07?product=pve`);
    assert.equal(other.headers.get('x-pxe-pilot-source'), 'pve.toml');
    assert.equal(h.store.getNode(PVE1), undefined);
    assert.equal((await rawRequest(h.port, 'GET', '/hosts/..%2f..%2fetc%2fpasswd')).status, 400);
  });

  test('with [http] admin_token set, both need it', async () => {
    h.service.reload({ ...h.profile, http: { ...h.profile.http, adminToken: ADMIN } });
    try {
      for (const path of ['/hosts', `/hosts/${PVE1}`]) {
        const denied = await fetch(h.base + path);
        assert.equal(denied.status, 401);
        assert.doesNotMatch(await denied.text(), /secret/);
        assert.equal((await fetch(h.base + path, { headers: { authorization: 'Bearer nope' } })).status, 401);
        assert.equal((await fetch(h.base + path, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 200);
      }
    } finally {
      h.service.reload({ ...h.profile, http: { ...h.profile.http, adminToken: '' } });
    }
  });
});
