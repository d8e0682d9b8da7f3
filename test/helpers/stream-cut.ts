// The lab cutting an HTTP download mid-way, as a flaky link or a server restart would: it watches
// the server's established connections (`ss -ti` in the server's namespace) and, the first time
// one has delivered more than `afterBytes` (bytes the client acknowledged), destroys that socket
// (`ss -K`): the server's write fails and the client gets a reset, a real one with the right
// sequence number. Only one connection is cut, one opened after the watch began that carried that
// much: the small requests around a download pass.
import type { NetLab } from './netns.ts';

export interface CutConnection {
  /** The client's address:port. */
  peer: string;
  /** Bytes it had acknowledged when it was cut. */
  delivered: number;
  /** What `ss -K` printed: the sockets it destroyed (empty: the connection had ended already). */
  killed: string;
}

export interface StreamCut {
  /** The connection cut, once it is. */
  readonly cut: Promise<CutConnection>;
  /** Stops watching (also when nothing was cut); resolves once the watcher has stopped. */
  stop(): Promise<void>;
}

/** `ss -tinH` lines come in pairs: the socket, then its counters. */
export function connectionsOver(ssOutput: string, afterBytes: number): { peer: string; delivered: number }[] {
  const lines = ssOutput.split('\n');
  const found: { peer: string; delivered: number }[] = [];
  for (let i = 0; i + 1 < lines.length; i += 1) {
    const socket = /^\S+\s+\S+\s+(\S+)\s+(\S+)\s*$/.exec(lines[i]!);
    const acked = /\bbytes_acked:(\d+)/.exec(lines[i + 1]!);
    if (!socket || !acked) continue;
    const delivered = Number(acked[1]);
    if (delivered > afterBytes) found.push({ peer: socket[2]!, delivered });
  }
  return found;
}

/**
 * `slowDown`: a device of the namespace (the LAN's bridge) whose sending is held to `mbit` while
 * the watch runs. Without it a fast stream would be delivered whole between two looks, and a
 * reset after the last byte cuts nothing.
 */
export interface CutOptions {
  slowDown?: { dev: string; mbit: number };
  pollMs?: number;
}

export function cutOneStreamAfter(net: NetLab, ns: string, port: number, afterBytes: number, options: CutOptions = {}): StreamCut {
  const { slowDown, pollMs = 100 } = options;
  let stopped = false;
  const list = async (): Promise<string> => (await net.exec(ns, ['ss', '-tinH', 'state', 'established', `( sport = :${port} )`], { allowFail: true })).stdout;

  /** Looks until one new connection is past the cut point, and cuts it; null when stopped first. */
  const watch = async (before: Set<string>): Promise<CutConnection | null> => {
    while (!stopped) {
      const [over] = connectionsOver(await list(), afterBytes).filter((c) => !before.has(c.peer));
      if (over) {
        const at = over.peer.lastIndexOf(':');
        const filter = `( sport = :${port} and dst ${over.peer.slice(0, at)} and dport = :${over.peer.slice(at + 1)} )`;
        const killed = await net.exec(ns, ['ss', '-K', '-tH', 'state', 'established', filter]);
        return { ...over, killed: killed.stdout.trim() };
      }
      await new Promise((r) => setTimeout(r, pollMs));
    }
    return null;
  };

  const cut = (async () => {
    // Connections open before the watch began are not the download to cut: a firmware's
    // keep-alive connection that fetched a kernel stays established, idle, long after.
    const before = new Set(connectionsOver(await list(), -1).map((c) => c.peer));
    if (slowDown)
      await net.exec(ns, ['tc', 'qdisc', 'add', 'dev', slowDown.dev, 'root', 'tbf', 'rate', `${slowDown.mbit}mbit`, 'burst', '32kb', 'latency', '50ms']);
    try {
      const over = await watch(before);
      if (!over) throw new Error(`no new connection to port ${port} delivered more than ${afterBytes} bytes`);
      return over;
    } finally {
      if (slowDown) await net.exec(ns, ['tc', 'qdisc', 'del', 'dev', slowDown.dev, 'root'], { allowFail: true });
    }
  })();
  // A cut never made is the test's to report (it awaits `cut`), not an unhandled rejection.
  cut.catch(() => {});
  return {
    cut,
    async stop() {
      stopped = true;
      await cut.catch(() => {});
    },
  };
}
