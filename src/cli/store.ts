// pxe-pilot store migrate [--config FILE]
//   PostgreSQL ([store] backend = postgresql): brings the shared schema to this version (explicit,
//   since a fleet shares it). SQLite: opening the store applies any pending migration (in one
//   transaction each) and it prints `store <dir>: schema version N`; the Debian package's postinst
//   runs this on upgrade, before the new daemon starts.
// pxe-pilot store copy --from sqlite:PATH --to postgresql:URL [--appliance NAME]
//   copies one appliance's nodes, install history and events into an empty, migrated PostgreSQL.
import { hostname } from 'node:os';
import pg from 'pg';
import type { Profile } from '../config/profile.ts';
import { clientConfig, shownUrl } from '../store/postgres/connect.ts';
import { copySqliteToPostgres, CopyRefused, sqlitePath } from '../store/postgres/copy.ts';
import { migrate } from '../store/postgres/migrations.ts';
import { Store } from '../store/store.ts';
import { STORE_USAGE } from './routing.ts';

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
  const [sub, ...extra] = args;
  if ((sub !== 'migrate' && sub !== 'copy') || extra.length > 0) {
    fail(2, `store: unknown subcommand ${JSON.stringify([sub, ...extra].filter(Boolean).join(' '))}; usage:\n${STORE_USAGE}`);
  }
  if (sub === 'migrate') {
    const profile = loadProfile();
    if (profile.store.backend === 'sqlite') {
      const stateDir = profile.server.stateDir;
      let store: Store;
      try {
        store = Store.open(stateDir);
      } catch (err) {
        // A state folder we may not write to, or a file that is not SQLite: say where, not a stack.
        fail(1, `pxe-pilot: cannot open the store in ${stateDir}: ${(err as Error).message}`);
      }
      try {
        process.stdout.write(`store ${stateDir}: schema version ${store.schemaVersion()}\n`);
      } finally {
        store.close();
      }
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
}
