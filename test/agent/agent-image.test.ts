// `pxe-pilot agent build` as an unprivileged user (nobody, with its home, caches and temp files in a
// folder of this test), the image it makes, and that image booted under QEMU: the inventory it
// posts equals the identity QEMU was given, its BMC (OpenIPMI's ipmi_sim, reached in-band through
// QEMU's ipmi-bmc-extern) included, and it does what the server's next step says. QEMU's user-mode
// network is restricted: the guest reaches nothing but the server this test runs on 127.0.0.1,
// through guestfwd (one `busybox nc` per connection).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { spawn, execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  chownSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv } from '../helpers/cli.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { startIpmiSim, type IpmiSim } from '../helpers/ipmi-sim.ts';
import { parseInventory, type Inventory } from '../../src/agent/inventory.ts';
import { IMAGE_LIMIT, INITRD_LIMIT, type AgentContents } from '../../src/agent/build.ts';
import { parseWipeReport } from '../../src/boot/wipe.ts';

const skip = skipUnless([
  'root',
  'runuser',
  'apt-get',
  'dpkg-deb',
  'cpio',
  'depmod',
  'zstd',
  'qemu-system-x86_64',
  '/usr/share/OVMF/OVMF_CODE_4M.fd',
  'busybox',
  'ipmi_sim',
  'ipmitool',
  'mke2fs',
  'debugfs',
  'sfdisk',
]);
const BUILD_TIMEOUT_MS = 10 * 60_000;
const UUID = '12345678-9abc-def0-1122-334455667788';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (killed after `timeoutMs`), output collected. */
function run(argv: string[], options: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A q35 machine with OVMF: its code read-only, its variables in `vars` (a copy of OVMF_VARS_4M.fd). */
function ovmfMachine(vars: string): string[] {
  return ['-machine', 'q35', '-drive', 'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd', '-drive', `if=pflash,format=raw,file=${vars}`];
}
describe('agent image', { skip }, () => {
  let dir = '';
  let assets = '';
  let uid = 0;
  let build: Run;
  let folder = '';

  /** `pxe-pilot <args>` as nobody, with HOME, the cache and TMPDIR in this test's folder. */
  const asNobody = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    run(
      [
        'runuser',
        '-u',
        'nobody',
        '--',
        'env',
        '-i',
        `PATH=${process.env.PATH}`,
        `HOME=${join(dir, 'home')}`,
        `XDG_CACHE_HOME=${join(dir, 'home', '.cache')}`,
        `TMPDIR=${join(dir, 'tmp')}`,
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        ...cliArgv(args),
      ],
      { timeoutMs: BUILD_TIMEOUT_MS },
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pxe-pilot-agent-test-'));
    chmodSync(dir, 0o755);
    uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
    for (const sub of ['home', 'tmp', 'assets']) {
      mkdirSync(join(dir, sub));
      chownSync(join(dir, sub), uid, uid);
    }
    assets = join(dir, 'assets');
    writeFileSync(join(dir, 'pxe-pilot.ini'), `[server]\naddress = 10.9.8.7\nstate_dir = ${join(dir, 'tmp', 'state')}\n[assets]\ndir = ${assets}\n`);
    build = await asNobody(['agent', 'build', '--assets', assets]);
    const m = /^built (\S+) in (\S+)/m.exec(build.stdout);
    if (m) folder = m[2]!;
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('an unprivileged user builds the image; it verifies and is within the size aims', async () => {
    assert.equal(build.code, 0, `agent build failed:\n${build.stderr}\n${build.stdout}`);
    assert.ok(folder.startsWith(join(assets, 'pxe-pilot-agent') + '/'), build.stdout);
    process.stderr.write(`agent build (as nobody):\n${build.stdout}`);
    const files = readdirSync(folder).sort();
    assert.deepEqual(files, ['SHA256SUMS', 'agent.json', 'image.json', 'initrd', 'vmlinuz']);
    const contents = JSON.parse(readFileSync(join(folder, 'agent.json'), 'utf8')) as AgentContents;
    assert.ok(contents.sizes.initrd < INITRD_LIMIT, `initramfs ${contents.sizes.initrd} bytes`);
    assert.ok(contents.sizes.kernel + contents.sizes.initrd < IMAGE_LIMIT, `image ${contents.sizes.kernel + contents.sizes.initrd} bytes`);
    for (const m of ['ahci', 'nvme', 'virtio_blk', 'virtio_net', 'e1000e', 'ice', 'mlx5_core', 'megaraid_sas', 'ipmi_si', 'ipmi_devintf', 'ext4', 'xfs'])
      assert.ok(contents.modules.includes(m), `agent.json lists no ${m}`);
    assert.deepEqual(
      contents.programs.map((p) => p.path),
      ['usr/sbin/dmidecode', 'usr/bin/tcpdump', 'usr/bin/ipmitool', 'usr/bin/zstd', 'usr/bin/openssl', 'usr/sbin/wipefs'],
    );
    // Exactly the libraries the programs load (their DT_NEEDED closure), nothing more.
    for (const lib of ['libc.so.6', 'libpcap.so.0.8', 'libcrypto.so.3', 'libssl.so.3', 'libfreeipmi.so.17', 'libreadline.so.8', 'libzstd.so.1'])
      assert.ok(contents.libraries.includes(lib), `no ${lib}`);
    assert.ok(!contents.libraries.includes('libgcc_s.so.1'), 'libgcc_s is in libc6 Depends but no program loads it');
    // Firmware is named either way: carried, or missing for the inventory to report.
    assert.ok(
      contents.firmware.some((f) => f.module === 'bnx2x'),
      'agent.json says nothing of bnx2x firmware',
    );

    const verify = await asNobody(['assets', 'verify', '--config', join(dir, 'pxe-pilot.ini')]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /^pxe-pilot-agent\/\S+: OK \(3 files\)$/m);
    const ls = await asNobody(['assets', 'ls', '--json', '--config', join(dir, 'pxe-pilot.ini')]);
    const rows = JSON.parse(ls.stdout) as { profile: string; integrity: string }[];
    assert.deepEqual(
      rows.map((r) => r.integrity),
      ['verified'],
    );
  });

  test('the initramfs holds /init, busybox, dmidecode with its libc, the modules and modules.dep', () => {
    assert.ok(folder, 'no image was built');
    const listing = execFileSync('bash', ['-o', 'pipefail', '-c', `zstd -dc '${join(folder, 'initrd')}' | cpio -t --quiet`], {
      encoding: 'utf8',
      maxBuffer: 16 << 20,
    })
      .split('\n')
      .filter(Boolean);
    const names = new Set(listing.map((n) => n.replace(/^\.\//, '')));
    for (const f of [
      'init',
      'bin/busybox',
      'bin/sh',
      'usr/sbin/dmidecode',
      'lib64/ld-linux-x86-64.so.2',
      'lib/x86_64-linux-gnu/libc.so.6',
      'etc/pxe-pilot-agent/contents.json',
      'usr/bin/tcpdump',
      'usr/bin/ipmitool',
      'lib/pxe-pilot/lldp.awk',
      'lib/pxe-pilot-agent/deploy',
      'lib/pxe-pilot-agent/wipe',
      'usr/sbin/wipefs',
      'lib/x86_64-linux-gnu/libblkid.so.1',
      'usr/bin/zstd',
      'lib/x86_64-linux-gnu/libzstd.so.1',
      'usr/bin/openssl',
      'lib/x86_64-linux-gnu/libssl.so.3',
      'lib/x86_64-linux-gnu/libpcap.so.0.8',
      'lib/x86_64-linux-gnu/libfreeipmi.so.17',
    ])
      assert.ok(names.has(f), `the initramfs has no ${f}`);
    const release = folder.split('/').at(-1)!;
    assert.ok(names.has(`lib/modules/${release}/modules.dep`), 'no modules.dep');
    for (const ko of [
      'drivers/nvme/host/nvme.ko',
      'drivers/ata/ahci.ko',
      'drivers/net/virtio_net.ko',
      'drivers/scsi/megaraid/megaraid_sas.ko',
      'drivers/char/ipmi/ipmi_si.ko',
      'fs/ext4/ext4.ko',
      'fs/xfs/xfs.ko',
    ])
      assert.ok(names.has(`lib/modules/${release}/kernel/${ko}`), `the initramfs has no ${ko}`);
  });

  test('a package apt does not know is an error that names it, and nothing is added', async () => {
    // An apt with an empty package list: every package is unknown.
    const aptDir = join(dir, 'tmp', 'apt');
    mkdirSync(join(aptDir, 'lists', 'partial'), { recursive: true });
    mkdirSync(join(aptDir, 'cache'), { recursive: true });
    writeFileSync(join(aptDir, 'apt.conf'), `Dir::State::lists "${aptDir}/lists";\nDir::Cache "${aptDir}/cache";\nDir::State::status "/dev/null";\n`);
    chownSync(join(aptDir, 'cache'), uid, uid);
    const before = readdirSync(assets).sort();
    const r = await asNobody(['agent', 'build', '--assets', assets, '--force'], { APT_CONFIG: join(aptDir, 'apt.conf') });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /apt knows no package linux-image-amd64 for amd64/);
    assert.deepEqual(readdirSync(assets).sort(), before);
    assert.deepEqual(readdirSync(join(assets, 'pxe-pilot-agent')), [folder.split('/').at(-1)]);
  });

  test('a rebuild with --force replaces the image with the same initrd, byte for byte', async () => {
    assert.ok(folder, 'no image was built');
    const digest = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
    const first = digest(join(folder, 'initrd'));
    const again = await asNobody(['agent', 'build', '--assets', assets]);
    assert.equal(again.code, 2, 'a second build without --force must be refused');
    assert.match(again.stderr, /already exists/);
    const forced = await asNobody(['agent', 'build', '--assets', assets, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(digest(join(folder, 'initrd')), first);
    assert.deepEqual(readdirSync(join(assets, 'pxe-pilot-agent')), [folder.split('/').at(-1)], 'no partial or old folder is left');
    const verify = await asNobody(['assets', 'verify', '--config', join(dir, 'pxe-pilot.ini')]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });

  interface Request {
    method: string;
    url: string;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
    at: number;
  }

  /**
   * Boots the image under QEMU (TCG, direct kernel boot) with a known identity and a BMC, against
   * a server that stores the inventory (201) and answers GET /agent/<mac>/next with `nexts` in
   * turn; returns every request and QEMU's output.
   */
  async function bootAgent(firmware: 'seabios' | 'ovmf', options: { nexts: string[]; append?: string; bmc?: IpmiSim }) {
    assert.ok(folder, 'no image was built');
    const received: Request[] = [];
    const nexts = [...options.nexts];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
        if (req.method === 'POST') res.writeHead(201, { 'content-type': 'application/json' }).end('{"stored":true,"changes":[]}');
        else {
          const next = nexts.shift() ?? 'poweroff';
          // 'drop': the server is gone; the connection closes without an answer.
          if (next === 'drop') return void req.socket.destroy();
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ next, reason: `the test says ${next}`, pollSeconds: 1 }));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const disk1 = join(dir, 'tmp', 'disk1.img');
    const disk2 = join(dir, 'tmp', 'disk2.img');
    execFileSync('truncate', ['-s', '64M', disk1]);
    execFileSync('truncate', ['-s', '32M', disk2]);
    const vars = join(dir, 'tmp', 'OVMF_VARS.fd');
    const machine = firmware === 'ovmf' ? (copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars), ovmfMachine(vars)) : [];
    const bmc = options.bmc
      ? [
          '-chardev',
          `socket,id=ipmi0,host=127.0.0.1,port=${options.bmc.vmPort},reconnect=10`,
          '-device',
          'ipmi-bmc-extern,id=bmc0,chardev=ipmi0',
          '-device',
          'isa-ipmi-kcs,bmc=bmc0',
        ]
      : [];
    const started = Date.now();
    try {
      const qemu = await run(
        [
          'qemu-system-x86_64',
          ...machine,
          '-m',
          '512',
          '-nographic',
          '-no-reboot',
          '-kernel',
          join(folder, 'vmlinuz'),
          '-initrd',
          join(folder, 'initrd'),
          '-append',
          // no_timer_check: a loaded TCG host can fail the kernel's IO-APIC timer check and panic.
          `console=ttyS0 quiet no_timer_check pxe_pilot.url=http://10.0.2.100:8080/ pxe_pilot.token=tok-123 ${options.append ?? ''}`,
          '-smbios',
          `type=1,manufacturer=Acme Labs,product=Roadrunner-9,serial=RR-0042,uuid=${UUID}`,
          '-drive',
          `file=${disk1},if=none,id=d1,format=raw`,
          '-device',
          'virtio-blk-pci,drive=d1,serial=VIRTSER1',
          '-drive',
          `file=${disk2},if=none,id=d2,format=raw`,
          '-device',
          'nvme,drive=d2,serial=NVMESER2',
          // restrict=on: the guest reaches nothing outside but the forwarded server.
          '-netdev',
          `user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8080-cmd:busybox nc 127.0.0.1 ${port}`,
          '-device',
          'virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:01',
          '-netdev',
          'user,id=n1,restrict=on,net=10.0.3.0/24',
          '-device',
          'e1000,netdev=n1,mac=52:54:00:aa:bb:02',
          ...bmc,
        ],
        { timeoutMs: 5 * 60_000 },
      );
      const log = qemu.stdout + qemu.stderr;
      const posts = received.filter((r) => r.method === 'POST');
      assert.equal(posts.length, 1, `expected one post, got ${posts.length}; QEMU said:\n${log.slice(-4000)}`);
      const post = posts[0]!;
      const timings = /timings \(ms after \/init started, itself (\d+) ms after the kernel\): .*collected=(\d+) posted=(\d+)/.exec(log);
      const phases = log.split('\n').filter((l) => l.includes('pxe-pilot-agent:'));
      process.stderr.write(
        `agent under QEMU TCG (${firmware}): power-on to inventory received ${((post.at - started) / 1000).toFixed(1)} s; ` +
          `kernel to /init ${timings?.[1] ?? '?'} ms; the agent's own running time to the post ${timings?.[3] ?? '?'} ms\n${phases.join('\n')}\n`,
      );
      return { post, received, log };
    } finally {
      server.close();
    }
  }

  /** The facts QEMU was given, whatever the firmware. */
  function assertIdentity(post: Request): Inventory {
    assert.equal(post.headers.authorization, 'Bearer tok-123');
    assert.match(String(post.headers['content-type']), /^application\/json/);
    const r = parseInventory(post.body);
    assert.ok(r.ok, r.ok ? '' : `${r.field}: ${r.reason}\n${post.body.toString()}`);
    const inv = r.inventory;
    assert.equal(inv.system.vendor, 'Acme Labs');
    assert.equal(inv.system.product, 'Roadrunner-9');
    assert.equal(inv.system.serial, 'RR-0042');
    assert.equal(inv.system.uuid, UUID);
    const disks = inv.disks.map((d) => ({ size: d.sizeBytes, serial: d.serial, transport: d.transport })).sort((a, b) => a.size - b.size);
    assert.deepEqual(disks, [
      { size: 32 << 20, serial: 'NVMESER2', transport: 'nvme' },
      { size: 64 << 20, serial: 'VIRTSER1', transport: 'virtio' },
    ]);
    assert.equal(inv.disks.find((d) => d.transport === 'nvme')?.model, 'QEMU NVMe Ctrl');
    assert.deepEqual(inv.nics.map((n) => [n.mac, n.driver, n.link]).sort(), [
      ['52:54:00:aa:bb:01', 'virtio_net', 'up'],
      ['52:54:00:aa:bb:02', 'e1000', 'up'],
    ]);
    assert.ok(inv.cpus.threads !== null && inv.cpus.threads >= 1);
    assert.ok(inv.memory.totalBytes !== null && inv.memory.totalBytes > 256 << 20);
    assert.equal(
      inv.memory.dimms.reduce((n, d) => n + d.sizeBytes, 0),
      512 << 20,
    );
    assert.deepEqual(inv.missing.drivers, [], 'every QEMU NIC and disk controller has its driver');
    return inv;
  }

  test('booted under QEMU (SeaBIOS, direct kernel boot), the agent posts an inventory equal to what QEMU was given, its BMC too, then waits and powers off as told', async () => {
    const bmc = await startIpmiSim();
    try {
      // The BMC's LAN address, set as an operator would over the network; the agent reads it in-band.
      const lan = (args: string[]) =>
        execFileSync('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(bmc.port), '-U', bmc.user, '-E', '-C', '3', 'lan', 'set', '1', ...args], {
          env: { ...process.env, IPMI_PASSWORD: bmc.password },
          stdio: 'ignore',
        });
      lan(['ipsrc', 'static']);
      lan(['ipaddr', '10.0.9.101']);
      lan(['macaddr', '52:54:00:b3:c0:01']);
      const { post, received, log } = await bootAgent('seabios', { nexts: ['wait', 'poweroff'], bmc });
      const inv = assertIdentity(post);
      assert.deepEqual(inv.boot, { mode: 'bios', secureBoot: false });
      assert.deepEqual(inv.bmc, { ip: '10.0.9.101', mac: '52:54:00:b3:c0:01' });
      // No BOOTIF: the boot NIC is the first with an address; the post and the polls name it.
      const mac = post.url.replace('/inventory/', '');
      assert.ok(['52:54:00:aa:bb:01', '52:54:00:aa:bb:02'].includes(mac), post.url);
      const polls = received.filter((r) => r.method === 'GET');
      assert.deepEqual(
        polls.map((r) => [r.url, r.headers.authorization]),
        [
          [`/agent/${mac}/next`, 'Bearer tok-123'],
          [`/agent/${mac}/next`, 'Bearer tok-123'],
        ],
      );
      assert.ok(polls[1]!.at - polls[0]!.at >= 1000, 'wait: it asked again after pollSeconds');
      assert.match(log, /reboot: Power down/);
    } finally {
      await bmc.stop();
    }
  });

  test('booted under OVMF, it reports UEFI mode and Secure Boot off, posts for the BOOTIF NIC, and reboots as told', async () => {
    const { post, received, log } = await bootAgent('ovmf', { nexts: ['drop', 'reboot'], append: 'BOOTIF=01-52-54-00-AA-BB-02' });
    const inv = assertIdentity(post);
    assert.deepEqual(inv.boot, { mode: 'uefi', secureBoot: false });
    assert.equal(inv.bmc, null, 'no IPMI device, no BMC');
    assert.equal(post.url, '/inventory/52:54:00:aa:bb:02');
    assert.deepEqual(
      received.filter((r) => r.method === 'GET').map((r) => r.url),
      ['/agent/52:54:00:aa:bb:02/next', '/agent/52:54:00:aa:bb:02/next'],
      'a request without an answer is asked again',
    );
    assert.match(log, /reboot: Restarting system/);
  });

  test('a server that stops answering is asked 10 times in a row, then the machine powers off', async () => {
    const { received, log } = await bootAgent('seabios', { nexts: Array<string>(12).fill('drop') });
    assert.equal(received.filter((r) => r.method === 'GET').length, 10);
    assert.match(log, /did not answer \S+ 10 times in a row; powering off/);
    assert.match(log, /reboot: Power down/);
  });

  /** A whole-disk raw image without root: an MBR with one Linux partition at 1 MiB holding an ext4 made with mke2fs -d. */
  /**
   * The agent booted straight from its kernel under OVMF (q35, TCG), with `append` on its kernel
   * line, `disks` (raw files with their -drive and -device options) and one virtio NIC whose only
   * way out is the test's server on 127.0.0.1:`port`, seen by the guest as 10.0.2.100:8080.
   * Returns what QEMU printed once the machine powered off or rebooted.
   */
  async function ovmfDirectBoot(
    work: string,
    options: { append: string; mac: string; port: number; disks: { file: string; drive?: string; device: string }[] },
  ): Promise<string> {
    const vars = join(work, 'OVMF_VARS.fd');
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
    const drives = options.disks.flatMap((d, i) => [
      '-drive',
      `file=${d.file},if=none,id=d${i + 1},format=raw${d.drive ?? ''}`,
      '-device',
      `virtio-blk-pci,drive=d${i + 1},${d.device}`,
    ]);
    const qemu = await run(
      [
        'qemu-system-x86_64',
        ...ovmfMachine(vars),
        '-m',
        '512',
        '-nographic',
        '-no-reboot',
        '-kernel',
        join(folder, 'vmlinuz'),
        '-initrd',
        join(folder, 'initrd'),
        '-append',
        `console=ttyS0 quiet no_timer_check pxe_pilot.url=http://10.0.2.100:8080/ ${options.append}`,
        ...drives,
        '-netdev',
        `user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8080-cmd:busybox nc 127.0.0.1 ${options.port}`,
        '-device',
        `virtio-net-pci,netdev=n0,mac=${options.mac}`,
      ],
      { timeoutMs: 5 * 60_000 },
    );
    return qemu.stdout + qemu.stderr;
  }

  function smallDiskImage(work: string): { raw: Buffer; partStart: number; partBytes: number } {
    const tree = join(work, 'rootfs');
    mkdirSync(join(tree, 'etc'), { recursive: true });
    writeFileSync(join(tree, 'etc', 'os-release'), 'NAME="deploy test"\n');
    const fs = join(work, 'root.ext4');
    const partBytes = 20 << 20;
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', tree, fs, `${partBytes >> 10}`], { stdio: 'ignore' });
    const partStart = 1 << 20;
    const raw = Buffer.alloc(partStart + partBytes + (1 << 20));
    readFileSync(fs).copy(raw, partStart);
    // The partition entry: type 0x83 (Linux), first sector 2048, length in sectors; then the 0x55aa signature.
    const entry = 446;
    raw[entry + 4] = 0x83;
    raw.writeUInt32LE(partStart / 512, entry + 8);
    raw.writeUInt32LE(partBytes / 512, entry + 12);
    raw[510] = 0x55;
    raw[511] = 0xaa;
    return { raw, partStart, partBytes };
  }

  test('in deploy mode under QEMU, it streams the planned .raw.zst onto the disk, writes the cloud-init seed into its ext4 root, reports and reboots', async () => {
    assert.ok(folder, 'no image was built');
    const work = join(dir, 'tmp', 'deploy');
    mkdirSync(work, { recursive: true });
    const image = smallDiskImage(work);
    writeFileSync(join(work, 'disk.raw'), image.raw);
    execFileSync('zstd', ['-q', '-f', join(work, 'disk.raw'), '-o', join(work, 'disk.raw.zst')]);
    const zst = readFileSync(join(work, 'disk.raw.zst'));
    const sha256 = createHash('sha256').update(zst).digest('hex');
    const received: Request[] = [];
    const MAC = '52:54:00:aa:bb:01';
    const seed: Record<string, string> = {
      'meta-data': '{"instance-id": "i-1", "local-hostname": "web1"}\n',
      'user-data': '#cloud-config\nhostname: web1\n',
      'network-config': '{"network": {"version": 2}}\n',
    };
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = req.url ?? '';
        received.push({ method: req.method ?? '', url, headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
        const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (url === '/disk.raw.zst') {
          const from = Number(/^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''))?.[1] ?? NaN);
          if (!Number.isSafeInteger(from) || from > zst.length) return void res.writeHead(416).end();
          res.writeHead(206, { 'content-range': `bytes ${from}-${zst.length - 1}/${zst.length}`, 'content-length': String(zst.length - from) });
          return void res.end(zst.subarray(from));
        }
        if (url === `/agent/${MAC}/deploy`)
          return json(200, {
            url: 'http://10.0.2.100:8080/disk.raw.zst',
            sha256,
            compressedBytes: zst.length,
            sizeBytes: image.raw.length,
            compression: 'zstd',
            device: '/dev/vda',
            reason: 'the test plans /dev/vda',
          });
        const part = /^\/agent\/[^/]+\/seed\/(.+)$/.exec(url)?.[1];
        if (part && seed[part]) return void res.writeHead(200, { 'content-type': 'text/plain' }).end(seed[part]);
        if (url === `/agent/${MAC}/progress`) return json(202, { recorded: true });
        if (req.method === 'POST') return json(201, { stored: true, changes: [] });
        json(404, { error: `no ${url} in this test` });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const disk = join(work, 'target.img');
    execFileSync('truncate', ['-s', '64M', disk]);
    const started = Date.now();
    let log: string;
    try {
      log = await ovmfDirectBoot(work, {
        append: 'pxe_pilot.token=tok-123 BOOTIF=01-52-54-00-aa-bb-01 pxe_pilot.mode=deploy',
        mac: '52:54:00:aa:bb:01',
        port,
        disks: [{ file: disk, device: 'serial=TARGET1' }],
      });
    } finally {
      server.close();
    }
    const phases = log.split('\n').filter((l) => l.includes('pxe-pilot-agent:'));
    process.stderr.write(`agent deploy under QEMU TCG (ovmf): ${((Date.now() - started) / 1000).toFixed(1)} s power-on to reboot\n${phases.join('\n')}\n`);
    const results = received.filter((r) => r.url === `/agent/${MAC}/deploy-result`);
    assert.equal(results.length, 1, `no deploy result; QEMU said:\n${log.slice(-4000)}`);
    const result = JSON.parse(results[0]!.body.toString()) as { ok: boolean; sha256: string; reason: string };
    assert.equal(result.ok, true, result.reason);
    assert.equal(result.sha256, sha256);
    assert.match(result.reason, /written to \/dev\/vda and verified .* cloud-init seed on \/dev\/vda1/);
    assert.equal(results[0]!.headers.authorization, 'Bearer tok-123');
    const phasesPosted = received.filter((r) => r.url === `/agent/${MAC}/progress`).map((r) => (JSON.parse(r.body.toString()) as { phase: string }).phase);
    for (const phase of ['download', 'verify', 'seed', 'reboot']) assert.ok(phasesPosted.includes(phase), `no ${phase} progress in ${phasesPosted.join(', ')}`);
    assert.match(log, /reboot: Restarting system/);
    // The carried openssl ran (with the libraries carried for it), not busybox's sha256sum.
    assert.match(log, /SHA-256 is computed by openssl as it arrives/);
    // The disk holds the image: the partition table as written, and the seed inside its root.
    const written = readFileSync(disk);
    assert.ok(written.subarray(0, 512).equals(image.raw.subarray(0, 512)), 'the partition table is the image’s');
    writeFileSync(join(work, 'part.ext4'), written.subarray(image.partStart, image.partStart + image.partBytes));
    for (const [name, text] of Object.entries(seed)) {
      const cat = execFileSync('debugfs', ['-R', `cat /var/lib/cloud/seed/nocloud/${name}`, join(work, 'part.ext4')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      assert.equal(cat, text, `seed ${name}`);
    }
    assert.equal(
      execFileSync('debugfs', ['-R', 'cat /etc/os-release', join(work, 'part.ext4')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
      'NAME="deploy test"\n',
    );
  });
  test('in wipe mode under QEMU, it posts its inventory, clears both disks (discard where the disk can), reports each and powers off', async () => {
    assert.ok(folder, 'no image was built');
    const work = join(dir, 'tmp', 'wipe');
    mkdirSync(work, { recursive: true });
    const MAC = '52:54:00:aa:bb:02';
    const MiB = 1024 * 1024;
    // Two GPT disks with a marker in their middle: vda can discard (discard=unmap), vdb cannot.
    const disks = { vda: join(work, 'vda.img'), vdb: join(work, 'vdb.img') };
    for (const [name, file] of Object.entries(disks)) {
      writeFileSync(file, Buffer.alloc(0));
      execFileSync('truncate', ['-s', name === 'vda' ? '64M' : '32M', file]);
      execFileSync('sfdisk', ['--quiet', file], { input: 'label: gpt\n,8MiB\n,\n' });
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.from(`marker of ${name}`), 0, undefined, 16 * MiB);
      closeSync(fd);
      const before = readFileSync(file);
      assert.equal(before.subarray(512, 520).toString('latin1'), 'EFI PART', `${name}: GPT header before`);
      assert.equal(before.subarray(before.length - 512, before.length - 504).toString('latin1'), 'EFI PART', `${name}: backup GPT header before`);
    }
    const received: Request[] = [];
    const server: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), at: Date.now() });
        if (req.method === 'POST') return void res.writeHead(201, { 'content-type': 'application/json' }).end('{"stored":true,"changes":[]}');
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such path in this test"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    let log: string;
    try {
      log = await ovmfDirectBoot(work, {
        append: 'pxe_pilot.token=tok-wipe BOOTIF=01-52-54-00-aa-bb-02 pxe_pilot.mode=wipe',
        mac: MAC,
        port,
        disks: [
          { file: disks.vda, drive: ',discard=unmap', device: 'serial=WIPE1' },
          { file: disks.vdb, device: 'serial=WIPE2,discard=off' },
        ],
      });
    } finally {
      server.close();
    }
    const urls = received.map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(urls, [`POST /inventory/${MAC}`, `POST /agent/${MAC}/wipe-result`], `QEMU said:\n${log.slice(-4000)}`);
    const result = received[1]!;
    assert.equal(result.headers.authorization, 'Bearer tok-wipe');
    const report = parseWipeReport(JSON.parse(result.body.toString()) as unknown);
    assert.ok(report.ok, report.ok ? '' : report.problem);
    assert.deepEqual(
      report.report.disks.map((d) => [d.name, d.sizeBytes, d.cleared, d.ok]),
      [
        ['vda', 64 * MiB, 'wipefs+discard', true],
        ['vdb', 32 * MiB, 'wipefs', true],
      ],
    );
    assert.match(log, /reboot: Power down/);
    for (const [name, file] of Object.entries(disks)) {
      const after = readFileSync(file);
      const zero = (b: Buffer): boolean => b.every((x) => x === 0);
      assert.ok(zero(after.subarray(0, 34 * 512)), `${name}: protective MBR, GPT header and entries read back as zeros`);
      assert.ok(zero(after.subarray(after.length - 33 * 512)), `${name}: backup GPT entries and header read back as zeros`);
      const marker = after.subarray(16 * MiB, 16 * MiB + `marker of ${name}`.length).toString('latin1');
      if (name === 'vda') assert.ok(zero(after), 'vda: discarded whole, it reads back as zeros');
      else assert.equal(marker, 'marker of vdb', 'vdb cannot discard: its middle is left');
    }
  });
});
