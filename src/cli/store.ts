// pxe-pilot store migrate [--config FILE]
//   PostgreSQL ([store] backend = postgresql): brings the shared schema to this version (explicit,
//   since a fleet shares it). SQLite migrates itself when opened; this opens it and says so.
// pxe-pilot store copy --from sqlite:PATH --to postgresql:URL [--appliance NAME]
//   copies one appliance's nodes, install history and events into an empty, migrated PostgreSQL.
import { hostname } from 'node:os';
import pg from 'pg';
import type { Profile } from '../config/profile.ts';
import { clientConfig, shownUrl } from '../store/postgres/connect.ts';
import { copySqliteToPostgres, CopyRefused, sqlitePath } from '../store/postgres/copy.ts';
import { migrate } from '../store/postgres/migrations.ts';
import { Store } from '../store/store.ts';

export const STORE_USAGE = `  pxe-pilot store migrate [--config FILE]   bring the store's schema up to date (PostgreSQL: explicit)
  pxe-pilot store copy --from sqlite:PATH --to postgresql:URL [--appliance NAME]
                                            copy an appliance's SQLite history into an empty PostgreSQL`;

export interface StoreCommandOptions {
  from?: string;
  to?: string;
  appliance?: string;
}

/** Exit code and what to print; `fail` is the CLI's exit-with-message. */
export async function storeCommand(
  args: string[],
  options: StoreCommandOptions,
  loadProfile: () => Profile,
  fail: (code: number, message: string) => never,
): Promise<void> {
  const [sub] = args;
  if (sub === 'migrate') {
    const profile = loadProfile();
    if (profile.store.backend === 'sqlite') {
      Store.open(profile.server.stateDir).close();
      process.stdout.write(`SQLite store under ${profile.server.stateDir}: schema up to date\n`);
      return;
    }
    const db = new pg.Client(clientConfig(profile.store));
    try {
      await db.connect();
      const [from, to] = await migrate(db);
      process.stdout.write(
        from === to
          ? `PostgreSQL at ${shownUrl(profile.store.url)}: schema already at version ${to}\n`
          : `PostgreSQL at ${shownUrl(profile.store.url)}: schema migrated from version ${from} to ${to}\n`,
      );
    } catch (err) {
      fail(1, `pxe-pilot store migrate: PostgreSQL at ${shownUrl(profile.store.url)}: ${(err as Error).message}`);
    } finally {
      await db.end().catch(() => undefined);
    }
    return;
  }
  if (sub === 'copy') {
    const from = options.from ?? '';
    const to = options.to ?? '';
    const url = to.startsWith('postgresql:postgres') ? to.slice('postgresql:'.length) : to;
    if (!from.startsWith('sqlite:') || !/^postgres(ql)?:\/\/./.test(url)) {
      fail(2, `store copy needs --from sqlite:PATH (a state dir or pxe-pilot.sqlite) --to postgresql:postgres://user@host/db\n${STORE_USAGE}`);
    }
    if (URL.canParse(url) && new URL(url).password) fail(2, 'store copy: put the password in PGPASSWORD, not in the URL');
    const file = sqlitePath(from.slice('sqlite:'.length));
    const pool = new pg.Pool({ ...clientConfig({ url, passwordFile: '', tls: 'off', tlsCa: '', tlsCert: '', tlsKey: '' }), max: 1 });
    pool.on('error', () => undefined);
    const tty = process.stderr.isTTY;
    try {
      const copied = await copySqliteToPostgres(file, pool, options.appliance || hostname(), (table, done, total) => {
        if (tty) process.stderr.write(`\r${table}: ${done}/${total}   `);
        if (done === total && tty) process.stderr.write('\n');
      });
      process.stdout.write(
        `copied ${file} to ${shownUrl(url)}: ${Object.entries(copied)
          .map(([t, n]) => `${n} ${t}`)
          .join(', ')}; leases stay with the appliance\n`,
      );
    } catch (err) {
      fail(err instanceof CopyRefused ? 2 : 1, `pxe-pilot store copy: ${(err as Error).message}`);
    } finally {
      await pool.end().catch(() => undefined);
    }
    return;
  }
  fail(2, `store needs migrate or copy\n${STORE_USAGE}`);
}
