// The keys issue 15 adds: [https], [answers] require_tls, [dhcp] allow_other_servers, [server] user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, describeProfile, parseProfile, type InterfaceAddress } from '../../src/config/load.ts';

const ifaces: InterfaceAddress[] = [{ name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false }];
const opts = { interfaces: ifaces, interfaceExists: (n: string) => n === 'eth0' };
const FILE = '/etc/pxe-pilot/test.ini';

function problems(text: string): string[] {
  try {
    parseProfile(text, FILE, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.section}|${p.key}|${p.value}|${p.message}`);
  }
  return [];
}

test('HTTPS is on by default on 443, and answers then require it', () => {
  const p = parseProfile('', FILE, opts);
  assert.equal(p.https.enabled, true);
  assert.equal(p.https.port, 443);
  assert.equal(p.answers.requireTls, true);
  assert.match(describeProfile(p), /\[https\]\nenabled = true\nport = 443/);
});

test('HTTPS off: answers no longer require TLS unless asked, and asking is an error', () => {
  assert.equal(parseProfile('[https]\nenabled = false\n', FILE, opts).answers.requireTls, false);
  assert.match(problems('[https]\nenabled = false\n[answers]\nrequire_tls = true\n')[0]!, /^answers\|require_tls\|true\|needs \[https\] enabled = true/);
  assert.equal(parseProfile('[answers]\nrequire_tls = false\n', FILE, opts).answers.requireTls, false);
});

test('cert and key come together, relative to the profile, and HTTPS needs its own port', () => {
  const p = parseProfile('[https]\ncert = tls/c.pem\nkey = tls/k.pem\n', FILE, opts);
  assert.equal(p.https.cert, '/etc/pxe-pilot/tls/c.pem');
  assert.equal(p.https.key, '/etc/pxe-pilot/tls/k.pem');
  assert.match(problems('[https]\ncert = c.pem\n')[0]!, /^https\|key\|\|cert is set/);
  assert.match(problems('[http]\nport = 8443\n[https]\nport = 8443\n')[0]!, /^https\|port\|8443\|the same port as \[http\] port/);
});

test('allow_other_servers is a strict boolean, user a plain name', () => {
  assert.equal(parseProfile('[dhcp]\nallow_other_servers = yes\n', FILE, opts).dhcp.allowOtherServers, true);
  assert.equal(parseProfile('', FILE, opts).dhcp.allowOtherServers, false);
  assert.match(problems('[dhcp]\nallow_other_servers = maybe\n')[0]!, /expected true or false/);
  assert.equal(parseProfile('[server]\nuser = pxe-pilot\n', FILE, opts).server.user, 'pxe-pilot');
  assert.match(problems('[server]\nuser = ../root\n')[0]!, /^server\|user\|/);
});
