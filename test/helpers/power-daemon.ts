// The loopback daemon with [power] settings and a credentials folder of its own, and the few
// requests the power tests make. Everything it answers is kept, so a test can grep it all for a
// password.
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoopbackDaemon, type LoopbackDaemon } from './loopback-daemon.ts';
import { cliArgv } from './cli.ts';
import { repoRoot } from './standin.ts';

export interface PowerDaemon {
  daemon: LoopbackDaemon;
  credentialsDir: string;
  /** Writes a credentials file (mode 600 unless told). */
  credentials: (name: string, username: string, password: string, mode?: number) => void;
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; json: Record<string, unknown>; text: string }>;
  /** `pxe-pilot <args>` against this daemon. */
  cli: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Every answer the daemon gave so far, as text, plus its log and the event log and /metrics now. */
  everythingShown: (macs: string[]) => Promise<string>;
  stop: () => Promise<void>;
}

/** The account a daemon started as root runs as, when it exists. */
function daemonAccount(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  try {
    return { uid: Number(execFileSync('id', ['-u', 'pxe-pilot']).toString()), gid: Number(execFileSync('id', ['-g', 'pxe-pilot']).toString()) };
  } catch {
    return null;
  }
}

export async function startPowerDaemon(options: {
  power: string[];
  hosts: string;
  credentials?: [name: string, username: string, password: string][];
}): Promise<PowerDaemon> {
  const credentialsDir = mkdtempSync(join(tmpdir(), 'pxe-power-bmc-'));
  // Started as root, the daemon switches to the pxe-pilot account after binding: as on a real
  // appliance (docs/power.md), that account owns the credentials.
  const owner = daemonAccount();
  if (owner) chownSync(credentialsDir, owner.uid, owner.gid);
  const credentials = (name: string, username: string, password: string, mode = 0o600): void => {
    const file = join(credentialsDir, name);
    writeFileSync(file, `username = ${username}\npassword = ${password}\n`, { mode });
    chmodSync(file, mode);
    if (owner) chownSync(file, owner.uid, owner.gid);
  };
  for (const [name, user, password] of options.credentials ?? []) credentials(name, user, password);
  let daemon: LoopbackDaemon;
  try {
    daemon = await startLoopbackDaemon({
      hosts: ['[power]', `credentials_dir = ${credentialsDir}`, ...options.power, options.hosts].join('\n'),
    });
  } catch (err) {
    rmSync(credentialsDir, { recursive: true, force: true });
    throw err;
  }
  const shown: string[] = [];
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${daemon.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${daemon.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    shown.push(text);
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* text answer */
    }
    return { status: res.status, json, text };
  };
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const [node, ...rest] = cliArgv([...args, '--url', daemon.base]);
      execFile(node!, rest, { cwd: repoRoot, env: { ...process.env, PXE_PILOT_TOKEN: daemon.token } }, (err, stdout, stderr) => {
        shown.push(stdout, stderr);
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  const everythingShown = async (macs: string[]) => {
    const parts = [...shown, daemon.output()];
    parts.push((await api('GET', '/events?limit=10000')).text, (await api('GET', '/metrics')).text);
    for (const mac of macs) parts.push((await api('GET', `/nodes/${mac}/explain`)).text, (await api('GET', `/nodes/${mac}`)).text);
    return parts.join('\n');
  };
  return {
    daemon,
    credentialsDir,
    credentials,
    api,
    cli,
    everythingShown,
    stop: async () => {
      await daemon.stop();
      rmSync(credentialsDir, { recursive: true, force: true });
    },
  };
}
