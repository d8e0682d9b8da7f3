#!/usr/bin/env node
// The CI hygiene gate: a test leaves the machine as it found it, so the next run (or the next
// user of the machine) does not inherit a pxe-pilot account, a package, a state folder, a
// namespace, a mount or a running daemon from this one.
//   node .ci/hygiene.mjs record FILE   what the machine has now (before install-deps and the tests)
//   node .ci/hygiene.mjs check FILE    names everything that is new since the record; exit 1 if any
// PXE_PILOT_HYGIENE_ROOT (default /) prefixes the account files, the state folders and dpkg's
// database, so the gate's own test plants those in a temporary folder instead of on the machine.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const root = process.env.PXE_PILOT_HYGIENE_ROOT || '/';
const ACCOUNT = 'pxe-pilot';
const STATE_FOLDERS = ['var/lib/pxe-pilot', 'etc/pxe-pilot'];
// The programs the tests start (daemons, peers, clients and capture tools), by executable name.
const PROGRAMS = new Set([
  'qemu-system-x86_64',
  'qemu-system-aarch64',
  'dnsmasq',
  'kea-dhcp4',
  'kea-dhcp6',
  'postgres',
  'nginx',
  'in.tftpd',
  'chromium',
  'chrome_crashpad_handler',
  'ipmi_sim',
  'fakebmc',
  'lldpd',
  'tshark',
  'dumpcap',
  'tcpdump',
  'dhcp-helper',
  'dhclient',
  'dhcpcd',
  'udhcpc',
  'busybox',
  'atftp',
  'atftpd',
  'tftp',
  'curl',
  'wrk',
  'prometheus',
  'promtool',
  'openssl',
  'socat',
  'pxe-pilot',
]);
// How long a process found at the check may take to finish exiting (a daemon stopped by the last
// test can still be flushing): it is named only if it is still there after this.
const EXIT_GRACE_MS = 3000;

/** Lines of a file under the root, or none when it is absent. */
function linesOf(path) {
  try {
    return readFileSync(join(root, path), 'utf8').split('\n');
  } catch {
    return [];
  }
}

function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

const hasCommand = (cmd) => run('sh', ['-c', 'command -v "$0"', cmd]) !== null;

/** Each category: key -> how the report names it. */
function accounts() {
  const found = {};
  for (const [file, kind] of [
    ['etc/passwd', 'account'],
    ['etc/group', 'group'],
  ]) {
    for (const line of linesOf(file)) {
      const [name, , id] = line.split(':');
      if (name === ACCOUNT) found[`${kind} ${name}`] = `${kind} ${name} (id ${id}, in ${join(root, file)})`;
    }
  }
  return found;
}

function folders() {
  const found = {};
  for (const folder of STATE_FOLDERS) {
    const path = join(root, folder);
    if (existsSync(path)) found[path] = `folder ${path}`;
  }
  return found;
}

function packages() {
  const out = run('dpkg-query', [`--admindir=${join(root, 'var/lib/dpkg')}`, '-W', '-f=${Status}\t${Version}', ACCOUNT]);
  if (out === null) return {};
  const [status = '', version = ''] = out.split('\t');
  // dpkg also remembers a purged package as "not-installed"; "config-files" still left /etc behind.
  if (/not-installed/.test(status)) return {};
  return { [ACCOUNT]: `package ${ACCOUNT} ${version} (${status})` };
}

function namespaces() {
  const found = {};
  let names = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    /* no namespace was ever named on this machine */
  }
  for (const name of names) found[name] = `network namespace ${name}`;
  return found;
}

const unescapeMount = (field) => field.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));

// Not left by a test: ip(8) makes /run/netns a mount of its own the first time a namespace is
// named and keeps it; the namespaces in it are named as namespaces; systemd mounts binfmt_misc
// on first access.
const isInfrastructure = (point) => point === '/run/netns' || point.startsWith('/run/netns/') || point === '/proc/sys/fs/binfmt_misc';

function mounts() {
  const found = {};
  const seen = new Map();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const point = unescapeMount(left.split(' ')[4] ?? '');
    const [type = '', source = ''] = right.split(' ');
    if (isInfrastructure(point)) continue;
    const what = `${point}\t${type}\t${unescapeMount(source)}`;
    // The same mount stacked twice on one point counts twice.
    const n = (seen.get(what) ?? 0) + 1;
    seen.set(what, n);
    found[`${what}\t${n}`] = `mount ${point} (${type} from ${unescapeMount(source)})`;
  }
  return found;
}

function uidOf(name) {
  for (const line of linesOf('etc/passwd')) {
    const [account, , uid] = line.split(':');
    if (account === name) return uid;
  }
  return null;
}

/**
 * A node process of the tests: the daemon (bin/pxe-pilot.mjs, installed or from a checkout), the
 * test runner, or anything run through tsx (test files, helpers, `src/cli.ts`); not a linter that
 * merely names .ts files.
 */
function isPilotNode(args) {
  return args.some(
    (a) =>
      /(^|\/)pxe-pilot(\.mjs)?$|^\/usr\/lib\/pxe-pilot\//.test(a) ||
      /(^|\/)scripts\/run-test(s|-files)\.mjs$/.test(a) ||
      /^--(import|loader)=tsx$|(^|\/)tsx(\/|$)/.test(a),
  );
}

/** This process and its ancestors (the CI script that runs the check) are never leftovers. */
function ownLine() {
  const mine = new Set();
  let pid = String(process.pid);
  while (pid && pid !== '0' && !mine.has(pid)) {
    mine.add(pid);
    const stat = procStat(pid);
    pid = stat ? stat.ppid : '';
  }
  return mine;
}

