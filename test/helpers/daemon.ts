// pxe-pilot as a user runs it, inside a lab namespace: an INI profile written for the test,
// `node --import tsx src/cli.ts --config <file>`, JSON log lines on stdout, SIGTERM to stop.
// Its HTTP API is reachable only inside the namespace, so requests go through curl there.
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { NetLab } from './netns.ts';
import { collectOutput, waitFor } from './netns.ts';
import { repoRoot } from './standin.ts';

export interface HostSection {
  mac: string;
  hostname?: string;
  action?: 'install' | 'deploy' | 'local' | 'menu' | 'inspect';
  profile?: string;
  cmdline?: string;
  loader?: 'ipxe' | 'grub' | 'ipxe-shim';
  /** ipmi://…, redfish://… or wol (docs/power.md). */
  bmc?: string;
  /** The Redfish BMC's certificate, pinned. */
  bmc_tls_fingerprint?: string;
}

/** INI sections as key → value; host sections separately (their header carries the MAC). */
export interface ProfileSpec {
  sections: Record<string, Record<string, string | number | boolean>>;
  hosts?: HostSection[];
}

/** INI text for a profile spec (snake_case keys, as a user writes them). */
export function renderIni(spec: ProfileSpec): string {
  const lines: string[] = ['; written by the pxe-pilot e2e lab'];
  for (const [name, keys] of Object.entries(spec.sections)) {
    lines.push('', `[${name}]`);
    for (const [k, v] of Object.entries(keys)) lines.push(`${k} = ${String(v)}`);
  }
  for (const host of spec.hosts ?? []) {
    lines.push('', `[host ${host.mac}]`);
    for (const [k, v] of Object.entries(host)) if (k !== 'mac' && v !== undefined) lines.push(`${k} = ${v}`);
  }
  return lines.join('\n') + '\n';
}

export interface PxeEvent {
  time: number | string;
  mac: string | null;
  protocol: string;
  kind: string;
  decision: string;
  reason: string;
  detail?: Record<string, unknown>;
}

// PXE_PILOT_COMPILED=1 runs dist/ as production does (benchmarks measuring memory; needs `npm run build`).
const cli = process.env.PXE_PILOT_COMPILED ? ['bin/pxe-pilot.mjs'] : ['--import', 'tsx', 'src/cli.ts'];

/** The daemon's command line as a user starts it with a profile (run from repoRoot). */
export function pxePilotArgv(configFile: string): string[] {
  return [process.execPath, ...cli, '--config', configFile];
}

export class PxePilot {
  private constructor(
    readonly child: ChildProcess,
    readonly configFile: string,
    private readonly output: { text: () => string },
    private readonly lab: NetLab,
    readonly ns: string,
    readonly baseUrl: string,
    readonly adminToken: string,
  ) {}

