import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProfile, profileWarnings, type InterfaceAddress } from '../../src/config/load.ts';

const ifaces: InterfaceAddress[] = [{ name: 'br-boot', address: '10.20.0.1', netmask: '255.255.255.0', internal: false }];
const opts = { interfaces: ifaces, interfaceExists: (n: string) => n === 'br-boot' };
const SERVER = '[server]\ninterface = br-boot\n[dhcp]\nmode = server\nrange_start = 10.20.0.100\nrange_end = 10.20.0.200\nnetmask = 255.255.255.0\n';

const dnsWarnings = (ini: string) => profileWarnings(parseProfile(ini, '/etc/pxe-pilot/test.ini', opts)).filter((w) => w.startsWith('[dhcp] dns'));

test('server mode without [dhcp] dns warns that the Debian installer will stop at its name server question', () => {
  const [warning, ...more] = dnsWarnings(SERVER);
  assert.equal(more.length, 0);
  assert.match(warning!, /^\[dhcp\] dns is empty: server mode hands out no DNS server/);
  assert.match(warning!, /Debian's installer then stops at its "Name server addresses" question even at priority critical/);
});

test('no DNS warning once [dhcp] dns is set, nor in proxy mode, where the router hands out DNS', () => {
  assert.deepEqual(dnsWarnings(`${SERVER}dns = 10.20.0.1\n`), []);
  assert.deepEqual(dnsWarnings('[server]\ninterface = br-boot\n[dhcp]\nmode = proxy\n'), []);
  assert.deepEqual(dnsWarnings('[dhcp]\nmode = off\n'), []);
});

test('server mode without [dhcp] router warns that the Debian installer will ask whether to continue without a default route', () => {
  const routerWarnings = (ini: string) => profileWarnings(parseProfile(ini, '/etc/pxe-pilot/test.ini', opts)).filter((w) => w.startsWith('[dhcp] router'));
  const [warning, ...more] = routerWarnings(SERVER);
  assert.equal(more.length, 0);
  assert.match(warning!, /^\[dhcp\] router is empty: server mode hands out no default gateway.*"Continue without a default route\?"/);
  assert.deepEqual(routerWarnings(`${SERVER}router = 10.20.0.254\n`), []);
  assert.deepEqual(routerWarnings('[server]\ninterface = br-boot\n[dhcp]\nmode = proxy\n'), []);
});
