// Network namespaces the tests create, wire up, and always remove: every packet a DHCP
// test sends stays inside them. Links are created directly inside the namespaces, so the
// host's own interfaces are never touched.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

const liveLabs = new Set<NetLab>();
process.on('exit', () => {
  for (const lab of liveLabs) lab.destroySync();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const lab of liveLabs) lab.destroySync();
    process.exit(130);
  });
}

let counter = 0;

export class NetLab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();

  constructor(tag = 'lab') {
    counter += 1;
    this.prefix = `pxp${process.pid}${counter}${tag}`.slice(0, 20);
    liveLabs.add(this);
  }

  /** Full name of a namespace of this lab. */
  ns(name: string): string {
    return `${this.prefix}-${name}`;
  }

  async addNamespace(name: string): Promise<string> {
    const full = this.ns(name);
    await run('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    await this.exec(name, ['ip', 'link', 'set', 'lo', 'up']);
    return full;
  }

  /** A veth pair between two namespaces of this lab, each end optionally addressed (CIDR) and up. */
  async addVethPair(nsA: string, ifA: string, cidrA: string | null, nsB: string, ifB: string, cidrB: string | null): Promise<void> {
    await run('ip', ['link', 'add', ifA, 'netns', this.ns(nsA), 'type', 'veth', 'peer', 'name', ifB, 'netns', this.ns(nsB)]);
    await this.upWithAddress(nsA, ifA, cidrA);
    await this.upWithAddress(nsB, ifB, cidrB);
  }

  async addBridge(ns: string, bridge: string, cidr: string | null): Promise<void> {
    await this.exec(ns, ['ip', 'link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0']);
    await this.upWithAddress(ns, bridge, cidr);
  }

  /** A veth from namespace `peerNs` (interface `peerIf`) into `bridge` living in `bridgeNs`. */
  async attachToBridge(bridgeNs: string, bridge: string, portIf: string, peerNs: string, peerIf: string, peerCidr: string | null): Promise<void> {
    await this.addVethPair(bridgeNs, portIf, null, peerNs, peerIf, peerCidr);
    await this.exec(bridgeNs, ['ip', 'link', 'set', portIf, 'master', bridge]);
  }

  /** A tap device in `ns` enslaved to `bridge`, for QEMU. */
  async addTap(ns: string, tap: string, bridge: string): Promise<void> {
    await this.exec(ns, ['ip', 'tuntap', 'add', tap, 'mode', 'tap']);
    await this.exec(ns, ['ip', 'link', 'set', tap, 'master', bridge]);
    await this.exec(ns, ['ip', 'link', 'set', tap, 'up']);
  }

  async macOf(ns: string, ifname: string): Promise<string> {
    const r = await this.exec(ns, ['cat', `/sys/class/net/${ifname}/address`]);
    return r.stdout.trim();
  }

  private async upWithAddress(ns: string, ifname: string, cidr: string | null): Promise<void> {
    if (cidr) await this.exec(ns, ['ip', 'addr', 'add', cidr, 'dev', ifname]);
    await this.exec(ns, ['ip', 'link', 'set', ifname, 'up']);
  }

  /** Runs a command in a namespace of this lab and waits; throws on a non-zero exit unless allowFail. */
  async exec(ns: string, argv: string[], opts: { allowFail?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    const [cmd, ...args] = argv;
    if (!cmd) throw new Error('exec: empty command');
    try {
      const r = await run('ip', ['netns', 'exec', this.ns(ns), cmd, ...args], {
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
      });
      return { stdout: r.stdout, stderr: r.stderr, code: 0 };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number | string };
      const result = { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : -1 };
      if (opts.allowFail) return result;
      throw new Error(`${argv.join(' ')} in ${ns} failed (${e.code}): ${result.stderr || result.stdout}`);
    }
  }

  /**
   * Starts a long-running process in a namespace. `ip netns exec` execs the command in
   * place, so the pid we hold is the command's own; destroy() ends it by that pid.
   */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(ns), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Ends one process this lab started, by its pid: SIGTERM, then SIGKILL after graceMs. */
  async stop(child: ChildProcess, graceMs = 3000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
    for (const ns of this.namespaces.splice(0)) {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    liveLabs.delete(this);
  }

  /** Last-resort cleanup from an exit handler: synchronous, best effort. */
  destroySync(): void {
    for (const child of this.children) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    for (const ns of this.namespaces.splice(0)) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    liveLabs.delete(this);
  }
}

/** Collects a child's output into a string while it runs. */
export function collectOutput(child: ChildProcess): { text: () => string } {
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => (buf += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (buf += d.toString()));
  return { text: () => buf };
}

/** Waits until predicate() is true, polling; throws with `what` after timeoutMs. */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
