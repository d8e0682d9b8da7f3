#!/usr/bin/env node
// `npm run deb [-- --out DIR]`: builds pxe-pilot_<version>_<arch>.deb with dpkg-deb.
// Run it after `npm ci` on the Debian release and architecture the package is for: the
// native modules (better-sqlite3, build/Release/udp_device.node and file_send.node) are the ones `npm ci`
// built here, for this machine's Node.js ABI. The package is reproducible: every path is
// owned by root, every mtime is SOURCE_DATE_EPOCH (default: the last commit's time), and
// dpkg-deb writes the members in sorted order, so the same checkout gives the same bytes.
//
// PXE_PILOT_DEB_TEST_MIGRATION (tests only): SQL appended as one extra migration, so the
// package tests can upgrade to a build with a schema change. Never set it for a release.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  openSync,
  readSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { copyStatic } from './copy-static.mjs';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const APP = 'usr/lib/pxe-pilot';
const CONFFILE = 'etc/pxe-pilot/pxe-pilot.ini';

function die(message) {
  process.stderr.write(`build-deb: ${message}\n`);
  process.exit(2);
}

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

const started = Date.now();
function step(message) {
  process.stderr.write(`build-deb: [${((Date.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
}

// ---- inputs ----
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex > 0 ? process.argv[outIndex + 1] : root;
if (!outDir) die('--out needs a folder');

const tools = { 'dpkg-deb': 'dpkg', 'dpkg-shlibdeps': 'dpkg-dev', help2man: 'help2man', strip: 'binutils', gzip: 'gzip' };
for (const [tool, pkg] of Object.entries(tools)) {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' });
  } catch {
    die(`${tool} is missing: apt-get install ${pkg}`);
  }
}
const natives = {
  udp: join(root, 'build/Release/udp_device.node'),
  fileSend: join(root, 'build/Release/file_send.node'),
  sqlite: join(root, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'),
};
for (const file of Object.values(natives)) if (!existsSync(file)) die(`${relative(root, file)} is missing: run 'npm ci' first (it builds the native modules)`);

let epoch = process.env.SOURCE_DATE_EPOCH;
if (!epoch) {
  try {
    epoch = run('git', ['-C', root, 'log', '-1', '--format=%ct']).trim();
  } catch {
    die('set SOURCE_DATE_EPOCH (no git history to take the time of the last commit from)');
  }
}
if (!/^\d+$/.test(epoch)) die(`SOURCE_DATE_EPOCH = "${epoch}" is not a number of seconds`);
const env = { ...process.env, SOURCE_DATE_EPOCH: epoch, LC_ALL: 'C.UTF-8', TZ: 'UTC' };

const pkgJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
// Debian sorts "1.0.0~rc1" before "1.0.0", as semver does "1.0.0-rc1". A test build is a
// later version (+test1), so installing it over the release is an upgrade.
const testMigration = process.env.PXE_PILOT_DEB_TEST_MIGRATION;
const version = pkgJson.version.replace('-', '~') + (testMigration ? '+test1' : '');
const arch = run('dpkg', ['--print-architecture']).trim();
const nodeMajor = Number(process.versions.node.split('.')[0]);
const debName = `pxe-pilot_${version}_${arch}.deb`;

function walk(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, String(name)))
    .sort();
}

const work = mkdtempSync(join(tmpdir(), 'pxe-pilot-deb-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
// dpkg-shlibdeps expects the tree where debhelper would put it.
const pkg = join(work, 'debian/pxe-pilot');
const app = join(pkg, APP);
mkdirSync(app, { recursive: true });

// ---- the compiled program ----
step('compiling src/ (tsc -p tsconfig.build.json)');
run(
  process.execPath,
  [
    join(root, 'node_modules/typescript/bin/tsc'),
    '-p',
    join(root, 'tsconfig.build.json'),
    '--outDir',
    join(app, 'dist'),
    '--tsBuildInfoFile',
    join(work, 'tsbuildinfo'),
  ],
  { stdio: 'inherit' },
);
// The dashboard's page files are not TypeScript: tsc leaves them out.
copyStatic(join(app, 'dist'));

if (testMigration) {
  const holder = readdirSync(join(app, 'dist'), { recursive: true })
    .map((name) => join(app, 'dist', String(name)))
    .find((file) => file.endsWith('.js') && /^export const MIGRATIONS\b/m.test(readFileSync(file, 'utf8')));
  if (!holder) die('PXE_PILOT_DEB_TEST_MIGRATION: no compiled module exports MIGRATIONS');
  step(`TEST BUILD: one extra migration appended to ${relative(app, holder)}`);
  const extra = `\n// Test build only (PXE_PILOT_DEB_TEST_MIGRATION).\nMIGRATIONS.push({ version: Math.max(...MIGRATIONS.map((m) => m.version)) + 1, sql: ${JSON.stringify(testMigration)} });\n`;
  writeFileSync(holder, readFileSync(holder, 'utf8') + extra);
}

// agent/init, agent/lldp.awk, agent/deploy and agent/wipe: the inspection agent's /init, its LLDP decoder, its disk image
// writer and its release wipe, which `pxe-pilot agent build` puts into its initramfs.
for (const file of ['package.json', 'package-lock.json', 'bin/pxe-pilot.mjs', 'agent/init', 'agent/lldp.awk', 'agent/deploy', 'agent/wipe']) {
  mkdirSync(dirname(join(app, file)), { recursive: true });
  copyFileSync(join(root, file), join(app, file));
}

// ---- production node_modules ----
step('production node_modules (npm ci --omit=dev)');
run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], {
  cwd: app,
  env,
  stdio: ['ignore', 'ignore', 'inherit'],
});
// Scripts were skipped (no compiler, no download): the native modules come from the checkout's
// `npm ci`, after checking they are the same version the lockfile asks for.
const sqliteVersion = (dir) => JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')).version;
if (sqliteVersion(root) !== sqliteVersion(app))
  die(`node_modules/better-sqlite3 is ${sqliteVersion(root)}, the lockfile says ${sqliteVersion(app)}: run 'npm ci'`);
