// check-config as a user runs it: what start-up or an install would trip over, each with what to change.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { deployAssets } from '../helpers/deploy-assets.ts';
import { cliArgv } from '../helpers/cli.ts';
import { skipUnlessPostgres, startPostgres } from '../helpers/postgres.ts';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'pxp-check-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function checkConfig(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, ...args] = cliArgv(['check-config', '--config', file]);
  try {
    const r = await run(node!, args, { encoding: 'utf8' });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let n = 0;

/** A folder with a profile (address 10.0.0.1, state, assets and answers inside it) and what `setup` adds. */
/** `user`: [server] user; root skips the readability check, which reads as that account. */
function lab(extra = '', setup: (dir: string) => void = () => {}, user = 'root'): string {
  const dir = join(root, `lab${n++}`);
  mkdirSync(join(dir, 'assets'), { recursive: true });
  mkdirSync(join(dir, 'answers', 'hosts'), { recursive: true });
  setup(dir);
  const file = join(dir, 'pxe-pilot.ini');
  writeFileSync(file, `[server]\naddress = 10.0.0.1\nstate_dir = state\nuser = ${user}\n[assets]\ndir = assets\n[answers]\ndir = answers\n${extra}`);
  return file;
}

function image(dir: string, name: string, cmdline?: string): void {
  const folder = join(dir, 'assets', ...name.split('/'));
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'vmlinuz'), 'k');
  writeFileSync(join(folder, 'initrd'), 'i');
  if (cmdline !== undefined) writeFileSync(join(folder, 'cmdline'), cmdline);
}

test('check-config refuses a cmdline placeholder typo, naming the file and line; iPXE settings and ours pass', async () => {
  let assets = '';
  const file = lab('[host 52:54:00:12:34:56]\ncmdline = console=${ttyS}\n', (dir) => {
    assets = join(dir, 'assets');
    image(dir, 'ubuntu/24.04', 'autoinstall ip=${ip} m=${mac_hyphen} net=${net0/ip}\n  hostname=${hostnmae}\n');
    image(dir, 'debian/12', 'auto=true url=${server}/preseed/${mac} arch=${buildarch}\n');
  });
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`${join(assets, 'ubuntu', '24.04', 'cmdline')} line 2, column 12: unknown placeholder \\$\\{hostnmae\\}: did you mean \\$\\{hostname\\}\\?`),
  );
  assert.match(r.stderr, /\[host 52:54:00:12:34:56\] cmdline = "console=\$\{ttyS\}": unknown placeholder \$\{ttyS\}/);
  assert.doesNotMatch(r.stderr, /debian\/12/);
});

test('check-config passes a profile whose cmdline files use only ours and iPXE settings', async () => {
  const file = lab('', (dir) => image(dir, 'ubuntu/24.04', 'autoinstall ip=${ip} m=${mac_hyphen} net=${net0/ip} h=${hostname}\n'));
  const r = await checkConfig(file);
  assert.equal(r.code, 0, r.stderr);
});

test('check-config refuses answer templates with a syntax error or a placeholder no machine has, naming file, line and column', async () => {
  let answers = '';
  const file = lab('[host 52:54:00:12:34:56]\nhostname = pve1\nx_disk = /dev/sda\n', (dir) => {
    answers = join(dir, 'answers');
    writeFileSync(
      join(answers, 'default.toml'),
      '[global]\nfqdn = "{{hostname}}.rack.example"\nroot_password = "{{x_pass}"\n[disk-setup]\nfilter = "{{x_disk}}"\n',
    );
    mkdirSync(join(answers, 'nocloud', 'default'), { recursive: true });
    writeFileSync(
      join(answers, 'nocloud', 'default', 'user-data'),
      '#cloud-config\nhostname: {{hostname}}\nruncmd: ["echo {{ x_rack }}", "echo \\{{ literal }}"]\n',
    );
  });
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`${join(answers, 'default.toml')} line 3, column 18: unclosed \\{\\{`));
  assert.match(
    r.stderr,
    new RegExp(
      `${join(answers, 'nocloud', 'default', 'user-data')} line 3, column 16: \\{\\{x_rack\\}\\} is neither built in .* nor set by any \\[host\\] section`,
    ),
  );
  assert.doesNotMatch(r.stderr, /x_disk|\{\{ ?literal/);
});

test('check-config refuses a state_dir that is a file, saying what to change', async () => {
  const file = lab('', (dir) => writeFileSync(join(dir, 'state'), 'not a folder'));
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /\[server\] state_dir = .*\/state: is a file, not a folder; .*move the file away, or point state_dir at a folder/);
});

