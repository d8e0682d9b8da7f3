// [store] url: every connection-string form libpq accepts, read by pg as libpq would, never with a password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'pg-connection-string';
import { parseConninfo } from '../../src/config/libpq.ts';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
console.log(`fast-check seed ${seed} (FC_SEED=${seed} repeats it)`);

function connects(text: string): { host?: string | null; port?: string | null; user?: string; database?: string | null } {
  const r = parseConninfo(text);
  assert.ok(r.ok, `${text}: ${r.ok ? '' : r.problem}`);
  const c = parse(r.url);
  return { host: c.host, port: c.port, user: c.user, database: c.database };
}

test('the local-socket forms of libpq are accepted and reach the socket, not localhost over TCP', () => {
  assert.deepEqual(connects('postgresql:///pxe?host=/var/run/postgresql'), { host: '/var/run/postgresql', port: '', user: '', database: 'pxe' });
  assert.deepEqual(connects('postgresql://pxe@/pxe?host=/run/postgresql'), { host: '/run/postgresql', port: '', user: 'pxe', database: 'pxe' });
  assert.deepEqual(connects('postgresql://%2Fvar%2Frun%2Fpostgresql/pxe'), { host: '/var/run/postgresql', port: '', user: '', database: 'pxe' });
  // No host at all: libpq's default, Debian's socket folder.
  assert.equal(connects('postgresql:///pxe').host, '/var/run/postgresql');
  assert.equal(connects('postgres://pxe@/pxe').host, '/var/run/postgresql');
  assert.deepEqual(connects('host=/var/run/postgresql dbname=pxe user=pxe port=5433'), {
    host: '/var/run/postgresql',
    port: '5433',
    user: 'pxe',
    database: 'pxe',
  });
  assert.deepEqual(connects("dbname = 'pxe pilot' user=ops"), { host: '/var/run/postgresql', port: '', user: 'ops', database: 'pxe pilot' });
  assert.deepEqual(connects('postgres://pxe@db.lab.example:5433/pxe_pilot?sslmode=require'), {
    host: 'db.lab.example',
    port: '5433',
    user: 'pxe',
    database: 'pxe_pilot',
  });
  assert.equal(connects('postgresql://[::1]/pxe').host, '::1');
});

test('a password is refused in every form; several hosts and unknown keywords are named', () => {
  for (const text of [
    'postgres://pxe:hunter2@db/pxe',
    'postgresql:///pxe?host=/run/postgresql&password=hunter2',
    "host=db password='hunter2'",
    'host=db password=hunter2',
  ]) {
    const r = parseConninfo(text);
    assert.ok(!r.ok && /password_file or PGPASSWORD/.test(r.problem), text);
  }
  const multi = parseConninfo('postgresql://db1:5432,db2:5432/pxe');
  assert.ok(!multi.ok && /several hosts/.test(multi.problem));
  const unknown = parseConninfo('postgresql://db/pxe?hots=x');
  assert.ok(!unknown.ok && /hots is not a libpq connection keyword/.test(unknown.problem));
  assert.ok(!parseConninfo('mysql://db/x').ok);
  assert.ok(!parseConninfo('just words').ok);
});

test('any text is either refused with a reason or gives a URI pg reads with no password; never thrown', () => {
  const piece = fc.oneof(
    fc.string({ maxLength: 10 }),
    fc.constantFrom(
      'postgresql://',
      'postgres://',
      '@',
      ':',
      '/',
      '?',
      '&',
      '=',
      'host=',
      'password=',
      '%2F',
      '%',
      "'",
      '\\',
      ' ',
      ',',
      '[',
      ']',
      'pxe',
      'dbname=',
      'user=',
    ),
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 10 }).map((a) => a.join('')),
      (text) => {
        const r = parseConninfo(text);
        if (!r.ok) {
          assert.ok(r.problem.length > 0);
          return;
        }
        const c = parse(r.url);
        assert.ok(!c.password, `${text} → ${r.url} has a password`);
        assert.ok(c.host, `${text} → ${r.url} has no host`);
      },
    ),
    { seed, numRuns: 3000 },
  );
});
