// Live-stream cost, loopback only, bounded in time:
//  1. GET /boot?mac= throughput (wrk) with no event-stream client vs 5 reading clients, alternated;
//  2. the daemon's memory with 50 stream clients, 20 of which never read, under the same load.
// Run: node --import tsx bench/console/stream.ts   (needs wrk; BENCH_DURATION, default 8s; BENCH_ROUNDS, default 5)
// Each round runs both settings back to back (the order alternating per round); the medians and
// the per-round ratios are what to read on a shared machine.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { startLoopbackDaemon } from '../../test/helpers/loopback-daemon.ts';

const run = promisify(execFile);
const duration = process.env.BENCH_DURATION ?? '8s';
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kb / 102.4) / 10;
}

async function wrk(base: string): Promise<{ rps: number; latency: string }> {
  const { stdout } = await run('wrk', ['-t2', '-c32', `-d${duration}`, '-s', 'bench/http/boot-macs.lua', base]);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]), latency: /Latency\s+(\S+)/.exec(stdout)?.[1] ?? '?' };
}

function readingClient(base: string, token: string): { close: () => void; bytes: () => number } {
  const controller = new AbortController();
  let bytes = 0;
  void fetch(`${base}/events/stream`, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
    .then(async (res) => {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
    })
    .catch(() => undefined);
  return { close: () => controller.abort(), bytes: () => bytes };
}

function stalledClient(port: number, token: string): Socket {
  const s = connect(port, '127.0.0.1');
  s.pause();
  s.on('error', () => undefined);
  s.write(`GET /events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`);
  return s;
}

const daemon = await startLoopbackDaemon();
const pid = daemon.child.pid!;
try {
  process.stdout.write(`daemon pid ${pid} on ${daemon.base}; load average ${loadAverage()}\n`);
  await wrk(daemon.base); // warm-up
  const results: { clients: number; rps: number; latency: string }[] = [];
  const order = Array.from({ length: rounds }, (_, i) => (i % 2 === 0 ? [0, 5] : [5, 0])).flat();
  for (const clients of order) {
    const streams = Array.from({ length: clients }, () => readingClient(daemon.base, daemon.token));
    await new Promise((r) => setTimeout(r, 300));
    const r = await wrk(daemon.base);
    const streamed = streams.reduce((n, s) => n + s.bytes(), 0);
    for (const s of streams) s.close();
    results.push({ clients, ...r });
    process.stdout.write(
      `/boot with ${clients} stream clients: ${r.rps.toFixed(0)} req/s, latency mean ${r.latency}${clients ? `, ${(streamed / 1048576).toFixed(1)} MiB streamed` : ''} (load ${loadAverage()})\n`,
    );
  }
  const of = (c: number): number[] => results.filter((r) => r.clients === c).map((r) => r.rps);
  const ratios = of(5).map((x, i) => x / of(0)[i]!);
  process.stdout.write(
    `median of ${rounds} rounds: none ${median(of(0)).toFixed(0)} req/s, 5 clients ${median(of(5)).toFixed(0)} req/s ` +
      `(${((100 * median(of(5))) / median(of(0)) - 100).toFixed(1)} %); per-round ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}, median ${median(ratios).toFixed(2)}\n`,
  );

  const before = rssMiB(pid);
  const readers = Array.from({ length: 30 }, () => readingClient(daemon.base, daemon.token));
  const stalled = Array.from({ length: 20 }, () => stalledClient(daemon.httpPort, daemon.token));
  await new Promise((r) => setTimeout(r, 500));
  const connected = await (await fetch(`${daemon.base}/metrics`)).text();
  const r = await wrk(daemon.base);
  const after = rssMiB(pid);
  const metrics = await (await fetch(`${daemon.base}/metrics`)).text();
  const gauge = (t: string, name: string): string => new RegExp(`^${name} (\\S+)$`, 'm').exec(t)?.[1] ?? '?';
  process.stdout.write(
    `50 stream clients (20 never reading): RSS ${before} MiB before, ${after} MiB after ${duration} of /boot at ${r.rps.toFixed(0)} req/s; ` +
      `clients connected ${gauge(connected, 'pxe_pilot_event_stream_clients')} → ${gauge(metrics, 'pxe_pilot_event_stream_clients')}, dropped ${gauge(metrics, 'pxe_pilot_event_stream_dropped_clients_total')}\n`,
  );
  for (const s of readers) s.close();
  for (const s of stalled) s.destroy();
} finally {
  await daemon.stop();
}