const sqliteDir = join(app, 'node_modules/better-sqlite3');
// Its C sources and build tree are only for compiling; the loader needs build/Release/*.node.
for (const dir of ['deps', 'src', 'build', 'binding.gyp']) rmSync(join(sqliteDir, dir), { recursive: true, force: true });
rmSync(join(app, 'node_modules/.package-lock.json'), { force: true });
// What npm packs for development (dotfiles: lint and VCS settings, .bin links; the tests,
// benchmarks and docs folders at a module's top; HTML and Markdown docs) is never loaded at
// run time. License files stay.
const devOnlyFolder = new Set(['test', 'tests', '__tests__', 'benchmarks', 'benchmark', 'bench', 'docs', 'example', 'examples']);
for (const path of walk(join(app, 'node_modules'))) {
  if (!existsSync(path)) continue;
  const rel = relative(join(app, 'node_modules'), path).split('/');
  const name = rel[rel.length - 1];
  const depthInModule = rel.length - (rel[0].startsWith('@') ? 2 : 1);
  const devOnly =
    name.startsWith('.') ||
    (depthInModule === 1 && devOnlyFolder.has(name) && lstatSync(path).isDirectory()) ||
    (/\.(md|markdown|html)$/i.test(name) && !/^licen[cs]e/i.test(name));
  if (devOnly) rmSync(path, { recursive: true, force: true });
}
rmSync(join(app, 'package-lock.json'));
const installNative = (from, to) => {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  // As dh_strip does: no symbols or build notes, so only the code decides the bytes.
  run('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', to]);
};
installNative(natives.udp, join(app, 'build/Release/udp_device.node'));
installNative(natives.fileSend, join(app, 'build/Release/file_send.node'));
installNative(natives.sqlite, join(sqliteDir, 'build/Release/better_sqlite3.node'));

// ---- system integration ----
mkdirSync(join(pkg, 'usr/bin'), { recursive: true });
symlinkSync('../lib/pxe-pilot/bin/pxe-pilot.mjs', join(pkg, 'usr/bin/pxe-pilot'));

mkdirSync(dirname(join(pkg, CONFFILE)), { recursive: true });
copyFileSync(join(root, 'etc/pxe-pilot.ini'), join(pkg, CONFFILE));

// The repository's unit is for a from-source install in /opt/pxe-pilot; the package lives in
// /usr/lib/pxe-pilot (Debian keeps /opt for the local administrator).
const unit = readFileSync(join(root, 'systemd/pxe-pilot.service'), 'utf8')
  .replace(/^Documentation=.*$/m, 'Documentation=man:pxe-pilot(8) file:///usr/share/doc/pxe-pilot/install.md')
  .replaceAll('/opt/pxe-pilot', `/${APP}`);
mkdirSync(join(pkg, 'lib/systemd/system'), { recursive: true });
writeFileSync(join(pkg, 'lib/systemd/system/pxe-pilot.service'), unit);

