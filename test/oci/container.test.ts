// The container image as a user runs it: `npm run oci`, `podman load`, `podman run --network
// host` (inside a lab namespace, so its ports are bound there only) with a profile from
// /etc/pxe-pilot and its state in a volume. podman keeps everything in a private storage root
// under the test's temporary folder, so the host's own podman state is never touched, and every
// container, volume and image the test made goes, also when it fails; so do the folders and
// cgroups podman and the runtime make outside that root (blob cache, runtime state, the
// cgroupfs parent) when they were not there before.
//
// podman runs under `nsenter --net` into the lab's namespace rather than `ip netns exec`: the
// latter mounts a fresh /sys, which hides the cgroup hierarchy the OCI runtime needs. runc, not
// crun: crun refuses a host whose cgroup v1 and v2 hierarchies both hold controllers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetLab, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';

const run = promisify(execFile);
const skip = skipUnless(['root', 'podman', 'runc', 'mmdebstrap', 'nsenter', 'curl']);
/** Made by podman or the runtime outside the private root; removed when the test made them. */
const OUTSIDE = ['/var/lib/containers', '/run/runc', '/run/crun', '/run/containers', '/run/libpod'];
const cgroupParents = (): string[] => {
  try {
    return readdirSync('/sys/fs/cgroup')
      .map((controller) => join('/sys/fs/cgroup', controller, 'libpod_parent'))
      .filter((dir) => existsSync(dir));
  } catch {
    return [];
  }
};
const MAC = '52:54:00:0c:1a:01';

/** Builds the image with the progress on this terminal; the archive's path is the last line. */
function buildImage(out: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/build-oci.mjs', '--out', out], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(stdout.trim().split('\n').pop()!) : reject(new Error(`npm run oci exited with ${code}`))));
  });
}

