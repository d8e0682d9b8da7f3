// What must never go wrong: an answer on the wrong LAN, a lost committed lease after kill -9,
// a process taken down by a malformed datagram.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { collectOutput, waitFor } from '../helpers/netns.ts';
import { skipUnless } from '../helpers/requirements.ts';
import { DhcpLab, labServerProfile, SERVER_IP } from '../helpers/dhcp-lab.ts';
import { replayableRandom } from '../helpers/seeded-random.ts';
import { fileURLToPath } from 'node:url';

const STORM_CLIENT = fileURLToPath(new URL('../helpers/storm-client.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
// The discard port: the capture's end-of-test marker, which nothing answers.
const MARKER_PORT = 9;
const CAPTURE_FILTER = `udp port 67 or udp port 68 or udp port ${MARKER_PORT}`;

describe('DHCP server safety', { skip: skipUnless(['root', 'ip', 'busybox', 'tshark']) }, () => {
  const lab = new DhcpLab();
  before(async () => {
    await lab.build(['lan', 'storm'], { rogue: true, addressed: { storm: '10.77.0.2/24' } });
    await lab.startServer(labServerProfile({ dhcp: { rangeStart: '10.77.0.10', rangeEnd: '10.77.0.250' } }));
  });
  after(() => lab.destroy());

  const runClient = async (args: string[]) =>
    (await lab.net.exec('storm', [process.execPath, '--import', 'tsx', STORM_CLIENT, ...args], { timeoutMs: 30_000 })).stdout;

  test('two interfaces: a DISCOVER on the other LAN gets no reply, and nothing leaves through it', async () => {
    const capture = lab.net.spawn(
      'srv',
      ['tshark', '-i', 'other0', '-l', '-n', '-f', CAPTURE_FILTER, '-T', 'fields', '-e', 'udp.srcport', '-e', 'udp.dstport'],
      { cwd: lab.dir },
    );
    const seen = collectOutput(capture);
    await waitFor('tshark to capture', () => /Capturing on/.test(seen.text()), 15_000);
    const rogue = await lab.net.exec('rogue', ['busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '3', '-T', '1', '-s', '/bin/true'], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    assert.notEqual(rogue.code, 0, 'the client on the other LAN got a lease');
    assert.match(rogue.stderr, /no lease/);
    const served = await lab.net.exec('lan', ['busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', '/bin/true'], {
      timeoutMs: 15_000,
    });
    assert.match(served.stderr, /lease of 10\.77\.0\.\d+ obtained/);
    // A marker datagram through other0, sent after everything above: once the capture shows it,
    // it has shown every packet that crossed other0 before it (a capture keeps the wire's order).
    await lab.net.exec('rogue', ['ip', 'addr', 'add', '10.88.0.2/24', 'dev', 'eth0']);
    await lab.net.exec('rogue', ['bash', '-c', `echo marker > /dev/udp/10.88.0.1/${MARKER_PORT}`]);
    await waitFor('the capture to show the marker', () => new RegExp(`^\\d+\t${MARKER_PORT}$`, 'm').test(seen.text()), 15_000);
    await lab.net.stop(capture);
    const lines = seen
      .text()
      .split('\n')
      .filter((l) => /^\d+\t\d+$/.test(l));
    assert.ok(
      lines.some((l) => l === '68\t67'),
      `the capture saw the rogue DISCOVERs: ${seen.text()}`,
    );
    assert.deepEqual(
      lines.filter((l) => l.startsWith('67\t')),
      [],
      'a DHCP reply left through the other interface',
    );
  });

  test('malformed datagrams are named in events and the server keeps answering', async () => {
    const out = await runClient(['garbage', SERVER_IP]);
    assert.match(out, /^OFFER 02:aa:00:00:00:01 10\.77\.0\.\d+$/m);
    // Events reach the log in batches (within 50 ms): wait, bounded, for the ones asserted below.
    const malformedEvents = () => lab.events().filter((e) => e.kind === 'malformed');
    await waitFor(
      'the malformed datagrams to reach the event log',
      () => {
        const events = malformedEvents();
        return events.length >= 4 && events.some((e) => /\(truncated\)/.test(e.reason)) && events.some((e) => /\(bad-option\)/.test(e.reason));
      },
      10_000,
    ).catch(() => undefined);
    const malformed = malformedEvents();
    assert.ok(malformed.length >= 4, `malformed packets are recorded: ${malformed.length}`);
    assert.ok(malformed.some((e) => /\(truncated\)/.test(e.reason)));
    assert.ok(malformed.some((e) => /\(bad-option\)/.test(e.reason)));
  });

  test('kill -9 during a storm: every ACKed lease is on disk, and each client keeps its address after restart', async () => {
    const storm = lab.net.spawn('storm', [process.execPath, '--import', 'tsx', STORM_CLIENT, 'storm', '230', '8', '2'], { cwd: REPO });
    const out = collectOutput(storm);
    const acks = () =>
      out
        .text()
        .split('\n')
        .filter((l) => l.startsWith('ACK '));
    // A random point in the storm: after 20 to 139 ACKs.
    const { seed, random } = replayableRandom('PXE_PILOT_CRASH_SEED', 'server-safety: kill point');
    const killAt = 20 + Math.floor(random() * 120);
    await waitFor(`the storm to get ${killAt} ACKs (crash seed ${seed})`, () => acks().length >= killAt, 20_000);
    await lab.stopServer('SIGKILL');
    assert.ok(acks().length < 230, 'the server was killed while the storm was still running');
    await new Promise<void>((r) => storm.once('exit', () => r()));
    const acked = new Map(acks().map((l) => l.split(' ').slice(1) as [string, string]));
    const onDisk = new Map(
      lab
        .leases()
        .filter((l) => l.state === 'bound')
        .map((l) => [l.mac, l.ip]),
    );
    for (const [mac, ip] of acked) assert.equal(onDisk.get(mac), ip, `ACKed ${ip} to ${mac} but the lease is not on disk`);

    await lab.startServer(labServerProfile({ dhcp: { rangeStart: '10.77.0.10', rangeEnd: '10.77.0.250' } }));
    const sample = [...acked].slice(0, 40);
    const reboot = await runClient(['reboot', sample.map(([mac, ip]) => `${mac}=${ip}`).join(',')]);
    for (const [mac, ip] of sample) assert.match(reboot, new RegExp(`^ACK ${mac} ${ip.replace(/\./g, '\\.')}$`, 'm'));
  });
});