function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces; the fields after it are plain.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    return { comm: stat.slice(stat.indexOf('(') + 1, close), state: fields[0], ppid: fields[1], start: fields[19] };
  } catch {
    return null;
  }
}

function processes() {
  const found = {};
  const skip = ownLine();
  const pilotUid = uidOf(ACCOUNT);
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (skip.has(pid)) continue;
    const stat = procStat(pid);
    // Zombies have finished; a kernel thread has no command line.
    if (!stat || stat.state === 'Z') continue;
    let args;
    let exe = '';
    let uid;
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
    } catch {
      continue; // gone meanwhile
    }
    if (args.length === 0) continue;
    try {
      exe = basename(readlinkSync(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
    } catch {
      /* not ours to read */
    }
    const names = [exe, basename(args[0]), basename(args[0].split(' ')[0] ?? '')];
    const started =
      names.some((n) => PROGRAMS.has(n)) ||
      // The kernel keeps 15 characters of the name: qemu-system-x86_64 shows as qemu-system-x86.
      [...PROGRAMS].some((p) => p.slice(0, 15) === stat.comm) ||
      (/^node(js)?$/.test(exe || basename(args[0])) && isPilotNode(args.slice(1))) ||
      (pilotUid !== null && uid === pilotUid);
    if (!started) continue;
    const command = args.join(' ');
    found[`${pid}:${stat.start}`] = `process ${pid} ${command.length > 240 ? `${command.slice(0, 240)}…` : command}`;
  }
  return found;
}

function loops() {
  const found = {};
  let devices;
  try {
    devices = readdirSync('/sys/block').filter((name) => name.startsWith('loop'));
  } catch {
    return found;
  }
  for (const device of devices) {
    let backing;
    try {
      backing = readFileSync(`/sys/block/${device}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue; // not attached
    }
    found[`${device}\t${backing}`] = `loop device /dev/${device} (backing ${backing})`;
  }
  return found;
}

/** Podman's containers and images, or null when podman is not installed. */
function podman() {
  if (!hasCommand('podman')) return null;
  const found = {};
  const containers = run('podman', ['ps', '-a', '--no-trunc', '--format', '{{.ID}}\t{{.Names}}\t{{.Image}}']) ?? '';
  for (const line of containers.split('\n').filter(Boolean)) {
    const [id, name, image] = line.split('\t');
    found[`container ${id}`] = `podman container ${name} (${image}, ${id?.slice(0, 12)})`;
  }
  const images = run('podman', ['images', '-a', '--no-trunc', '--format', '{{.ID}}\t{{.Repository}}:{{.Tag}}']) ?? '';
  for (const line of images.split('\n').filter(Boolean)) {
    const [id, name] = line.split('\t');
    found[`image ${id} ${name}`] = `podman image ${name} (${id?.replace(/^sha256:/, '').slice(0, 12)})`;
  }
  return found;
}

const CATEGORIES = { accounts, folders, packages, namespaces, mounts, processes, loops, podman };

function snapshot() {
  return Object.fromEntries(Object.entries(CATEGORIES).map(([name, take]) => [name, take()]));
}

/** What is in `now` and not in `before`: the report's lines. */
function added(before, now) {
  const lines = [];
  for (const [category, items] of Object.entries(now)) {
    // Podman installed during the run (install-deps): it had nothing before.
    const earlier = before[category] ?? {};
    for (const [key, text] of Object.entries(items ?? {})) if (!(key in earlier)) lines.push(text);
  }
  return lines;
}

async function check(file) {
  let before;
  try {
    before = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    console.error(`hygiene: no record at ${file} (${err.code ?? err.message}): run \`node .ci/hygiene.mjs record\` before the tests`);
    return 2;
  }
  let now = snapshot();
  const deadline = Date.now() + EXIT_GRACE_MS;
  while (Object.keys(now.processes).some((key) => !(key in before.processes)) && Date.now() < deadline) {
    await sleep(200);
    now = { ...now, processes: processes() };
  }
  const left = added(before, now);
  if (left.length === 0) {
    console.log('hygiene: the tests left nothing behind (accounts, packages, state folders, namespaces, mounts, processes, loop devices, podman)');
    return 0;
  }
  console.log(`hygiene: the tests left ${left.length} thing(s) on this machine that were not there before:`);
  for (const line of left) console.log(`  ${line}`);
  return 1;
}

function record(file) {
  const state = snapshot();
  writeFileSync(file, JSON.stringify(state));
  // Already here before the run: not the tests' doing, but a daemon started from a checkout
  // behaves differently on such a machine, so say so.
  const present = [...Object.values(state.accounts), ...Object.values(state.folders), ...Object.values(state.packages)];
  if (present.length > 0) console.log(`hygiene: this machine already has ${present.join('; ')}; the gate names only what the tests add`);
  console.log(
    `hygiene: recorded ${Object.keys(state.namespaces).length} namespace(s), ${Object.keys(state.mounts).length} mount(s), ` +
      `${Object.keys(state.processes).length} process(es) of the kinds the tests start, ${Object.keys(state.loops).length} loop device(s)`,
  );
  return 0;
}

const [verb, file] = process.argv.slice(2);
if ((verb !== 'record' && verb !== 'check') || !file) {
  console.error('usage: node .ci/hygiene.mjs record|check FILE');
  process.exit(2);
}
process.exitCode = verb === 'record' ? record(file) : await check(file);
