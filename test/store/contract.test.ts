// The store contract (test/store/contract.ts) against both backends.
import { after, before } from 'node:test';
import { Store } from '../../src/store/store.ts';
import { openDatabase } from '../../src/store/database.ts';
import { SqliteLeases } from '../../src/store/leases.ts';
import { WriteBehind } from '../../src/store/batch.ts';
import { PostgresStore } from '../../src/store/postgres/store.ts';
import { storeContract } from './contract.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { pgStoreSection, quietLogger } from '../helpers/pg-store.ts';

storeContract('sqlite', (options) => {
  const store = Store.open(':memory:', options);
  return Promise.resolve(
    Object.assign(store, {
      settle: () => Promise.resolve(),
      close: () => Promise.resolve(Store.prototype.close.call(store)),
    }),
  );
});

const skip = skipUnlessPostgres();
let server: TestPostgres | undefined;
let databases = 0;
before(async () => {
  if (!skip) server = await startPostgres();
});
after(() => server?.destroy());

storeContract(
  'postgresql',
  async (options) => {
    const url = await server!.createDatabase(`contract_${++databases}`);
    const db = openDatabase(':memory:');
    const store = await PostgresStore.open({
      store: pgStoreSection(url),
      logger: quietLogger(),
      leases: new SqliteLeases(db, new WriteBehind(db)),
      closeLeases: () => db.close(),
      ...options,
    });
    return Object.assign(store, { settle: () => store.drain() });
  },
  skip,
);
