// pxe-pilot store migrate [--config FILE]
//   PostgreSQL ([store] backend = postgresql): brings the shared schema to this version (explicit,
//   since a fleet shares it). SQLite: opening the store applies any pending migration (in one
//   transaction each) and it prints `store <dir>: schema version N`; the Debian package's postinst
//   runs this on upgrade, before the new daemon starts.
// pxe-pilot store copy --from sqlite:PATH --to postgresql:URL [--appliance NAME]
//   copies one appliance's nodes, install history and events into an empty, migrated PostgreSQL.
import { hostname } from 'node:os';
import pg from 'pg';
import { clientConfig, shownUrl } from '../store/postgres/connect.ts';
import { copySqliteToPostgres, CopyRefused, sqlitePath } from '../store/postgres/copy.ts';
import { migrate } from '../store/postgres/migrations.ts';
import { Store } from '../store/store.ts';
import { CliError, EXIT_FAILED, EXIT_USAGE, UsageError, type CommandContext } from './command.ts';
import { profileFor } from './profile.ts';

export async function storeMigrate({ values, out }: CommandContext<{ config?: string }>): Promise<number> {
  const profile = profileFor(values, { offline: true });
  if (profile.store.backend === 'sqlite') {
    const stateDir = profile.server.stateDir;
    let store: Store;
    try {
      store = Store.open(stateDir);
    } catch (err) {
      // A state folder we may not write to, or a file that is not SQLite: say where, not a stack.
      throw new CliError(`cannot open the store in ${stateDir}: ${(err as Error).message}`, EXIT_FAILED, { cause: err });
    }
    try {
      out.write(`store ${stateDir}: schema version ${store.schemaVersion()}\n`);
    } finally {
      store.close();
    }
    return 0;
  }
  const db = new pg.Client(clientConfig(profile.store));
  try {
    await db.connect();
    const [from, to] = await migrate(db);
    out.write(
      from === to
        ? `PostgreSQL at ${shownUrl(profile.store.url)}: schema already at version ${to}\n`
        : `PostgreSQL at ${shownUrl(profile.store.url)}: schema migrated from version ${from} to ${to}\n`,
    );
    return 0;
  } catch (err) {
    throw new CliError(`PostgreSQL at ${shownUrl(profile.store.url)}: ${(err as Error).message}`, EXIT_FAILED, { cause: err });
  } finally {
    await db.end().catch(() => undefined);
  }
}

export async function storeCopy({ values, out, err: progress }: CommandContext<{ from: string; to: string; appliance?: string }>): Promise<number> {
  const url = values.to.startsWith('postgresql:postgres') ? values.to.slice('postgresql:'.length) : values.to;
  if (!values.from.startsWith('sqlite:'))
    throw new UsageError(`--from ${JSON.stringify(values.from)}: give sqlite:PATH (a state folder or its pxe-pilot.sqlite)`);
  if (!/^postgres(ql)?:\/\/./.test(url)) throw new UsageError(`--to ${JSON.stringify(values.to)}: give postgresql:postgres://user@host/db`);
  if (URL.canParse(url) && new URL(url).password) throw new UsageError('put the password in PGPASSWORD, not in the --to URL');
  const file = sqlitePath(values.from.slice('sqlite:'.length));
  const pool = new pg.Pool({ ...clientConfig({ url, passwordFile: '', tls: 'off', tlsCa: '', tlsCert: '', tlsKey: '' }), max: 1 });
  pool.on('error', () => undefined);
  const tty = progress.isTTY === true;
  try {
    const copied = await copySqliteToPostgres(file, pool, values.appliance || hostname(), (table, done, total) => {
      if (tty) progress.write(`\r${table}: ${done}/${total}   `);
      if (done === total && tty) progress.write('\n');
    });
    out.write(
      `copied ${file} to ${shownUrl(url)}: ${Object.entries(copied)
        .map(([t, n]) => `${n} ${t}`)
        .join(', ')}; leases stay with the appliance\n`,
    );
    return 0;
  } catch (err) {
    throw new CliError((err as Error).message, err instanceof CopyRefused ? EXIT_USAGE : EXIT_FAILED, { cause: err });
  } finally {
    await pool.end().catch(() => undefined);
  }
}
