#!/usr/bin/env node
// `npm run oci [-- --out DIR] [--deb FILE]`: an OCI image archive of pxe-pilot, made from the
// project's .deb on a Debian 12 base, with no registry and no root (mmdebstrap --mode=unshare:
// a user namespace, so an unprivileged user needs ranges in /etc/subuid and /etc/subgid).
//
// 1. the .deb (scripts/build-deb.mjs, unless --deb names one);
// 2. Node.js as a .deb: the exact version installed here, which the .deb's native modules were
//    built against, packed from the installed files (node alone: no npm, headers or python3,
//    which only node-gyp needs), cached in tmp/oci-cache/ by version;
// 3. the base: Debian 12 minbase plus every Debian package the two .debs depend on or pxe-pilot
//    recommends, by mmdebstrap, cached in tmp/oci-cache/ under a key of that list, the suite,
//    the mirrors and the dpkg filters (a second build skips the download and the unpacking);
// 4. the image's file system: the base with the two .debs installed by dpkg (so the postinst
//    makes the pxe-pilot account and its state folder, as on a host), by mmdebstrap again;
// 5. the OCI layout (one gzip layer, config, manifest, index), written here and tarred:
//    `podman load -i` or `podman run oci-archive:FILE` read it.
// The archive's path is the last line on stdout; progress goes to stderr.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
const SUITE = 'bookworm';
const MIRRORS = (
  process.env.PXE_PILOT_OCI_MIRRORS ??
  'deb http://deb.debian.org/debian bookworm main|deb http://deb.debian.org/debian bookworm-updates main|deb http://deb.debian.org/debian-security bookworm-security main'
).split('|');
// Documentation and translations are never read in a container; copyright files stay.
const DPKG_FILTERS = [
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/lintian/*',
];
const STATE = '/var/lib/pxe-pilot';
const PROFILE = '/etc/pxe-pilot/pxe-pilot.ini';

function die(message) {
  process.stderr.write(`build-oci: ${message}\n`);
  process.exit(2);
}

const started = Date.now();
function step(message) {
  process.stderr.write(`build-oci: [${((Date.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
}

function run(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options });
}

function flag(name) {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const value = process.argv[i + 1];
  if (!value || value.startsWith('--')) die(`${name} needs a value`);
  return value;
}

const outDir = resolve(flag('--out') ?? root);
const givenDeb = flag('--deb');
const tools = { mmdebstrap: 'mmdebstrap', mmtarfilter: 'mmdebstrap', 'dpkg-deb': 'dpkg', tar: 'tar', 'apt-get': 'apt' };
for (const [tool, pkg] of Object.entries(tools)) {
  try {
    execFileSync('sh', ['-c', 'command -v "$0"', tool], { stdio: 'ignore' });
  } catch {
    die(`${tool} is missing: apt-get install ${pkg}`);
  }
}

let epoch = process.env.SOURCE_DATE_EPOCH;
if (!epoch) {
  try {
    epoch = run('git', ['-C', root, 'log', '-1', '--format=%ct']).trim();
  } catch {
    die('set SOURCE_DATE_EPOCH (no git history to take the time of the last commit from)');
  }
}
const env = { ...process.env, SOURCE_DATE_EPOCH: epoch, LC_ALL: 'C.UTF-8', TZ: 'UTC' };
const arch = run('dpkg', ['--print-architecture']).trim();

const work = mkdtempSync(join(tmpdir(), 'pxe-pilot-oci-'));
const cleanup = () => rmSync(work, { recursive: true, force: true });
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

// ---- 1. the .deb ----
let deb = givenDeb ? resolve(givenDeb) : '';
if (deb) {
  if (!existsSync(deb)) die(`--deb ${givenDeb}: no such file`);
  step(`the package: ${deb}`);
} else {
  step('the package (scripts/build-deb.mjs)');
  const printed = run(process.execPath, [join(root, 'scripts/build-deb.mjs'), '--out', work], { env });
  deb = printed.trim().split('\n').pop();
}
const field = (file, name) => run('dpkg-deb', ['--field', file, name]).trim();
const version = field(deb, 'Version');

// ---- 2. Node.js ----
// The installed package's own files, less npm, corepack, headers and docs (pxe-pilot needs node
// alone), and less its python3 dependency (node-gyp's): cached by version, as building it is
// the slow part of a second run otherwise.
const cacheDir = join(root, 'tmp/oci-cache');
mkdirSync(cacheDir, { recursive: true });
const nodeVersion = run('dpkg-query', ['--show', '--showformat=${Version}', 'nodejs']).trim();
const nodeDeb = join(cacheDir, `nodejs_${nodeVersion.replace(/[^A-Za-z0-9.+~-]/g, '_')}_${arch}+runtime.deb`);
if (existsSync(nodeDeb)) step(`Node.js ${nodeVersion} from the cache: ${nodeDeb}`);
else {
  step(`Node.js ${nodeVersion} as installed here (the version the native modules were built for), node alone`);
  const leftOut = /^\/usr\/(lib\/node_modules\/|include\/|share\/(doc|man|systemtap)\/|bin\/(npm|npx|corepack)$)/;
  const files = run('dpkg-query', ['--listfiles', 'nodejs'])
    .split('\n')
    .filter((path) => path.startsWith('/usr/') && !leftOut.test(path))
    .filter((path) => {
      try {
        return !lstatSync(path).isDirectory();
      } catch {
        return false;
      }
    });
  const tree = join(work, 'nodejs');
  mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
  execFileSync('sh', ['-c', 'tar -C / --no-recursion -cf - -T - | tar -C "$0" -xf -', tree], {
    input: files.map((f) => f.slice(1)).join('\n'),
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const status = (name) => run('dpkg-query', ['--show', `--showformat=\${${name}}`, 'nodejs']).trim();
  const depends = status('Depends')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d && !/^python3\b/.test(d))
    .join(', ');
  writeFileSync(
    join(tree, 'DEBIAN/control'),
    [
      'Package: nodejs',
      `Version: ${nodeVersion}`,
      `Architecture: ${arch}`,
      `Maintainer: ${status('Maintainer')}`,
      `Depends: ${depends}`,
      'Description: Node.js runtime (node alone), as installed where pxe-pilot was built',
      ' Made by pxe-pilot scripts/build-oci.mjs from the installed nodejs package.',
      '',
    ].join('\n'),
  );
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', tree, `${nodeDeb}.partial`], { stdio: ['ignore', 'ignore', 'inherit'] });
  renameSync(`${nodeDeb}.partial`, nodeDeb);
}

// ---- 3. the base, cached ----
const names = (list) =>
  list
    .split(',')
    .map(
      (d) =>
        d
          .split('|')[0]
          .trim()
          .split(/[\s(:]/)[0],
    )
    .filter(Boolean);
const basePackages = [...new Set([...names(field(deb, 'Depends')), ...names(field(deb, 'Recommends')), ...names(field(nodeDeb, 'Depends'))])]
  .filter((name) => name !== 'nodejs')
  .sort();
const key = createHash('sha256')
  .update(JSON.stringify({ SUITE, MIRRORS, DPKG_FILTERS, arch, basePackages, variant: 'minbase' }))
  .digest('hex')
  .slice(0, 16);
const base = join(cacheDir, `base-${SUITE}-${arch}-${key}.tar`);
const dpkgOptions = DPKG_FILTERS.map((f) => `--dpkgopt=${f}`);
if (existsSync(base)) step(`the base from the cache: ${base}`);
else {
  step(`the base: Debian ${SUITE} minbase + ${basePackages.join(' ')} (mmdebstrap; a few minutes, cached as ${basename(base)})`);
  // mmdebstrap picks its output format by the name's extension: keep .tar.
  const partial = join(cacheDir, `partial-${basename(base)}`);
  run(
    'mmdebstrap',
    ['--mode=unshare', '--format=tar', '--variant=minbase', `--include=${basePackages.join(',')}`, ...dpkgOptions, SUITE, partial, ...MIRRORS],
    {
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  renameSync(partial, base);
}

// ---- 4. the image's file system ----
step('the image: the base + Node.js + pxe-pilot, installed by dpkg (mmdebstrap --variant=custom)');
const rootfs = join(work, 'rootfs.tar');
const quoted = (path) => `'${path.replaceAll("'", "'\\''")}'`;
run(
  'mmdebstrap',
  [
    '--mode=unshare',
    '--format=tar',
    '--variant=custom',
    '--skip=update,cleanup/apt/lists',
    `--setup-hook=mmtarfilter '--path-exclude=/dev/*' < ${quoted(base)} | tar -C "$1" -x`,
    `--customize-hook=copy-in ${quoted(nodeDeb)} ${quoted(deb)} /tmp`,
    `--customize-hook=chroot "$1" dpkg --install /tmp/${basename(nodeDeb)} /tmp/${basename(deb)}`,
    // The postinst migrated an empty store: leave the state folder empty for the volume.
    `--customize-hook=rm -f "$1"/tmp/*.deb "$1"${STATE}/pxe-pilot.sqlite*`,
    `--customize-hook=chroot "$1" sh -c 'test "$(stat -c %U ${STATE})" = pxe-pilot'`,
    SUITE,
    rootfs,
    ...MIRRORS,
  ],
  { env, stdio: ['ignore', 'inherit', 'inherit'] },
);

// ---- 5. the OCI layout ----
step('the OCI layout (one gzip layer)');
const layout = join(work, 'layout');
const blobs = join(layout, 'blobs/sha256');
mkdirSync(blobs, { recursive: true });

/** Passes bytes through while hashing them and counting them. */
function hashing() {
  const hash = createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk, _, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, result: () => ({ digest: `sha256:${hash.digest('hex')}`, size }) };
}

