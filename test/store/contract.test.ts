// The store contract (test/store/contract.ts) against both backends.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/store/store.ts';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteLeases } from '../../src/store/leases.ts';
import { WriteBehind } from '../../src/store/batch.ts';
import { PostgresStore } from '../../src/store/postgres/store.ts';
import { storeContract, type ContractOptions, type ContractStore } from './contract.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A SQLite store in its own state folder, so a restart finds its file again. */
function sqlite(options: ContractOptions = {}, dir = mkdtempSync(join(tmpdir(), 'pxp-contract-'))): ContractStore {
  if (!dirs.includes(dir)) dirs.push(dir);
  const store = Store.open(dir, options);
  let closed = false;
  const close = (): Promise<void> => {
    if (!closed) Store.prototype.close.call(store);
    closed = true;
    return Promise.resolve();
  };
  return Object.assign(store, {
    settle: () => Promise.resolve(),
    close,
    reopen: async () => {
      await close();
      return sqlite(options, dir);
    },
  });
}

storeContract('sqlite', (options) => Promise.resolve(sqlite(options)));

const skip = skipUnlessPostgres();
let server: TestPostgres | undefined;
let databases = 0;
before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.destroy());

/** A PostgreSQL store on `url`; reopened on the same database, as a restarted daemon. */
async function postgres(url: string, options: ContractOptions = {}): Promise<ContractStore> {
  const db = openDatabase(':memory:');
  const store = await PostgresStore.open({
    store: pgStoreSection(url),
    logger: quietLogger(),
    leases: new SqliteLeases(db, new WriteBehind(db)),
    closeLeases: () => db.close(),
    ...options,
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= PostgresStore.prototype.close.call(store));
  return Object.assign(store, {
    settle: () => store.drain(),
    close,
    reopen: async () => {
      await close();
      return postgres(url, options);
    },
  });
}

storeContract('postgresql', async (options) => postgres(await server!.createDatabase(`contract_${++databases}`), options), skip);
