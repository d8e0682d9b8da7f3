// A boot LAN in network namespaces: namespace "srv" holds bridge br0 (lan.server/24, see
// lab-addresses.ts) and runs pxe-pilot's DHCP server; each client namespace has eth0 on that bridge. Optionally a second
// LAN (other0, 10.88.0.1/24) to a namespace "rogue" that must never get an answer.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { LeaseRecord } from '../../src/boot/ports.ts';
import { lan } from './lab-addresses.ts';
import { collectOutput, NetLab, waitFor } from './netns.ts';
import { runDhcpServicePath, type RunDhcpServiceArgs, type ServiceProfileJson } from './run-dhcp-service.ts';

export const SERVER_IP = lan.server;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** The DHCP server on the lab bridge, serving lan.rangeStart-lan.rangeEnd; the server is also router and DNS. */
export function labServerProfile(overrides: Partial<ServiceProfileJson> = {}): ServiceProfileJson {
  return {
    server: { address: lan.server, interface: lan.bridge },
    http: { port: 8080 },
    ...overrides,
    dhcp: {
      mode: 'server',
      rangeStart: lan.rangeStart,
      rangeEnd: lan.rangeEnd,
      netmask: lan.netmask,
      router: lan.server,
      dns: [lan.server],
      leaseTime: 600,
      ...overrides.dhcp,
    },
  };
}

export class DhcpLab {
  readonly net = new NetLab('dhcp');
  readonly dir = mkdtempSync(join(tmpdir(), 'pxp-dhcp-'));
  readonly stateDir = join(this.dir, 'state');
  server: ChildProcess | null = null;
  private serverOutput: { text: () => string } | null = null;

  /** Client namespaces get eth0 on the bridge; `addressed` ones also get 10.77.0.<n>/24 outside the pool. */
  async build(clients: string[], options: { rogue?: boolean; addressed?: Record<string, string> } = {}): Promise<void> {
    await this.net.addNamespace('srv');
    await this.net.addBridge('srv', lan.bridge, `${lan.server}/${lan.prefix}`);
    let port = 0;
    for (const client of clients) {
      await this.net.addNamespace(client);
      await this.net.attachToBridge('srv', lan.bridge, `p${++port}`, client, 'eth0', options.addressed?.[client] ?? null);
      // Without a default route the kernel refuses to send to 255.255.255.255 (ENETUNREACH).
      if (options.addressed?.[client]) await this.net.exec(client, ['ip', 'route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
    }
    if (options.rogue) {
      await this.net.addNamespace('rogue');
      await this.net.addVethPair('srv', 'other0', '10.88.0.1/24', 'rogue', 'eth0', null);
    }
  }

  async startServer(profile: ServiceProfileJson, probe?: { listenMs?: number; intervalMs?: number }): Promise<void> {
    const args: RunDhcpServiceArgs = { service: 'dhcp', stateDir: this.stateDir, profile, ...(probe ? { probe } : {}) };
    const child = this.net.spawn('srv', [process.execPath, '--import', 'tsx', runDhcpServicePath, JSON.stringify(args)], { cwd: REPO });
    this.server = child;
    this.serverOutput = collectOutput(child);
    await waitFor(
      'the DHCP server to start',
      () => {
        if (child.exitCode !== null) throw new Error(`DHCP server exited: ${this.serverOutput?.text()}`);
        return this.serverOutput!.text().includes('{"ready"');
      },
      20_000,
    );
  }

  /** SIGTERM (graceful) or SIGKILL (a crash). */
  async stopServer(how: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.server;
    this.server = null;
    if (!child) return;
    if (how === 'SIGKILL') {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    } else {
      await this.net.stop(child);
    }
  }

  serverLog(): string {
    return this.serverOutput?.text() ?? '';
  }

  private readDb<T>(read: (db: Database.Database) => T): T {
    const db = new Database(join(this.stateDir, 'pxe-pilot.sqlite'), { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  leases(): LeaseRecord[] {
    return this.readDb(
      (db) =>
        db
          .prepare('SELECT ip, client_key AS clientKey, mac, hostname, state, expires_at AS expiresAt, updated_at AS updatedAt FROM leases ORDER BY ip')
          .all() as LeaseRecord[],
    );
  }

  events(): { mac: string | null; kind: string; decision: string; reason: string }[] {
    return this.readDb(
      (db) =>
        db.prepare("SELECT mac, kind, decision, reason FROM events WHERE protocol = 'dhcp' ORDER BY id").all() as {
          mac: string | null;
          kind: string;
          decision: string;
          reason: string;
        }[],
    );
  }

  /** A client hook script that records what the client was told and applies the address. */
  writeScript(name: string, body: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  async destroy(): Promise<void> {
    await this.stopServer();
    await this.net.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
