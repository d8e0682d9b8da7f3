// For the demo: the dashboard of a pxe-pilot inside a namespace, reachable from this host's
// browser at 127.0.0.1. One relay process runs inside the namespace (started and ended by pid
// through the lab) and listens on a Unix socket in the lab's private work folder: file-system
// sockets cross network namespaces, TCP does not. The host side listens on 127.0.0.1 only and
// hands each browser connection to that socket, so no traffic leaves loopback and the namespace,
// and no interface of the host gets an address or a listener.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { NetLab } from '../helpers/netns.ts';
import { collectOutput, waitFor } from '../helpers/netns.ts';

/** Runs inside the namespace: accept on the Unix socket, connect to the daemon, pipe both ways. */
const RELAY = `
const net = require('net');
const [path, host, port] = process.argv.slice(1);
const server = net.createServer((browser) => {
  const daemon = net.connect(Number(port), host);
  const end = () => { browser.destroy(); daemon.destroy(); };
  browser.pipe(daemon); daemon.pipe(browser);
  for (const s of [browser, daemon]) { s.on('error', end); s.on('close', end); }
});
server.listen(path, () => process.stdout.write('relay ready\\n'));
`;

export interface DashboardBridge {
  /** The dashboard's address on this host. */
  url: string;
  /** The same daemon's base address on this host (for curl). */
  base: string;
  /** Where the host side listens, as the socket reports it. */
  listening: { address: string; port: number };
  close: () => Promise<void>;
}

export async function startDashboardBridge(
  net: NetLab,
  ns: string,
  host: string,
  port: number,
  workDir: string,
  preferredPort = 8067,
): Promise<DashboardBridge> {
  const socketPath = join(workDir, 'dashboard.sock');
  const relay: ChildProcess = net.spawn(ns, [process.execPath, '-e', RELAY, socketPath, host, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const relayOut = collectOutput(relay);
  await waitFor('the dashboard relay to listen', () => relayOut.text().includes('relay ready') || relay.exitCode !== null, 20_000);
  if (relay.exitCode !== null) throw new Error(`dashboard relay exited: ${relayOut.text()}`);

  const open = new Set<Socket>();
  const server: Server = createServer((browser) => {
    const upstream = createConnection(socketPath);
    open.add(browser);
    const end = (): void => {
      open.delete(browser);
      browser.destroy();
      upstream.destroy();
    };
    browser.pipe(upstream);
    upstream.pipe(browser);
    for (const s of [browser, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  const listen = (p: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      // Loopback only: the dashboard is for the person at this machine.
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(preferredPort).catch(() => listen(0));
  const listening = server.address() as { address: string; port: number };
  const base = `http://127.0.0.1:${listening.port}`;
  return {
    url: `${base}/ui/`,
    base,
    listening: { address: listening.address, port: listening.port },
    close: async () => {
      // The live stream never ends by itself: cut open connections so close() returns.
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await net.stop(relay, 1000);
    },
  };
}
