// A private PostgreSQL server for a test: initdb in a temp folder, listening on a loopback port
// only, run as the postgres user (the server refuses root). Debian's own cluster is never used.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../../src/store/postgres/migrations.ts';
import { skipUnless } from './requirements.ts';

/** The newest PostgreSQL server binaries of Debian's postgresql package. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  return versions.map((v) => join(root, v, 'bin')).find((dir) => existsSync(join(dir, 'initdb')));
}

/** false, or why the PostgreSQL tests skip (throws in CI). */
export function skipUnlessPostgres(): false | string {
  const bin = postgresBin();
  return skipUnless(['root', 'runuser', bin ? join(bin, 'initdb') : '/usr/lib/postgresql/<version>/bin/initdb (Debian package postgresql)']);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/<db> of a fresh, migrated database. */
  url: string;
  port: number;
  /**
   * The folder holding its unix socket (.s.PGSQL.<port>). A socket crosses network namespaces:
   * a daemon in a lab namespace reaches the server at postgres://postgres@localhost:<port>/<db>?host=<socketDir>.
   */
  socketDir: string;
  /** Another fresh database on the same server (migrated unless told not to). */
  createDatabase(name: string, options?: { migrate?: boolean }): Promise<string>;
  stop(): void;
  start(): void;
  /** Stops the server and removes its folder. */
  destroy(): void;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin()!;
  const dir = mkdtempSync(join(tmpdir(), 'pxe-pilot-pg-'));
  chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  // Searchable by all, so a daemon that dropped root still reaches the socket (the data folder stays 0700).
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  const asPostgres = (tool: string, args: string[]): void => {
    execFileSync('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  // Loopback only, the socket in our folder, fsync off: a test server, thrown away afterwards.
  const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off -c max_connections=200`;
  let running = false;
  const start = (): void => {
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-o', options, '-w', '-t', '60', 'start']);
    running = true;
  };
  const stop = (): void => {
    if (!running) return;
    asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
    running = false;
  };
  const base = `postgres://postgres@127.0.0.1:${port}`;
  const createDatabase = async (name: string, opts: { migrate?: boolean } = {}): Promise<string> => {
    const admin = new pg.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = `${base}/${name}`;
    if (opts.migrate !== false) {
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      await migrate(db);
      await db.end();
    }
    return url;
  };
  const destroy = (): void => {
    process.off('exit', destroy);
    try {
      stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  // A test or benchmark that dies before its cleanup must not leave a server running.
  process.once('exit', destroy);
  try {
    start();
    const url = await createDatabase('pxe');
    return { url, port, socketDir: dir, createDatabase, stop, start, destroy };
  } catch (err) {
    try {
      destroy();
    } catch {
      // already down
    }
    throw err;
  }
}
