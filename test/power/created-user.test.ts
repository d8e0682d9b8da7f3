// What the inspection agent posts about the BMC user it created (parsed under fast-check: total,
// a refusal never repeats the password), and the credentials file the daemon writes from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createdBmcUrl, createdCredentialsName, credentialsText, parseCreatedBmcUser, writeCredentialsFile } from '../../src/power/created-user.ts';
import { parseCredentials } from '../../src/power/credentials.ts';

const octet = fc.integer({ min: 1, max: 254 });
const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const password = fc.stringMatching(/^[\x21-\x7e]{8,20}$/);
const username = fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/);

test('any JSON is accepted or refused with a reason naming the field; it never throws', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
      const r = parseCreatedBmcUser(v);
      if (!r.ok) assert.match(r.error, /^bmc-user: /);
    }),
    { numRuns: 1000 },
  );
});

test('a well-formed report round-trips; its credentials file reads back the same user and password', () => {
  fc.assert(
    fc.property(username, password, ip, fc.option(fc.integer({ min: 1, max: 65535 })), (u, p, a, port) => {
      const r = parseCreatedBmcUser({ username: u, password: p, ip: a, ...(port === null ? {} : { port }) });
      assert.ok(r.ok && r.value.ok, r.ok ? '' : r.error);
      assert.deepEqual(r.value, { ok: true, username: u, password: p, ip: a, port, channel: null, userId: null });
      const back = parseCredentials(credentialsText(u, p, 'created by the inspection agent of 52:54:00:00:00:01'));
      assert.ok(back.ok);
      assert.deepEqual(back.value, { username: u, password: p });
      const url = createdBmcUrl(a, port);
      assert.equal(createdCredentialsName(url), port === null || port === 623 ? a : `${a}:${port}`);
    }),
    { numRuns: 500 },
  );
});

test('a refused report never repeats the password', () => {
  const bad = fc.record({
    username: fc.oneof(username, fc.string(), fc.constant(42)),
    password: fc.oneof(password, fc.string({ minLength: 1, maxLength: 30 })),
    ip: fc.oneof(ip, fc.string(), fc.constant('0.0.0.0')),
    port: fc.oneof(fc.integer(), fc.constant('x')),
  });
  fc.assert(
    fc.property(bad, (body) => {
      const r = parseCreatedBmcUser(body);
      if (r.ok || body.password.length < 4 || !r.error.includes(body.password)) return;
      // Found: only the refusal's own words may hold it (a password "name" in "username must be…"),
      // so the same report with another password of the same length must say it as well.
      const other = parseCreatedBmcUser({ ...body, password: 'Q'.repeat(body.password.length) });
      assert.ok(!other.ok && other.error.includes(body.password), `the refusal repeats the password: ${r.error}`);
    }),
    { numRuns: 1000 },
  );
});

test('an error report is kept, printable and bounded; it comes alone', () => {
  const r = parseCreatedBmcUser({ error: `ipmitool refused\n\u0007${'x'.repeat(400)}` });
  assert.ok(r.ok && !r.value.ok);
  assert.equal(r.value.error.length, 300);
  assert.ok(!/[\x00-\x1f]/.test(r.value.error));
  const mixed = parseCreatedBmcUser({ error: 'no', password: 'abcdefgh12' });
  assert.ok(!mixed.ok && /"error" comes alone/.test(mixed.error));
});

test('the credentials file is written mode 600 over an open old one, with no temporary left', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxe-created-user-'));
  try {
    const bmc = join(dir, 'bmc');
    writeCredentialsFile(bmc, '10.0.9.101', 'username = a\npassword = first-pass\n');
    assert.equal(statSync(bmc).mode & 0o777, 0o700, 'a missing folder is made mode 700');
    writeFileSync(join(bmc, '10.0.9.102'), 'username = old\npassword = old\n', { mode: 0o644 });
    const old = process.umask(0);
    try {
      writeCredentialsFile(bmc, '10.0.9.102', 'username = b\npassword = second-pass\n');
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(join(bmc, '10.0.9.102')).mode & 0o777, 0o600, 'mode 600 whatever the umask');
    assert.equal(readFileSync(join(bmc, '10.0.9.102'), 'utf8'), 'username = b\npassword = second-pass\n');
    assert.deepEqual(readdirSync(bmc).sort(), ['10.0.9.101', '10.0.9.102']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
