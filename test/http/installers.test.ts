// NoCloud (Ubuntu autoinstall) and Debian preseed answers, fetched the way those installers do.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { makeAnswerTree, type AnswerTree } from '../helpers/answer-tree.ts';
import { hostEntry } from '../helpers/profile.ts';

const run = promisify(execFile);
const UBUNTU = '52:54:00:dd:00:01';
const DEBIAN = '52:54:00:dd:00:02';
const BARE = '52:54:00:dd:00:03';

describe('installer answers by MAC', () => {
  let tree: AnswerTree;
  let h: RunningHttp;

  before(async () => {
    tree = makeAnswerTree(
      {
        'nocloud/hosts/52-54-00-dd-00-01/user-data':
          '#cloud-config\nautoinstall:\n  version: 1\n  identity:\n    hostname: {{hostname}}\n    password: "{{password_hash}}"\n',
        'nocloud/default/user-data': '#cloud-config\nautoinstall:\n  version: 1\n  identity:\n    hostname: {{ hostname }}\n',
        'nocloud/serial/SRV0042/vendor-data': '#cloud-config\nruncmd: [echo {{serial}}]\n',
        'nocloud/hosts/52-54-00-dd-00-04/user-data': '## template: jinja\n#cloud-config\nhostname: \\{{ v1.local_hostname }}\nfqdn: {{fqdn}}\n',
        'preseed/hosts/52-54-00-dd-00-02.cfg':
          'd-i netcfg/get_hostname string {{hostname}}\nd-i preseed/late_command string in-target wget -q -O /dev/null {{server}}/done\n',
        'preseed/default.cfg': 'd-i debconf/priority string critical\n',
      },
      ['ubuntu/24.04', 'debian/13'],
    );
    tree.write('assets/debian/13/cmdline', 'auto=true priority=critical url=${server}/preseed/${mac}.cfg');
    h = await startHttp({
      answers: { dir: tree.answers, token: 'tokens-are-not-for-these-clients' },
      assets: { dir: tree.assets },
      hosts: [
        hostEntry(UBUNTU, { hostname: 'ubu1', action: 'install', profile: 'ubuntu/24.04', vars: { password_hash: '$6$x$y' } }),
        hostEntry(DEBIAN, { hostname: 'deb1', action: 'install', profile: 'debian/13' }),
      ],
    });
  });
  after(async () => {
    await h.stop();
    tree.remove();
  });

  test('NoCloud user-data from the machine folder, filled; meta-data generated when there is no file', async () => {
    const user = await rawRequest(h.port, 'GET', `/nocloud/${UBUNTU}/user-data`);
    assert.equal(user.status, 200);
    assert.equal(user.headers['x-pxe-pilot-source'], 'nocloud/hosts/52-54-00-dd-00-01/user-data');
    assert.equal(user.text, '#cloud-config\nautoinstall:\n  version: 1\n  identity:\n    hostname: ubu1\n    password: "$6$x$y"\n');
    const meta = await rawRequest(h.port, 'GET', `/nocloud/${UBUNTU}/meta-data`);
    assert.deepEqual(
      [meta.status, meta.headers['x-pxe-pilot-source'], meta.text],
      [200, '(generated)', 'instance-id: pxe-pilot-52-54-00-dd-00-01\nlocal-hostname: ubu1\n'],
    );
    const vendor = await rawRequest(h.port, 'GET', `/nocloud/${UBUNTU}/vendor-data`);
    assert.deepEqual([vendor.status, vendor.text], [200, '']);
    const ev = h.store.events({ mac: UBUNTU, protocol: 'answer' });
    assert.deepEqual(
      ev.map((e) => e.kind),
      ['GET /nocloud/<mac>/user-data', 'GET /nocloud/<mac>/meta-data', 'GET /nocloud/<mac>/vendor-data'],
    );
  });

  test('each NoCloud file is chosen on its own: default user-data, vendor-data by the serial iPXE reported', async () => {
    await rawRequest(h.port, 'GET', `/boot?mac=${BARE}&serial=SRV0042&uuid=`);
    // {{hostname}} has no value for a machine without a [host] section: an error, not "hostname: ".
    const user = await rawRequest(h.port, 'GET', `/nocloud/${BARE}/user-data`);
    assert.equal(user.status, 400);
    assert.match(String(user.headers['content-type']), /^text\/plain/);
    assert.match(user.text, /nocloud\/default\/user-data line 5, column 15: \{\{hostname\}\} has no value here/);
    const vendor = await rawRequest(h.port, 'GET', `/nocloud/${BARE}/vendor-data`);
    assert.deepEqual([vendor.headers['x-pxe-pilot-source'], vendor.text], ['nocloud/serial/SRV0042/vendor-data', '#cloud-config\nruncmd: [echo SRV0042]\n']);
  });

  test('\\{{ passes cloud-init Jinja through; an unknown placeholder is still an error', async () => {
    const r = await rawRequest(h.port, 'GET', '/nocloud/52-54-00-dd-00-04/user-data');
    assert.equal(r.status, 400);
    assert.match(r.text, /line 4, column 7: unknown placeholder \{\{fqdn\}\}/);
  });

  test('preseed by MAC, else default; 404 as text when a NoCloud file name is unknown; MACs validated', async () => {
    const deb = await rawRequest(h.port, 'GET', `/preseed/${DEBIAN.replace(/:/g, '-')}.cfg`);
    assert.equal(deb.status, 200);
    assert.equal(deb.text, `d-i netcfg/get_hostname string deb1\nd-i preseed/late_command string in-target wget -q -O /dev/null ${h.base}/done\n`);
    assert.equal((await rawRequest(h.port, 'GET', `/preseed/${BARE}.cfg`)).headers['x-pxe-pilot-source'], 'preseed/default.cfg');
    const unknown = await rawRequest(h.port, 'GET', `/nocloud/${UBUNTU}/network-config`);
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.headers['content-type']), /^text\/plain/);
    for (const path of [
      '/preseed/..%2f..%2fetc%2fpasswd.cfg',
      '/preseed/x.cfg',
      `/preseed/${DEBIAN}`,
      '/nocloud/..%2f/user-data',
      '/nocloud/%2e%2e/user-data',
    ]) {
      const r = await rawRequest(h.port, 'GET', path);
      assert.ok(r.status === 400 || r.status === 404, `${path}: ${r.status}`);
      assert.doesNotMatch(r.text, /root:/);
    }
  });

  test('[answers] allow guards these too', async () => {
    h.service.reload({ ...h.profile, answers: { ...h.profile.answers, allow: ['192.0.2.0/24'] } });
    try {
      assert.equal((await rawRequest(h.port, 'GET', `/preseed/${DEBIAN}.cfg`)).status, 403);
      assert.equal((await rawRequest(h.port, 'GET', `/nocloud/${UBUNTU}/user-data`)).status, 403);
    } finally {
      h.service.reload({ ...h.profile, answers: { ...h.profile.answers, allow: [] } });
    }
  });

  test(
    'the whole Debian flow: /boot serves the installer with the preseed URL, busybox wget (as d-i) fetches it',
    { skip: skipUnless(['busybox']) },
    async () => {
      const script = (await rawRequest(h.port, 'GET', `/boot?mac=${DEBIAN.replace(/:/g, '-')}&platform=efi`)).text;
      const url = /url=(\S+)/.exec(script)?.[1];
      assert.equal(url, `${h.base}/preseed/${DEBIAN}.cfg`);
      const { stdout } = await run('busybox', ['wget', '-q', '-O', '-', url], { timeout: 10_000 });
      assert.match(stdout, /^d-i netcfg\/get_hostname string deb1$/m);
    },
  );
});