// Device nodes in the layer would need root to unpack; the runtime provides /dev.
const filter = spawn('mmtarfilter', ['--path-exclude=/dev/*'], { stdio: ['pipe', 'pipe', 'inherit'] });
const layerTmp = join(blobs, 'layer.partial');
const uncompressed = hashing();
const compressed = hashing();
const filtered = new Promise((resolveExit, reject) =>
  filter.once('exit', (code) => (code === 0 ? resolveExit() : reject(new Error(`mmtarfilter exited with ${code}`)))),
);
await Promise.all([
  pipeline(createReadStream(rootfs), filter.stdin),
  pipeline(filter.stdout, uncompressed.stream, createGzip({ level: 6 }), compressed.stream, createWriteStream(layerTmp)),
  filtered,
]);
const unpacked = uncompressed.result();
const diffId = unpacked.digest;
const layer = compressed.result();
renameSync(layerTmp, join(blobs, layer.digest.slice(7)));

function blob(object, mediaType) {
  const bytes = Buffer.from(JSON.stringify(object));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(join(blobs, digest.slice(7)), bytes);
  return { mediaType, digest, size: bytes.length };
}

const created = new Date(Number(epoch) * 1000).toISOString();
const config = blob(
  {
    created,
    architecture: arch,
    os: 'linux',
    config: {
      // Started as root, pxe-pilot binds its ports (67, 69, 80, 443 are privileged), then runs
      // as the pxe-pilot account with no capabilities ([server] user, set here by a flag so a
      // profile mounted from the host need not say it).
      Entrypoint: ['/usr/bin/pxe-pilot'],
      Cmd: ['run', '--config', PROFILE, '--set', 'server.user=pxe-pilot'],
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      WorkingDir: STATE,
      Volumes: { [STATE]: {} },
      ExposedPorts: { '67/udp': {}, '69/udp': {}, '4011/udp': {}, '80/tcp': {}, '443/tcp': {} },
      StopSignal: 'SIGTERM',
      Labels: {
        'org.opencontainers.image.title': 'pxe-pilot',
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.base.name': `debian:${SUITE} (mmdebstrap minbase)`,
      },
    },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: `scripts/build-oci.mjs: mmdebstrap ${SUITE} minbase + nodejs ${nodeVersion} + pxe-pilot ${version}` }],
  },
  'application/vnd.oci.image.config.v1+json',
);
const manifest = blob(
  {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config,
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
  },
  'application/vnd.oci.image.manifest.v1+json',
);
const tag = version.replace(/[^A-Za-z0-9_.-]/g, '_');
writeFileSync(
  join(layout, 'index.json'),
  JSON.stringify({
    schemaVersion: 2,
    // A full reference, so that `podman load` names the image localhost/pxe-pilot:<version>.
    manifests: [{ ...manifest, annotations: { 'org.opencontainers.image.ref.name': `localhost/pxe-pilot:${tag}` } }],
  }),
);
writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

mkdirSync(outDir, { recursive: true });
const archive = join(outDir, `pxe-pilot_${version}_${arch}.oci.tar`);
run(
  'tar',
  [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    `--mtime=@${epoch}`,
    '-C',
    layout,
    '-cf',
    `${archive}.partial`,
    'oci-layout',
    'index.json',
    'blobs',
  ],
  { env },
);
renameSync(`${archive}.partial`, archive);
const mb = (bytes) => (bytes / 1e6).toFixed(1);
step(`done: ${archive} (${mb(statSync(archive).size)} MB; layer ${mb(unpacked.size)} MB unpacked), image ${manifest.digest}`);
process.stdout.write(`${archive}\n`);
