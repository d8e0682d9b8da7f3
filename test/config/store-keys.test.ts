// [store]: the PostgreSQL connection is checked before anything starts, and its password never sits in the profile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse as parseConnectionString } from 'pg-connection-string';
import { ConfigError, parseProfile } from '../../src/config/load.ts';

const opts = { interfaces: [{ name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false }], interfaceExists: () => true };
const FILE = '/etc/pxe-pilot/fleet.ini';

function problems(text: string): string[] {
  try {
    parseProfile(text, FILE, opts);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `[${p.section}] ${p.key} = ${p.value}: ${p.message}`);
  }
}

test('a postgresql store takes a URL without a password; the password file and TLS files are paths', () => {
  const p = parseProfile(
    '[store]\nbackend = postgresql\nurl = postgres://pxe@db.lab.example/pxe_pilot\npassword_file = secret/pg\ntls = verify-full\ntls_ca = ca.pem\nappliance = boot-a\n',
    FILE,
    opts,
  );
  assert.equal(p.store.backend, 'postgresql');
  assert.equal(p.store.url, 'postgres://pxe@db.lab.example/pxe_pilot');
  assert.equal(p.store.passwordFile, '/etc/pxe-pilot/secret/pg');
  assert.equal(p.store.tlsCa, '/etc/pxe-pilot/ca.pem');
  assert.equal(p.store.startDegraded, false);
  assert.equal(parseProfile('', FILE, opts).store.backend, 'sqlite', 'SQLite stays the default');
});

test('a password in the URL is refused, and not shown back', () => {
  const found = problems('[store]\nbackend = postgresql\nurl = postgres://pxe:hunter2secret@db/pxe\n');
  assert.match(found.join('\n'), /\[store\] url = .*password_file or PGPASSWORD/);
  assert.doesNotMatch(found.join('\n'), /hunter2secret/);
});

test('postgresql without a URL, a URL of another scheme, and half a client certificate are named', () => {
  assert.match(problems('[store]\nbackend = postgresql\n').join('\n'), /\[store\] url = : backend = postgresql needs url/);
  assert.match(problems('[store]\nurl = mysql://db/x\n').join('\n'), /\[store\] url = mysql:\/\/db\/x: expected postgres:\/\//);
  assert.match(problems('[store]\ntls = require\ntls_cert = c.pem\n').join('\n'), /\[store\] tls_key = : tls_cert and tls_key go together/);
});

test('any URL text either parses as postgres:// without a password or is reported, never thrown', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 80 }).filter((s) => !/[\n\r;#"'[\]=]/.test(s)),
      (s) => {
        const found = problems(`[store]\nurl = ${s}\n`);
        if (found.length === 0 && s.trim() !== '') {
          // Every form libpq accepts (test/config/libpq.test.ts); pg reads the kept URI without a password.
          const url = parseProfile(`[store]\nurl = ${s}\n`, FILE, opts).store.url;
          assert.match(url, /^postgres(ql)?:\/\//);
          assert.ok(!parseConnectionString(url).password);
        }
      },
    ),
  );
});