  /**
   * Writes the profile and starts the daemon in `ns`; resolves when GET /health answers and says
   * the profile's DHCP service is bound, fails
   * with the daemon's own output when it exits first (exit 2 = the profile was refused).
   */
  static async start(
    lab: NetLab,
    ns: string,
    opts: { configFile: string; spec: ProfileSpec; baseUrl: string; adminToken: string; startTimeoutMs?: number },
  ): Promise<PxePilot> {
    await writeFile(opts.configFile, renderIni(opts.spec));
    const child = lab.spawn(ns, pxePilotArgv(opts.configFile), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = collectOutput(child);
    const daemon = new PxePilot(child, opts.configFile, output, lab, ns, opts.baseUrl, opts.adminToken);
    const dhcpMode = opts.spec.sections.dhcp?.mode;
    const dhcpServices = dhcpMode === 'server' ? ['dhcp'] : dhcpMode === 'proxy' ? ['proxydhcp'] : [];
    try {
      await waitFor(
        'pxe-pilot to answer GET /health',
        async () => {
          if (child.exitCode !== null)
            throw new Error(`pxe-pilot exited with ${child.exitCode} before it was ready${child.exitCode === 2 ? ' (exit 2: the profile was refused)' : ''}`);
          const r = await daemon.curl(['-w', '\n%{http_code}', `${opts.baseUrl}/health`]);
          const [body = '', code = ''] = r.stdout.trim().split(/\n(?=\d+$)/);
          if (code !== '200') return false;
          // HTTP answers first; DHCP may still be asking the LAN for other servers (5 s, see
          // DEFAULT_TIMING in src/dhcp/rogue-watch.ts). A machine started before DHCP serves
          // loses its first DISCOVERs and waits for its retry.
          const services = (JSON.parse(body) as { services?: { name: string; bindings: unknown[] }[] }).services ?? [];
          return dhcpServices.every((name) => (services.find((s) => s.name === name)?.bindings.length ?? 0) > 0);
        },
        opts.startTimeoutMs ?? 20_000,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- pxe-pilot output ---\n${output.text().slice(-4000)}`);
    }
    return daemon;
  }

  /** The daemon's stdout and stderr so far (pino JSON lines). */
  logText(): string {
    return this.output.text();
  }

  /** Parsed JSON log lines. */
  logLines(): Record<string, unknown>[] {
    const lines: Record<string, unknown>[] = [];
    for (const line of this.output.text().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* a partial line still being written */
      }
    }
    return lines;
  }

  private curl(args: string[]) {
    return this.lab.exec(this.ns, ['curl', '-s', '--max-time', '5', ...args], { allowFail: true });
  }

  /** GET with the admin token; the parsed JSON body, and the status. */
  async admin<T>(path: string): Promise<{ status: number; body: T | null; text: string }> {
    const r = await this.curl(['-H', `Authorization: Bearer ${this.adminToken}`, '-w', '\n%{http_code}', `${this.baseUrl}${path}`]);
    const cut = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, cut);
    const status = Number(r.stdout.slice(cut + 1));
    let body: T | null;
    try {
      body = JSON.parse(text) as T;
    } catch {
      body = null;
    }
    return { status, body, text };
  }

  /** GET /nodes/<mac> → the node's lifecycle state, or null when the daemon does not know it. */
  async nodeState(mac: string): Promise<string | null> {
    const r = await this.admin<{ state?: string; node?: { state?: string } }>(`/nodes/${mac}`);
    if (r.status !== 200 || !r.body) return null;
    return r.body.state ?? r.body.node?.state ?? null;
  }

  /** GET /events?mac= → this machine's events, oldest first. */
  async events(mac: string, limit = 500): Promise<PxeEvent[]> {
    const r = await this.admin<PxeEvent[] | { events: PxeEvent[] }>(`/events?mac=${mac}&limit=${limit}`);
    if (r.status !== 200 || !r.body) throw new Error(`GET /events?mac=${mac} answered ${r.status}: ${r.text.slice(0, 300)}`);
    const list = Array.isArray(r.body) ? r.body : r.body.events;
    const t = (e: PxeEvent): number => (typeof e.time === 'number' ? e.time : Date.parse(e.time));
    return [...list].sort((a, b) => t(a) - t(b));
  }

  /** `pxe-pilot explain <mac>`: the timeline a person reads. */
  async explain(mac: string): Promise<string> {
    const r = await this.lab.exec(
      this.ns,
      ['sh', '-c', `cd "$0" && exec "$1" --import tsx src/cli.ts explain "$2" --config "$3"`, repoRoot, process.execPath, mac, this.configFile],
      { allowFail: true, timeoutMs: 30_000 },
    );
    if (r.code !== 0) throw new Error(`pxe-pilot explain ${mac} exited ${r.code}: ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** The `pxe-pilot` CLI as an operator runs it beside the daemon: its admin API, with the token. */
  async cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.lab.exec(
      this.ns,
      [
        'sh',
        '-c',
        'cd "$0" && token=$1 node=$2 && shift 2 && PXE_PILOT_TOKEN="$token" exec "$node" --import tsx src/cli.ts "$@"',
        repoRoot,
        this.adminToken,
        process.execPath,
        ...args,
        '--url',
        this.baseUrl,
      ],
      { allowFail: true, timeoutMs: 120_000 },
    );
  }

  /** SIGTERM by pid (SIGKILL after the grace period). */
  async stop(): Promise<void> {
    await this.lab.stop(this.child, 5000);
  }
}
