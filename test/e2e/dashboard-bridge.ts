// For the demo: the dashboard of a pxe-pilot inside a namespace, reachable from this host's
// browser at 127.0.0.1. Each browser connection gets a small relay process started inside the
// namespace (by pid, through the lab), so no traffic leaves loopback and the namespace.
import { createServer, type Server } from 'node:net';
import type { NetLab } from '../helpers/netns.ts';

const RELAY =
  "const s=require('net').connect(Number(process.argv[2]),process.argv[1]);process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',()=>process.exit(0));s.on('close',()=>process.exit(0));";

export async function startDashboardBridge(
  net: NetLab,
  ns: string,
  host: string,
  port: number,
  preferredPort = 8067,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((socket) => {
    const relay = net.spawn(ns, [process.execPath, '-e', RELAY, host, String(port)], { stdio: ['pipe', 'pipe', 'ignore'] });
    socket.pipe(relay.stdin!);
    relay.stdout!.pipe(socket);
    const end = (): void => {
      socket.destroy();
      void net.stop(relay, 500);
    };
    socket.on('close', end);
    socket.on('error', end);
    relay.on('exit', () => socket.destroy());
  });
  const listen = (p: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(preferredPort).catch(() => listen(0));
  const bound = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${bound}/ui/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
