// Contract: the recorded Proxmox installer bodies, sent by curl with the installer's headers,
// drive a rack machine from armed to installed, and an older ISO's request still gets its answer.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { startHttp, type RunningHttp } from '../helpers/http.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { makeAnswerTree, type AnswerTree } from '../helpers/answer-tree.ts';
import { hostEntry } from '../helpers/profile.ts';
import { detailOf } from '../../src/boot/events.ts';

const run = promisify(execFile);
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/proxmox/${name}`, import.meta.url));
const TOKEN = 'rack-answer-token-5f1c2a';
const BOOT_NIC = '94:40:c9:3a:51:10';

/** POSTs a file as the installer does; returns status, headers (lower-case) and body. */
async function curlPost(url: string, file: string, headers: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const args = [
    '-sS',
    '-X',
    'POST',
    '--max-time',
    '10',
    '-D',
    '-',
    '-H',
    'Content-Type: application/json; charset=utf-8',
    ...headers.flatMap((h) => ['-H', h]),
    '--data-binary',
    `@${file}`,
    url,
  ];
  const { stdout } = await run('curl', args, { timeout: 15_000 });
  const split = stdout.indexOf('\r\n\r\n');
  const head = stdout.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/\S+ (\d{3})/.exec(head[0] ?? '')?.[1]);
  const hdrs: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    hdrs[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status, headers: hdrs, body: stdout.slice(split + 4) };
}

describe('Proxmox installer contract (recorded bodies, curl)', { skip: skipUnless(['curl']) }, () => {
  let tree: AnswerTree;
  let h: RunningHttp;

  before(async () => {
    tree = makeAnswerTree(
      {
        'hosts/94-40-c9-3a-51-10.toml': [
          '[global]',
          'keyboard = "en-us"',
          'country = "de"',
          'fqdn = "{{hostname}}.rack.example"',
          'mailto = "ops@rack.example"',
          'timezone = "Europe/Berlin"',
          'root-password-hashed = "{{root_hash}}"',
          '',
          '[network]',
          'source = "from-answer"',
          'cidr = "{{ip}}/24"',
          'gateway = "10.20.0.1"',
          'dns = "10.20.0.1"',
          '# chassis serial {{serial}}',
          '',
          '[disk-setup]',
          'filesystem = "zfs"',
          'zfs.raid = "raid1"',
          'disk-list = ["sda", "sdb"]',
          '',
          '[post-installation-webhook]',
          'url = "{{server}}/webhook/proxmox?token=' + TOKEN + '"',
          '',
        ].join('\n'),
        'pbs.toml': '[global]\nfqdn = { source = "from-dhcp", domain = "backup.example" }\n',
      },
      ['proxmox-ve/9.1-1'],
    );
    h = await startHttp({
      answers: { dir: tree.answers, token: TOKEN },
      assets: { dir: tree.assets },
      hosts: [
        hostEntry(BOOT_NIC, {
          hostname: 'pve1',
          ip: '10.20.0.11',
          action: 'install',
          profile: 'proxmox-ve/9.1-1',
          vars: { root_hash: '$6$rounds=5000$abc$def' },
        }),
      ],
    });
  });
  after(async () => {
    await h.stop();
    tree.remove();
  });

  test('9.x request (with $schema, Bearer token, Accept) → the host answer, install consumed; webhook → installed', async () => {
    assert.match((await rawRequest(h.port, 'GET', `/boot?mac=94-40-c9-3a-51-10&platform=efi`)).text, /kernel .*proxmox-ve\/9\.1-1/);
    const r = await curlPost(`${h.base}/answer`, fixture('answer-request-9.1.json'), [
      `Authorization: Bearer ${TOKEN}`,
      'Accept: application/json, application/toml;q=0.5',
    ]);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/toml; charset=utf-8');
    assert.equal(r.headers['x-pxe-pilot-source'], 'hosts/94-40-c9-3a-51-10.toml');
    assert.match(r.body, /^fqdn = "pve1\.rack\.example"$/m);
    assert.match(r.body, /^root-password-hashed = "\$6\$rounds=5000\$abc\$def"$/m);
    assert.match(r.body, /^cidr = "10\.20\.0\.11\/24"$/m);
    assert.match(r.body, /^# chassis serial CZJ2340F1K$/m);
    assert.match(r.body, new RegExp(`^url = "${h.base.replace(/\./g, '\\.')}/webhook/proxmox\\?token=${TOKEN}"$`, 'm'));
    assert.doesNotMatch(r.body, /\{\{/);
    assert.equal(h.store.getNode(BOOT_NIC)?.state, 'installing');
    const event = h.store.events({ mac: BOOT_NIC, protocol: 'answer' }).at(-1)!;
    assert.deepEqual([detailOf(event, 'answer')?.schema, detailOf(event, 'answer')?.iso, detailOf(event, 'answer')?.product], ['1.0', '9.1-1', 'pve']);

    // The machine reboots into the installed system; the firmware still tries the network first.
    assert.match((await rawRequest(h.port, 'GET', `/boot?mac=94-40-c9-3a-51-10&platform=efi`)).text, /local disk: install consumed/);

    // The webhook URL from the answer, exactly as the installer would call it (it sends no auth header).
    const url = /^url = "(.*)"$/m.exec(r.body)![1]!;
    const hook = await curlPost(url, fixture('post-install-webhook.json'), []);
    assert.equal(hook.status, 200);
    const node = h.store.getNode(BOOT_NIC)!;
    assert.deepEqual([node.state, node.fqdn, node.bootMode], ['installed', 'pve1.rack.example', 'efi']);
    assert.equal((node.installReport as { 'ssh-public-host-keys': { ed25519: string } })['ssh-public-host-keys'].ed25519.startsWith('ssh-ed25519 '), true);
  });

  test('an older ISO (no $schema, no Authorization header) works with the token in its baked-in URL', async () => {
    const denied = await curlPost(`${h.base}/answer`, fixture('answer-request-8.2.json'), []);
    assert.equal(denied.status, 401);
    const r = await curlPost(`${h.base}/answer?token=${TOKEN}`, fixture('answer-request-8.2.json'), []);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-pxe-pilot-source'], 'pbs.toml');
    assert.match(
      h.store.events({ mac: 'bc:24:11:5e:07:a2', protocol: 'answer' }).at(-1)!.reason,
      /matched product pbs.*not install-pending: the installer was started by hand/,
    );
  });
});
