// Real Debian DHCP clients (ISC dhclient, busybox udhcpc, dhcpcd) against pxe-pilot's server,
// all inside network namespaces this test makes and removes.
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { DhcpLab, labServerProfile, SERVER_IP } from '../helpers/dhcp-lab.ts';

const skip = skipUnless(['root', 'ip', 'dhclient', 'busybox', 'dhcpcd']);

function readLog(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

describe('real DHCP clients against the server', { skip }, () => {
  const lab = new DhcpLab();
  let reservedMac = '';
  let dhclientScript = '';
  let udhcpcScript = '';

  before(async () => {
    await lab.build(['dhclient', 'udhcpc', 'dhcpcd', 'spare']);
    reservedMac = await lab.net.macOf('spare', 'eth0');
    await lab.startServer(
      labServerProfile({
        dhcp: { leaseTime: 6 },
        hosts: [{ mac: reservedMac, hostname: 'reserved-node', ip: '10.77.0.250', action: 'menu', profile: '', cmdline: '', vars: {} }],
      }),
    );
    dhclientScript = lab.writeScript(
      'dhclient-hook',
      `echo "$reason $new_ip_address" >> ${lab.path('dhclient.log')}
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"; ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  RELEASE|EXPIRE|STOP) ip addr flush dev "$interface" ;;
esac`,
    );
    udhcpcScript = lab.writeScript(
      'udhcpc-hook',
      `echo "$1 $ip $subnet $router opt250=$opt250" >> "${lab.dir}/udhcpc-$(cat /sys/class/net/$interface/address | tr -d :).log"`,
    );
  });
  after(() => lab.destroy());

  const dhclientArgs = (extra: string[] = []) => [
    'dhclient',
    '-4',
    '-v',
    '-d',
    '-cf',
    '/dev/null',
    '-sf',
    dhclientScript,
    '-lf',
    lab.path('dhclient.leases'),
    '-pf',
    lab.path('dhclient.pid'),
    ...extra,
    'eth0',
  ];

  test('dhclient: lease, renew, release, and a restart (of the server and the client) keeps the address', async () => {
    const log = lab.path('dhclient.log');
    const first = lab.net.spawn('dhclient', dhclientArgs());
    const out = collectOutput(first);
    await waitFor('dhclient to bind', () => /^BOUND 10\.77\.0\.\d+$/m.test(readLog(log)), 20_000);
    const ip = /^BOUND (\S+)$/m.exec(readLog(log))![1]!;
    const mac = await lab.net.macOf('dhclient', 'eth0');
    assert.deepEqual(lab.leases().find((l) => l.ip === ip)?.mac, mac);
    // Lease time 6 s: dhclient renews at T1 = 3 s, unicast from its address.
    await waitFor('dhclient to renew', () => new RegExp(`^RENEW ${ip.replace(/\./g, '\\.')}$`, 'm').test(readLog(log)), 20_000);
    assert.match(out.text(), new RegExp(`DHCPACK of ${ip.replace(/\./g, '\\.')} from ${SERVER_IP}`));

    // The server crashes; a new one reads the leases back and the renewing client keeps its address.
    await lab.stopServer('SIGKILL');
    await lab.startServer(
      labServerProfile({
        dhcp: { leaseTime: 6 },
        hosts: [{ mac: reservedMac, hostname: 'reserved-node', ip: '10.77.0.250', action: 'menu', profile: '', cmdline: '', vars: {} }],
      }),
    );
    const renewsBefore = readLog(log)
      .split('\n')
      .filter((l) => l.startsWith('RENEW')).length;
    await waitFor(
      'a renewal answered by the restarted server',
      () =>
        readLog(log)
          .split('\n')
          .filter((l) => l === `RENEW ${ip}`).length > renewsBefore,
      20_000,
    );

    // Release: dhclient -r stops the running client and sends DHCPRELEASE.
    await lab.net.exec(
      'dhclient',
      dhclientArgs(['-r']).filter((a) => a !== '-d'),
    );
    await waitFor('the lease to be released', () => lab.leases().find((l) => l.ip === ip)?.state === 'released', 10_000);
    await lab.net.stop(first);

    // A new dhclient with the old lease file asks for its address again (INIT-REBOOT) and gets it.
    const again = lab.net.spawn('dhclient', dhclientArgs());
    await waitFor(
      'dhclient to bind again',
      () =>
        readLog(log)
          .trim()
          .split('\n')
          .filter((l) => /^(BOUND|REBOOT) /.test(l)).length >= 2,
      20_000,
    );
    const last = readLog(log)
      .trim()
      .split('\n')
      .filter((l) => /^(BOUND|REBOOT) /.test(l))
      .pop()!;
    assert.equal(last.split(' ')[1], ip);
    await lab.net.exec(
      'dhclient',
      dhclientArgs(['-x']).filter((a) => a !== '-d'),
      { allowFail: true },
    );
    await lab.net.stop(again);
  });

  test('udhcpc gets a lease with the Proxmox answer URL (option 250); the reserved host gets its address', async () => {
    await lab.net.exec('udhcpc', ['busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-O', '250', '-s', udhcpcScript], {
      timeoutMs: 20_000,
    });
    const mac = (await lab.net.macOf('udhcpc', 'eth0')).replace(/:/g, '');
    const line = readLog(`${lab.dir}/udhcpc-${mac}.log`)
      .split('\n')
      .find((l) => l.startsWith('bound '))!;
    const [, ip, subnet, router, opt250] = line.split(' ');
    assert.match(ip!, /^10\.77\.0\.1\d\d$/);
    assert.equal(subnet, '255.255.255.0');
    assert.equal(router, SERVER_IP);
    // busybox prints options it has no name for as hex.
    assert.equal(Buffer.from(opt250!.replace('opt250=', ''), 'hex').toString(), `http://${SERVER_IP}:8080/answer`);

    await lab.net.exec('spare', ['busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', udhcpcScript], { timeoutMs: 20_000 });
    const spare = readLog(`${lab.dir}/udhcpc-${reservedMac.replace(/:/g, '')}.log`);
    assert.match(spare, /^bound 10\.77\.0\.250 /m);
  });

  test('dhcpcd gets a lease; no two clients share an address', async () => {
    const hook = lab.writeScript('dhcpcd-hook', `[ -n "$new_ip_address" ] && echo "$reason $new_ip_address" >> ${lab.path('dhcpcd.log')}; exit 0`);
    await lab.net.exec('dhcpcd', ['dhcpcd', '-4', '-1', '-B', '-A', '-L', '-f', '/dev/null', '-c', hook, '-t', '15', 'eth0'], {
      timeoutMs: 30_000,
      allowFail: true,
    });
    await waitFor('dhcpcd to bind', () => /^BOUND 10\.77\.0\.\d+$/m.test(readLog(lab.path('dhcpcd.log'))), 5_000);
    await lab.net.exec('dhcpcd', ['dhcpcd', '-x', 'eth0'], { allowFail: true });
    const bound = lab.leases().filter((l) => l.state === 'bound' || l.state === 'released');
    const ips = bound.map((l) => l.ip);
    const macs = bound.map((l) => l.mac);
    assert.equal(new Set(ips).size, ips.length);
    assert.equal(new Set(macs).size, macs.length, `one lease per client: ${JSON.stringify(bound)}`);
    assert.ok(bound.length >= 4, `dhclient, udhcpc, the reserved host and dhcpcd each hold a lease: ${JSON.stringify(bound)}`);
    // Every reply and every silence left a reason behind.
    const events = lab.events();
    assert.ok(events.some((e) => e.kind === 'DISCOVER' && e.decision === 'offer' && /offered 10\.77\.0\./.test(e.reason)));
    assert.ok(events.some((e) => e.kind === 'RELEASE' && e.decision === 'released'));
  });
});
