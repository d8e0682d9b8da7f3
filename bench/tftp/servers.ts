// What the TFTP benchmarks share: medians, waiting for a server's port, and stopping the servers
// they started (by their child handles, never by name).
import { spawnSync, type ChildProcess } from 'node:child_process';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Resolves once something listens on UDP `port` (in this network namespace), within 10 s. */
export async function waitForUdpPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('ss', ['-Hlun', `sport = :${port}`], { encoding: 'utf8' });
    if (r.stdout.trim().length > 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`nothing listens on udp ${port}`);
}

/** SIGTERM to each child still running, each given up to 10 s to exit (pxe-pilot writes its CPU profile on the way out). */
export async function stopChildren(children: (ChildProcess | undefined)[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((done) => {
          if (!child || child.exitCode !== null || child.signalCode !== null) return done();
          const timer = setTimeout(done, 10_000);
          child.once('exit', () => (clearTimeout(timer), done()));
          child.kill('SIGTERM');
        }),
    ),
  );
}