test('check-config warns when [boot] menu_default names an image that is not there', async () => {
  const file = lab('[boot]\nmenu_default = debian/13\n', (dir) => image(dir, 'debian/12'));
  const r = await checkConfig(file);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /warning: \[boot\] menu_default = debian\/13: no such image under .*assets \(pxe-pilot assets ls lists them\), so the menu's timeout takes local disk/,
  );
});

test('check-config refuses a menu default naming a disk image, in [boot] and in a [menu], naming file, section, key and value', async () => {
  const extra =
    '[boot]\nmenu_default = cloud/1\n[rule racks]\nproduct = R9\naction = menu\nmenu = racks\n[menu racks]\nentries = cloud/*, debian/*\ndefault = cloud/1\n';
  const file = lab(extra, (dir) => image(dir, 'debian/12'));
  await deployAssets(join(dirname(file), 'assets'));
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stderr);
  const why = "is a disk image \\(assets add --kind disk-image\\): deploying it erases the disk, so a menu's timeout never takes it";
  assert.match(r.stderr, new RegExp(`${file}: \\[boot\\] menu_default = cloud/1: cloud/1 ${why}`));
  assert.match(r.stderr, new RegExp(`${file}: \\[menu racks\\] default = cloud/1: cloud/1 ${why}.*pxe-pilot nodes reinstall MAC --profile cloud/1`));
  assert.doesNotMatch(r.stderr, /no such image/, 'not also the missing-image warning');
  // An install image as the default, with the same disk image listed, passes.
  const fine = lab(extra.replaceAll('= cloud/1', '= debian/12'), (dir) => image(dir, 'debian/12'));
  await deployAssets(join(dirname(fine), 'assets'));
  const ok = await checkConfig(fine);
  assert.equal(ok.code, 0, ok.stderr);
});

test('check-config refuses image files the service account cannot read', async () => {
  let folder = '';
  // Readable folders from / down, so only the file itself is in the way.
  chmodSync(root, 0o755);
  const file = lab(
    '',
    (dir) => {
      chmodSync(dir, 0o755);
      image(dir, 'debian/12');
      folder = join(dir, 'assets', 'debian', '12');
      chmodSync(join(folder, 'vmlinuz'), 0o600);
    },
    'nobody',
  );
  for (const d of [join(folder, '..', '..'), join(folder, '..'), folder]) chmodSync(d, 0o755);
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `cannot read ${join(folder, 'vmlinuz')} as nobody \\(EACCES\\): debian/12 would fail to boot; chown -R nobody: ${folder}, or chmod -R a\\+rX ${folder}`,
    ),
  );
  assert.doesNotMatch(r.stderr, /initrd as nobody/);
});

const noPostgres = skipUnlessPostgres();
test('check-config says when the PostgreSQL schema is not migrated, and what to run (socket URL form)', { skip: noPostgres }, async (t) => {
  const server = await startPostgres();
  t.after(() => server.destroy());
  await server.createDatabase('fresh', { migrate: false });
  const store = (db: string): string => `[store]\nbackend = postgresql\nurl = postgresql://postgres@/${db}?host=${server.socketDir}&port=${server.port}\n`;
  const fresh = lab(store('fresh'));
  const r = await checkConfig(fresh);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(
      `the database schema is at version 0, this pxe-pilot needs \\d+; the daemon refuses to start until it is migrated: run pxe-pilot store migrate --config ${fresh}`,
    ),
  );
  const migrated = await checkConfig(lab(store('pxe')));
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.doesNotMatch(migrated.stderr, /schema/);
});

test('check-config refuses DHCP-time keys in a [host serial:…] section, naming them, and a rule naming a missing menu', async () => {
  const file = lab('[host serial:RR-0042]\naction = local\nip = 10.0.0.9\nloader = grub\n[rule big]\ncpu_threads = >= 16\nmenu = gpu\n');
  const r = await checkConfig(file);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /\[host serial:RR-0042\] ip, loader = "10\.0\.0\.9, grub": DHCP-time and power keys stay keyed by MAC .*: move ip, loader to a \[host <mac>\] section/,
  );
  assert.match(r.stderr, /\[rule big\] menu = "gpu": no \[menu gpu\] section/);
});

test('check-config accepts {{inventory.…}} and {{install_disk}} in answer templates: they are checked per machine', async () => {
  const file = lab('', (dir) => writeFileSync(join(dir, 'answers', 'default.toml'), 'disk = "{{install_disk}}"\nvendor = "{{inventory.system.vendor}}"\n'));
  const r = await checkConfig(file);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});