// ---- documentation ----
const doc = join(pkg, 'usr/share/doc/pxe-pilot');
mkdirSync(doc, { recursive: true });
copyFileSync(join(root, 'debian/copyright'), join(doc, 'copyright'));
copyFileSync(join(root, 'README.md'), join(doc, 'README.md'));
for (const name of readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md'))) copyFileSync(join(root, 'docs', name), join(doc, name));
const date = run('date', ['-R', '-u', '-d', `@${epoch}`], { env }).trim();
writeFileSync(
  join(doc, 'changelog'),
  `pxe-pilot (${version}) unstable; urgency=medium\n\n  * Release ${version}; see /usr/share/doc/pxe-pilot/README.md.\n\n -- ${/^Maintainer: (.*)$/m.exec(readFileSync(join(root, 'debian/control.in'), 'utf8'))[1]}  ${date}\n`,
);

step('man page (help2man)');
const man = join(pkg, 'usr/share/man/man8');
mkdirSync(man, { recursive: true });
writeFileSync(
  join(man, 'pxe-pilot.8'),
  run(
    'help2man',
    [
      '--section=8',
      '--no-info',
      '--no-discard-stderr',
      `--include=${join(root, 'debian/pxe-pilot.h2m')}`,
      '--name=network-boot appliance: DHCP, ProxyDHCP, TFTP and HTTP',
      join(app, 'bin/pxe-pilot.mjs'),
    ],
    { env },
  ),
);

const overrides = join(pkg, 'usr/share/lintian/overrides');
mkdirSync(overrides, { recursive: true });
copyFileSync(join(root, 'debian/pxe-pilot.lintian-overrides'), join(overrides, 'pxe-pilot'));

// ---- permissions and compression, as dh_fixperms and dh_compress would ----
// Scripts (#!) are executable, as their modules ship them; everything else is not.
const isScript = (path) => {
  const head = Buffer.alloc(2);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString() === '#!';
  } finally {
    closeSync(fd);
  }
};
for (const path of walk(pkg)) {
  const st = lstatSync(path);
  if (st.isSymbolicLink()) continue;
  chmodSync(path, st.isDirectory() || isScript(path) ? 0o755 : 0o644);
}
const compress = (file) => run('gzip', ['-9', '--no-name', file]);
compress(join(doc, 'changelog'));
compress(join(man, 'pxe-pilot.8'));
for (const name of readdirSync(doc).filter((n) => n.endsWith('.md'))) if (lstatSync(join(doc, name)).size > 4096) compress(join(doc, name));

// ---- DEBIAN/ ----
const control = join(pkg, 'DEBIAN');
mkdirSync(control);
const files = walk(pkg).filter((p) => !p.startsWith(control + '/') && lstatSync(p).isFile());
writeFileSync(join(control, 'conffiles'), `/${CONFFILE}\n`);
writeFileSync(
  join(control, 'md5sums'),
  files
    .filter((p) => relative(pkg, p) !== CONFFILE)
    .map((p) => `${createHash('md5').update(readFileSync(p)).digest('hex')}  ${relative(pkg, p)}\n`)
    .join(''),
);

// dpkg-shlibdeps wants a source package's debian/control; a minimal one in the work folder.

writeFileSync(join(work, 'debian/control'), 'Source: pxe-pilot\n\nPackage: pxe-pilot\nArchitecture: any\n');
const shlibs = run(
  'dpkg-shlibdeps',
  ['-O', '--warnings=0', ...files.filter((p) => p.endsWith('.node')).flatMap((p) => ['-e', relative(work, p)])],
  // Its one warning (binaries not installed yet) is about the source-package flow we skip.
  { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] },
)
  .trim()
  .replace(/^shlibs:Depends=/, '');
// What `du --apparent-size` would say, in KiB, as dpkg-gencontrol counts it.
const installedKiB = walk(pkg)
  .filter((p) => !p.startsWith(control))
  .reduce((sum, p) => {
    const st = lstatSync(p);
    return sum + (st.isFile() ? Math.ceil(st.size / 1024) : 1);
  }, 0);
const shippedMd5 = createHash('md5')
  .update(readFileSync(join(pkg, CONFFILE)))
  .digest('hex');
const fill = (text) =>
  text
    .replaceAll('@VERSION@', version)
    .replaceAll('@ARCH@', arch)
    .replaceAll('@INSTALLED_SIZE@', String(installedKiB))
    .replaceAll('@NODE_NEXT_MAJOR@', String(nodeMajor + 1))
    .replaceAll('@SHLIBS@', shlibs)
    .replaceAll('@SHIPPED_PROFILE_MD5@', shippedMd5)
    // prerm and postrm share one shell function (debian/account-processes.sh).
    .replaceAll('@ACCOUNT_PROCESSES@', readFileSync(join(root, 'debian/account-processes.sh'), 'utf8').trimEnd());
writeFileSync(join(control, 'control'), fill(readFileSync(join(root, 'debian/control.in'), 'utf8')));
for (const script of ['postinst', 'prerm', 'postrm']) {
  writeFileSync(join(control, script), fill(readFileSync(join(root, 'debian', script), 'utf8')));
  chmodSync(join(control, script), 0o755);
}
for (const name of ['control', 'conffiles', 'md5sums']) chmodSync(join(control, name), 0o644);
chmodSync(control, 0o755);
const unfilled = walk(control).find((p) => /@[A-Z_]+@/.test(readFileSync(p, 'utf8')));
if (unfilled) die(`${relative(pkg, unfilled)} still has a @PLACEHOLDER@`);

// Every mtime is the epoch, so the archive does not depend on when this ran.
run('find', [pkg, '-exec', 'touch', '--no-dereference', `--date=@${epoch}`, '{}', '+']);

// ---- the archive ----
mkdirSync(outDir, { recursive: true });
const partial = join(outDir, `.${debName}.partial`);
step(`dpkg-deb --build → ${join(outDir, debName)}`);
// One compressor thread: the xz stream does not depend on how many cores the builder has.
run('dpkg-deb', ['--root-owner-group', '-Zxz', '--threads-max=1', '--build', pkg, partial], { env, stdio: ['ignore', 'ignore', 'inherit'] });
renameSync(partial, join(outDir, debName));
process.stdout.write(join(outDir, debName) + '\n');
