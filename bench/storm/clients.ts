// The machines of a boot storm: N probes in this one process, run inside the clients'
// namespace by bench/storm/run.ts. They share one socket on port 68 (replies are matched by
// xid and MAC) and each leases its own address, which stays on eth0 until the namespace goes.
// Prints one JSON line: every machine's phases and the wall time of the whole storm.
import { AddressBatcher } from '../../src/probe/address.ts';
import { DhcpClientPort } from '../../src/probe/dhcp-client.ts';
import { runProbe, type ArchName, type ProbePhase, type ProbeResult } from '../../src/probe/probe.ts';

export interface StormClientsInput {
  machines: number;
  arch: ArchName;
  proxy: boolean;
  server: string;
  interface: string;
  /** Machines power on spread evenly over this many ms (0: all at once). */
  spreadMs: number;
  /** Second MAC byte, so runs against different servers do not share MACs. */
  macTag: number;
}

export interface StormClientsOutput {
  wallMs: number;
  results: (Pick<ProbeResult, 'ok' | 'mac' | 'ip' | 'failure' | 'totalMs'> & { phases: StormPhase[] })[];
}

/** A machine's phase and when it ended, in ms since the storm began (so phases can be overlaid). */
export interface StormPhase extends ProbePhase {
  endMs?: number;
}

export function stormMac(tag: number, i: number): string {
  return ['02', tag, (i >> 16) & 255, (i >> 8) & 255, i & 255, 1].map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0'))).join(':');
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as StormClientsInput;
  const port = await DhcpClientPort.open(input.interface);
  const addressBatcher = new AddressBatcher();
  const started = performance.now();
  const endedAt = new WeakMap<ProbePhase, number>();
  const runs: Promise<ProbeResult>[] = [];
  for (let i = 0; i < input.machines; i++) {
    const delay = input.machines > 1 ? (input.spreadMs * i) / (input.machines - 1) : 0;
    runs.push(
      new Promise((resolve) => setTimeout(resolve, delay)).then(() =>
        runProbe({
          mac: stormMac(input.macTag, i),
          arch: input.arch,
          proxy: input.proxy,
          interface: input.interface,
          server: input.server,
          dhcpPort: port,
          keepAddress: true,
          addressBatcher,
          dhcpRetryMs: [2000, 4000, 8000, 16000],
          tftpTimeoutMs: 2000,
          httpIdleTimeoutMs: 60_000,
          onPhase: (p) => endedAt.set(p, performance.now() - started),
        }),
      ),
    );
  }
  const results = await Promise.all(runs);
  const wallMs = performance.now() - started;
  await port.close();
  const output: StormClientsOutput = {
    wallMs,
    results: results.map((r) => ({
      ok: r.ok,
      mac: r.mac,
      ...(r.ip ? { ip: r.ip } : {}),
      ...(r.failure ? { failure: r.failure } : {}),
      totalMs: r.totalMs,
      phases: r.phases.map((p) => ({ ...p, detail: p.ok ? '' : p.detail, endMs: endedAt.get(p) })),
    })),
  };
  process.stdout.write(JSON.stringify(output) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
