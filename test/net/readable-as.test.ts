// A file or folder the daemon's account may not read is reported as that: the path, the account
// and the errno, with what to do; never as a missing file (issue 22: a 0700 folder on the way to
// the images read as "has no vmlinuz and initrd").
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { describeDenial, cannotRead, denialsAs } from '../../src/net/readable-as.ts';
import { lookupAccount, type Account } from '../../src/net/privileges.ts';
import { readability } from '../../src/cli/readability.ts';
import { loadProfile } from '../../src/config/load.ts';
import { systemAccount, throwAwayName } from '../helpers/accounts.ts';
import { cliArgv } from '../helpers/cli.ts';
import { startLoopbackDaemon, type LoopbackDaemon } from '../helpers/loopback-daemon.ts';
import { waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { repoRoot } from '../helpers/standin.ts';

const exec = promisify(execFile);

describe('how a path the account may not read is said', () => {
  test('path, account, errno and what to do; the folder on the way when that is the cause', () => {
    assert.equal(
      describeDenial({ path: '/srv/a/vmlinuz', need: 'file', code: 'EACCES' }, 'pxe-pilot'),
      'cannot read /srv/a/vmlinuz as pxe-pilot (EACCES): give that account read access',
    );
    assert.equal(
      describeDenial({ path: '/srv/a/vmlinuz', need: 'file', code: 'EACCES', blockedAt: '/srv/a' }, 'pxe-pilot'),
      'cannot read /srv/a/vmlinuz as pxe-pilot (EACCES): give that account read access (it cannot enter /srv/a)',
    );
    assert.equal(
      describeDenial({ path: '/var/lib/pxe-pilot', need: 'state folder', code: 'EACCES' }, 'ops'),
      'cannot read and write /var/lib/pxe-pilot as ops (EACCES): give that account read and write access',
    );
  });
  test('a missing file or any other error is not a permission problem', () => {
    for (const code of ['ENOENT', 'ENOTDIR', 'EIO']) assert.equal(cannotRead('/x', Object.assign(new Error(code), { code })), null);
    assert.equal(cannotRead('/x', new Error('no code')), null);
    assert.match(
      cannotRead('/x', Object.assign(new Error('EPERM'), { code: 'EPERM' })) ?? '',
      /^cannot read \/x as .+ \(EPERM\): give that account read access/,
    );
  });
});

const asRoot = skipUnless(['root', 'useradd', 'userdel']);

/** A tree with one open image, one behind a closed folder, and an open folder whose only file is closed. */
function tree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pxp-readable-'));
  chmodSync(dir, 0o755);
  for (const image of ['open/1', 'closed/1', 'closedfile/1']) {
    mkdirSync(join(dir, image), { recursive: true });
    writeFileSync(join(dir, image, 'vmlinuz'), 'k');
    writeFileSync(join(dir, image, 'initrd'), 'i');
  }
  chmodSync(join(dir, 'closed/1'), 0o700);
  chmodSync(join(dir, 'closedfile/1/vmlinuz'), 0o600);
  return dir;
}

