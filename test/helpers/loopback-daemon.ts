// The real daemon (`src/cli.ts`) on 127.0.0.1 with unprivileged ports and DHCP off: for the
// console's tests (metrics, CLI, event stream, dashboard). No namespace is needed: nothing binds
// 67/68/4011 and nothing is broadcast.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectOutput, waitFor } from './netns.ts';
import { repoRoot } from './standin.ts';
import { cliArgv } from './cli.ts';

export const TOKEN = 'console-test-token-0123456789';

export interface LoopbackDaemon {
  base: string;
  httpPort: number;
  tftpPort: number;
  dir: string;
  configFile: string;
  tftpRoot: string;
  assetsDir: string;
  token: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

export async function startLoopbackDaemon(
  options: { token?: string | null; extraHttp?: string; hosts?: string; env?: NodeJS.ProcessEnv; /** [server] user */ user?: string } = {},
): Promise<LoopbackDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-console-'));
  const tftpRoot = join(dir, 'tftp');
  const assetsDir = join(dir, 'assets');
  mkdirSync(tftpRoot);
  mkdirSync(join(assetsDir, 'proxmox-ve', '9.1-1'), { recursive: true });
  writeFileSync(join(assetsDir, 'proxmox-ve', '9.1-1', 'vmlinuz'), Buffer.alloc(4096, 1));
  writeFileSync(join(assetsDir, 'proxmox-ve', '9.1-1', 'initrd'), Buffer.alloc(8192, 2));
  writeFileSync(join(tftpRoot, 'ipxe.efi'), Buffer.alloc(64 * 1024, 3));
  const httpPort = await freeTcpPort();
  const tftpPort = await freeUdpPort();
  const token = options.token === null ? '' : (options.token ?? TOKEN);
  const configFile = join(dir, 'pxe-pilot.ini');
  writeFileSync(
    configFile,
    [
      '[server]',
      'address = 127.0.0.1',
      `state_dir = ${join(dir, 'state')}`,
      ...(options.user !== undefined ? [`user = ${options.user}`] : []),
      '[http]',
      'bind = 127.0.0.1',
      `port = ${httpPort}`,
      `admin_token = ${token}`,
      options.extraHttp ?? '',
      // Plain HTTP only: HTTPS would take port 443, and TLS has tests of its own (test/http/tls.test.ts).
      '[https]',
      'enabled = false',
      '[tftp]',
      'bind = 127.0.0.1',
      `port = ${tftpPort}`,
      `root = ${tftpRoot}`,
      '[dhcp]',
      'mode = off',
      '[assets]',
      `dir = ${assetsDir}`,
      options.hosts ?? '',
      '',
    ].join('\n'),
  );
  const [node, ...args] = cliArgv(['--config', configFile, '--log-format', 'json']);
  // Not systemd's child even when the tests run under it: root decides its account from [server] user.
  const child = spawn(node!, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, INVOCATION_ID: '', ...options.env } });
  const out = collectOutput(child);
  const base = `http://127.0.0.1:${httpPort}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'the daemon to answer /health',
      async () => {
        if (child.exitCode !== null) throw new Error(`pxe-pilot exited with ${child.exitCode}:\n${out.text()}`);
        try {
          return (await fetch(`${base}/health`)).ok;
        } catch {
          return false;
        }
      },
      20_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, httpPort, tftpPort, dir, configFile, tftpRoot, assetsDir, token, child, output: out.text, stop };
}