test(
  'the OCI image answers /health with host networking, runs as pxe-pilot and keeps its state in a volume across a restart',
  { skip, timeout: 40 * 60_000 },
  async () => {
    const work = mkdtempSync(join(tmpdir(), 'pxp-oci-'));
    chmodSync(work, 0o755);
    const tag = `pxpoci${process.pid}`;
    const podman = [
      'podman',
      '--root',
      join(work, 'storage'),
      '--runroot',
      join(work, 'run'),
      '--tmpdir',
      join(work, 'libpod'),
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--runtime',
      'runc',
      '--events-backend',
      'file',
    ];
    const lab = new NetLab('oci');
    const outsideBefore = OUTSIDE.filter((path) => existsSync(path));
    const cgroupsBefore = cgroupParents();
    try {
      const started = Date.now();
      const archive = await buildImage(work);
      process.stderr.write(`oci test: image built in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      const loaded = await run(podman[0]!, [...podman.slice(1), 'load', '--quiet', '--input', archive], { encoding: 'utf8' });
      const image = /Loaded image(?:\(s\))?: *(\S+)/.exec(loaded.stdout)?.[1];
      assert.ok(image, loaded.stdout);

      await lab.addNamespace('host');
      await lab.addNamespace('peer');
      await lab.addVethPair('host', 'eth0', '10.97.0.1/24', 'peer', 'eth0', '10.97.0.2/24');
      // The profile from /etc/pxe-pilot: the shipped one with a menu timeout we can see.
      const etc = join(work, 'etc');
      mkdirSync(etc, { mode: 0o755 });
      writeFileSync(join(etc, 'pxe-pilot.ini'), readFileSync('etc/pxe-pilot.ini', 'utf8').replace(/^menu_timeout = 10$/m, 'menu_timeout = 7'), { mode: 0o644 });
      const podmanIn = async (args: string[]) => {
        const r = await run('nsenter', [`--net=/run/netns/${lab.ns('host')}`, ...podman, ...args], { encoding: 'utf8', timeout: 120_000 });
        return { stdout: r.stdout, stderr: r.stderr };
      };
      // Limits no higher than this process's own: the runtime may not raise them here.
      const start = (name: string) =>
        podmanIn([
          'run',
          '--detach',
          '--name',
          name,
          '--network',
          'host',
          '--ulimit',
          'nofile=4096:4096',
          '--ulimit',
          'nproc=4096:4096',
          '-v',
          `${etc}:/etc/pxe-pilot:ro`,
          '-v',
          `${tag}-state:/var/lib/pxe-pilot`,
          image,
        ]);
      const curl = (path: string) => lab.exec('peer', ['curl', '-s', '--max-time', '5', `http://10.97.0.1${path}`], { allowFail: true });
      const healthy = async () =>
        waitFor('the container to answer /health', async () => (await curl('/health')).stdout.includes('"status":"ok"'), 120_000, 500);

      await podmanIn(['volume', 'create', `${tag}-state`]);
      await start(`${tag}-1`);
      await healthy();
      const health = JSON.parse((await curl('/health')).stdout) as { address: string };
      assert.equal(health.address, '10.97.0.1', "host networking: the lab namespace's address");
      assert.match((await curl(`/boot?mac=${MAC}`)).stdout, /--timeout 7000/, 'the profile comes from /etc/pxe-pilot');

      // The daemon (pid 1) runs as the pxe-pilot account, not root.
      const ids = await podmanIn(['exec', `${tag}-1`, 'sh', '-c', "id -u pxe-pilot; awk '/^Uid:/ { print $2 }' /proc/1/status"]);
      const [account, daemonUid] = ids.stdout.trim().split('\n');
      assert.notEqual(account, '0');
      assert.equal(daemonUid, account, 'the daemon runs as pxe-pilot');
      const explainIn = (name: string) => podmanIn(['exec', '--user', 'pxe-pilot', name, 'pxe-pilot', 'explain', MAC]);
      const before = (await explainIn(`${tag}-1`)).stdout;
      assert.match(before, /boot/i);

      // A new container on the same volume knows the machine and its events.
      await podmanIn(['stop', '--time', '20', `${tag}-1`]);
      assert.equal((await podmanIn(['inspect', '--format', '{{.State.ExitCode}}', `${tag}-1`])).stdout.trim(), '0', 'SIGTERM stops it cleanly');
      await podmanIn(['rm', `${tag}-1`]);
      await start(`${tag}-2`);
      await healthy();
      const after = (await explainIn(`${tag}-2`)).stdout;
      const eventLines = before.split('\n').filter((line) => /^\d\d:\d\d:\d\d /.test(line));
      assert.ok(eventLines.length > 0, before);
      for (const line of eventLines) assert.ok(after.includes(line.trim()), `after the restart, explain still shows: ${line}\n${after}`);
      const owner = await podmanIn(['exec', `${tag}-2`, 'stat', '-c', '%U', '/var/lib/pxe-pilot/pxe-pilot.sqlite']);
      assert.equal(owner.stdout.trim(), 'pxe-pilot');
    } finally {
      // Everything this test made, by name, then the private storage itself.
      for (const args of [
        ['rm', '--force', '--time', '5', `${tag}-1`, `${tag}-2`],
        ['volume', 'rm', '--force', `${tag}-state`],
        ['rmi', '--all', '--force'],
      ])
        await run(podman[0]!, [...podman.slice(1), ...args], { timeout: 60_000 }).catch(() => undefined);
      await lab.destroy();
      // No mount may stay behind under the folder (podman's shm mounts live in the runroot).
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((line) => line.split(' ')[4] ?? '')
        .filter((point) => point.startsWith(work))
        .reverse();
      for (const point of mounts) await run('umount', [point]).catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
      for (const path of OUTSIDE) if (!outsideBefore.includes(path)) rmSync(path, { recursive: true, force: true });
      for (const parent of cgroupParents()) {
        if (cgroupsBefore.includes(parent)) continue;
        // A cgroup folder goes with rmdir, innermost first, once no process is in it.
        for (const dir of readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory())) rmdirSync(join(parent, dir.name));
        rmdirSync(parent);
      }
    }
  },
);