describe('checked as another account', { skip: asRoot }, () => {
  test('denialsAs: the kernel answers for the account (EACCES, and the folder it cannot enter)', () => {
    const nobody = lookupAccount('nobody') as Account;
    assert.ok(nobody, 'no nobody account');
    const dir = tree();
    try {
      const checks = ['open/1', 'closed/1', 'closedfile/1'].flatMap((image) => [
        { path: join(dir, image), need: 'folder' as const },
        { path: join(dir, image, 'vmlinuz'), need: 'file' as const },
      ]);
      checks.push({ path: join(dir, 'no-such-file'), need: 'file' });
      assert.deepEqual(denialsAs(nobody, checks), [
        { path: join(dir, 'closed/1'), need: 'folder', code: 'EACCES' },
        { path: join(dir, 'closed/1/vmlinuz'), need: 'file', code: 'EACCES', blockedAt: join(dir, 'closed/1') },
        { path: join(dir, 'closedfile/1/vmlinuz'), need: 'file', code: 'EACCES' },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('as nobody: the catalogue, an answer file, a TLS key and a state folder each say what cannot be read', async () => {
    const dir = tree();
    const answers = join(dir, 'answers');
    mkdirSync(join(answers, 'hosts'), { recursive: true });
    writeFileSync(join(answers, 'hosts', '52-54-00-ac-c0-02.toml'), '[global]\n');
    writeFileSync(join(answers, 'default.toml'), '[global]\n');
    chmodSync(join(answers, 'hosts'), 0o700);
    mkdirSync(join(dir, 'tls'));
    writeFileSync(join(dir, 'tls', 'cert.pem'), 'c');
    writeFileSync(join(dir, 'tls', 'key.pem'), 'k', { mode: 0o600 });
    mkdirSync(join(dir, 'state'), { mode: 0o700 });
    // Only the catalogue's top folder closed: the scan cannot list it at all.
    const hidden = join(dir, 'hidden');
    mkdirSync(join(hidden, 'proxmox-ve', '9.1-1'), { recursive: true });
    writeFileSync(join(hidden, 'proxmox-ve', '9.1-1', 'vmlinuz'), 'k');
    chmodSync(hidden, 0o700);
    const src = (file: string): string => JSON.stringify(new URL(`../../src/${file}`, import.meta.url).href);
    const script = `
      const out = {};
      const { scanAssetFolders, AssetCatalogue } = await import(${src('assets/catalogue-scan.ts')});
      out.scan = scanAssetFolders(${JSON.stringify(dir)});
      out.hidden = scanAssetFolders(${JSON.stringify(hidden)});
      out.hiddenFind = new AssetCatalogue().find(${JSON.stringify(hidden)}, 'proxmox-ve/9.1-1');
      const { findAnswer, PROXMOX_LAYOUT } = await import(${src('answers/folder.ts')});
      out.answer = await findAnswer(${JSON.stringify(answers)}, PROXMOX_LAYOUT, [{ rule: 'mac', key: '52:54:00:ac:c0:02', name: '52-54-00-ac-c0-02' }, { rule: 'default', key: 'default', name: 'default' }]);
      const { readPair } = await import(${src('http/tls.ts')});
      try { readPair(${JSON.stringify(join(dir, 'tls', 'cert.pem'))}, ${JSON.stringify(join(dir, 'tls', 'key.pem'))}, 'profile'); } catch (err) { out.tls = err.message; }
      const { Store } = await import(${src('store/store.ts')});
      try { Store.open(${JSON.stringify(join(dir, 'state'))}); } catch (err) { out.state = err.message; }
      process.stdout.write(JSON.stringify(out));`;
    const scratch = join(dir, 'tmp');
    mkdirSync(scratch, { mode: 0o777 });
    chmodSync(scratch, 0o777);
    try {
      const nobody = lookupAccount('nobody') as Account;
      const [node, ...flags] = cliArgv();
      const run = await exec(node!, [...flags.slice(0, 2), '--input-type=module', '-e', script], {
        cwd: '/',
        uid: nobody.uid,
        gid: nobody.gid,
        encoding: 'utf8',
        // tsx's compile cache goes in the test's folder, not in a /tmp/tsx-<uid> left behind.
        env: { ...process.env, HOME: '/', TMPDIR: scratch },
      });
      const out = JSON.parse(run.stdout) as Record<string, unknown> & {
        scan: { images: { profile: string; integrity: string; integrityProblem?: string }[]; problems: string[] };
        hidden: { images: unknown[]; problems: string[] };
        hiddenFind: { integrity: string; integrityProblem: string } | undefined;
        answer: { status: string; rel?: string; reason?: string };
        tls?: string;
        state?: string;
      };
      const byProfile = new Map(out.scan.images.map((i) => [i.profile, i]));
      assert.equal(byProfile.get('open/1')?.integrity, 'unverified');
      assert.equal(byProfile.get('closed/1')?.integrity, 'unreadable');
      assert.equal(
        byProfile.get('closed/1')?.integrityProblem,
        `cannot read ${dir}/closed/1/vmlinuz as nobody (EACCES): give that account read access (it cannot enter ${dir}/closed/1)`,
      );
      assert.equal(
        byProfile.get('closedfile/1')?.integrityProblem,
        `cannot read ${dir}/closedfile/1/vmlinuz as nobody (EACCES): give that account read access`,
      );
      assert.deepEqual(out.hidden, { images: [], diskImages: [], problems: [`cannot read ${hidden} as nobody (EACCES): give that account read access`] });
      assert.equal(out.hiddenFind?.integrity, 'unreadable', 'an image behind a folder the scan cannot list is "unreadable", not missing');
      assert.match(out.hiddenFind?.integrityProblem ?? '', new RegExp(`^cannot read ${hidden}/proxmox-ve/9\\.1-1/vmlinuz as nobody \\(EACCES\\)`));
      // Refused, not a fall-through to default.toml: that would install the machine with another's answer.
      assert.deepEqual(out.answer, {
        status: 'refused',
        rel: 'hosts',
        reason: `cannot read ${answers}/hosts as nobody (EACCES): give that account read access`,
      });
      assert.equal(out.tls, `the private key: cannot read ${dir}/tls/key.pem as nobody (EACCES): give that account read access`);
      assert.equal(out.state, `cannot read and write ${dir}/state as nobody (EACCES): give that account read and write access`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('check-config as root, for a daemon that switches to [server] user = nobody', { skip: asRoot }, () => {
  test('an unreadable image is an error; the way to the state folder, an answer file, the TLS key and a BMC password are warnings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pxp-readable-'));
    try {
      chmodSync(dir, 0o755);
      const closedImage = join(dir, 'assets', 'debian', '12');
      mkdirSync(closedImage, { recursive: true });
      writeFileSync(join(closedImage, 'vmlinuz'), 'k');
      writeFileSync(join(closedImage, 'initrd'), 'i');
      chmodSync(closedImage, 0o700);
      // The state folder itself is handed to the account at start; a closed folder above it is not.
      const closedAbove = join(dir, 'private');
      mkdirSync(join(closedAbove, 'state'), { recursive: true, mode: 0o700 });
      chmodSync(closedAbove, 0o700);
      mkdirSync(join(dir, 'answers'));
      writeFileSync(join(dir, 'answers', 'default.toml'), '[global]\n', { mode: 0o600 });
      mkdirSync(join(dir, 'tls'));
      writeFileSync(join(dir, 'tls', 'cert.pem'), 'c', { mode: 0o644 });
      writeFileSync(join(dir, 'tls', 'key.pem'), 'k', { mode: 0o600 });
      mkdirSync(join(dir, 'bmc'), { mode: 0o755 });
      writeFileSync(join(dir, 'bmc', '10.0.1.101'), 'user = admin\npassword = x\n', { mode: 0o600 });
      const file = join(dir, 'p.ini');
      writeFileSync(
        file,
        [
          '[server]',
          'address = 127.0.0.1',
          `state_dir = ${join(closedAbove, 'state')}`,
          'user = nobody',
          '[https]',
          `cert = ${join(dir, 'tls', 'cert.pem')}`,
          `key = ${join(dir, 'tls', 'key.pem')}`,
          '[assets]',
          `dir = ${join(dir, 'assets')}`,
          '[answers]',
          `dir = ${join(dir, 'answers')}`,
          '[power]',
          `credentials_dir = ${join(dir, 'bmc')}`,
          '[host 52:54:00:ac:c0:03]',
          'bmc = ipmi://10.0.1.101',
          '',
        ].join('\n'),
      );
      const found = readability(loadProfile(file, { offline: true }), lookupAccount('nobody'));
      assert.deepEqual(found.errors, [
        `cannot read ${closedImage} as nobody (EACCES): debian/12 would fail to boot; chown -R nobody: ${closedImage}, or chmod -R a+rX ${closedImage}; the same for 2 more paths under ${closedImage}`,
      ]);
      const give = (path: string, more = ''): string => `cannot read ${path} as nobody (EACCES): give that account read access${more}`;
      assert.deepEqual(found.warnings, [
        `cannot read and write ${join(closedAbove, 'state')} as nobody (EACCES): give that account read and write access (it cannot enter ${closedAbove}); the same for 1 more path under ${closedAbove}`,
        give(join(dir, 'answers', 'default.toml')),
        give(join(dir, 'bmc', '10.0.1.101')),
        give(join(dir, 'tls', 'key.pem')),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a daemon started as root with [server] user naming an account that cannot read an image', { skip: asRoot }, () => {
  const MAC = '52:54:00:ac:c0:01';
  const IMAGE = 'proxmox-ve/9.1-1';

  test('/boot, /assets.json, assets ls, explain and check-config each name the path, the account and EACCES', async () => {
    const account = systemAccount(throwAwayName());
    let daemon: LoopbackDaemon | null = null;
    try {
      daemon = await startLoopbackDaemon({ user: account.name, hosts: `[host ${MAC}]\naction = install\nprofile = ${IMAGE}\n` });
      const d = daemon;
      await waitFor(`the switch to ${account.name}`, () => d.output().includes(`now running as ${account.name}`), 20_000, 50);
      // The account may reach everything but the image's folder.
      chmodSync(d.dir, 0o755);
      const folder = join(d.assetsDir, IMAGE);
      chmodSync(folder, 0o700);
      const names = (text: string, what: string): void => {
        assert.ok(text.includes(folder), `${what} does not name ${folder}:\n${text}`);
        assert.ok(text.includes(` as ${account.name} (EACCES)`), `${what} does not name ${account.name} and EACCES:\n${text}`);
        assert.doesNotMatch(text, /has no vmlinuz/, `${what} says missing`);
      };

      const boot = await fetch(`${d.base}/boot?mac=${MAC}`);
      const script = await boot.text();
      assert.equal(boot.status, 200);
      assert.match(script, /^#!ipxe/);
      assert.doesNotMatch(script, /^kernel /m, 'an install script was served');
      names(script, '/boot');
      assert.ok(script.includes(`${IMAGE} is not offered: cannot read ${folder}/vmlinuz as ${account.name} (EACCES): give that account read access`), script);

      // The kernel itself, fetched as a machine would: refused, saying why, not "no such file".
      const kernel = await fetch(`${d.base}/assets/${IMAGE}/vmlinuz`);
      assert.equal(kernel.status, 403);
      names(await kernel.text(), 'GET /assets/…/vmlinuz');

      const listing = await fetch(`${d.base}/assets.json`, { headers: { authorization: `Bearer ${d.token}` } });
      const body = (await listing.json()) as { images: { profile: string; integrity: string; problem: string | null }[] };
      const row = body.images.find((i) => i.profile === IMAGE);
      assert.equal(row?.integrity, 'unreadable', JSON.stringify(body));
      names(row?.problem ?? '', '/assets.json');

      // The same listing from the command line, run as root: checked as the account the daemon runs as.
      const [lsNode, ...lsArgs] = cliArgv(['assets', 'ls', '--config', d.configFile]);
      const ls = await exec(lsNode!, lsArgs, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, INVOCATION_ID: '' } });
      names(ls.stdout.split('\n').find((l) => l.startsWith(IMAGE)) ?? '', 'assets ls');
      assert.match(ls.stdout, /UNREADABLE: cannot read/);

      const [node, ...args] = cliArgv(['explain', MAC, '--config', d.configFile]);
      let explained = '';
      await waitFor(
        'explain to show the /boot event',
        async () => {
          explained = (await exec(node!, args, { cwd: repoRoot, encoding: 'utf8' })).stdout;
          return explained.includes('EACCES');
        },
        10_000,
        100,
      );
      names(explained, 'explain');

      // An image its account cannot read would fail at the machine: check-config refuses it (exit 2).
      const [node2, ...args2] = cliArgv(['check-config', '--config', d.configFile]);
      const checked = spawnSync(node2!, args2, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, INVOCATION_ID: '' }, timeout: 60_000 });
      assert.equal(checked.status, 2, checked.stderr);
      const line = checked.stderr.split('\n').find((l) => l.includes(folder)) ?? checked.stderr;
      names(line, 'check-config');
      assert.match(
        line,
        new RegExp(`^cannot read ${folder} as ${account.name} \\(EACCES\\): ${IMAGE} would fail to boot; chown -R ${account.name}: ${folder}`),
      );
    } finally {
      await daemon?.stop();
      await account.remove();
    }
  });
});
