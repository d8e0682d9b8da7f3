// A fleet with real firmware: two pxe-pilot appliances, each the DHCP server of its own boot LAN
// (two namespaces, two bridges: two "VLANs"), sharing one private PostgreSQL through its unix
// socket (a socket crosses network namespaces; nothing listens outside loopback). One QEMU machine
// installs through A, boots its local disk through B, is re-armed on B and installs again through A.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { skipUnless } from '../helpers/requirements.ts';
import { firmwareFiles, qemuBinary } from '../helpers/qemu.ts';
import { buildStandin, standinTools } from '../helpers/standin.ts';
import { skipUnlessPostgres, startPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { waitFor } from '../helpers/netns.ts';
import type { PxePilot } from '../helpers/daemon.ts';
import { adminToken, BootLab, pilotHttpPort, secondLan, standinProfile, type InstallHost, type PilotSetup } from './lab.ts';
import { bootAndInstall, bootToLocalDisk } from './scenarios.ts';
import { expectInstalled, expectLocalBoot } from './expect.ts';

const skip = skipUnlessPostgres() || skipUnless(['root', qemuBinary, 'dnsmasq', 'curl', ...standinTools, ...firmwareFiles.bios]);

// Generous bounds for TCG on a busy runner (BIOS is the fastest firmware in the lab).
const installMs = 180_000;
const localBootMs = 150_000;

const host: InstallHost = { mac: '52:54:00:e2:f0:01', hostname: 'fleet-node' };

describe('two appliances on two VLANs sharing PostgreSQL', { skip, timeout: 900_000 }, () => {
  let lab: BootLab | undefined;
  let postgres: TestPostgres | undefined;
  let hostUrl = '';
  let a: PxePilot;
  let b: PxePilot;

  before(async () => {
    const standin = await buildStandin();
    postgres = await startPostgres();
    hostUrl = await postgres.createDatabase('fleet_e2e');
    // The daemons live in the lab's namespaces: they reach the server by its socket, not by TCP.
    const url = `postgres://postgres@localhost:${postgres.port}/fleet_e2e?host=${postgres.socketDir}`;
    lab = await BootLab.create('flt');
    // IPv6 router advertisements on A's LAN only (iPXE waits for them otherwise: slower, not wrong).
    await lab.startRouter({ kind: 'router-advertisements-only' });
    await lab.addLan(secondLan);
    const common: Pick<PilotSetup, 'mode' | 'standin' | 'installHosts' | 'uefiLoader'> = {
      mode: 'server',
      standin,
      installHosts: [host],
      uefiLoader: 'snponly.efi',
    };
    a = await lab.startPxePilot({ ...common, name: 'boot-a', store: { backend: 'postgresql', url, appliance: 'boot-a' } });
    b = await lab.startPxePilot({ ...common, name: 'boot-b', lan: secondLan, store: { backend: 'postgresql', url, appliance: 'boot-b' } });
  });
  after(async () => {
    try {
      await lab?.destroy();
    } finally {
      postgres?.destroy();
    }
  });

  async function sql<T extends pg.QueryResultRow>(text: string, args: unknown[] = []): Promise<T[]> {
    const db = new pg.Client({ connectionString: hostUrl });
    await db.connect();
    try {
      return (await db.query<T>(text, args)).rows;
    } finally {
      await db.end();
    }
  }

  async function stateOn(pilot: PxePilot, want: string, what: string): Promise<void> {
    let last: string | null = null;
    await waitFor(`${what} (last state ${last})`, async () => (last = await pilot.nodeState(host.mac)) === want, 30_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}; last state: ${last}`);
    });
  }

  test('installs through A, boots its disk through B, and re-armed on B installs again through A', async (t) => {
    const first = await bootAndInstall(lab!, { name: 'fleet-a1', firmware: 'bios', mac: host.mac, serial: 'E2E-FLEET' }, installMs);
    await expectInstalled(a, first, { host, firmware: 'bios', mode: 'server' });
    await stateOn(b, 'installed', 'appliance B to see the install A finished');

    // The same machine, moved to B's VLAN: B's DHCP server answers it and sends it to its disk.
    const second = await bootToLocalDisk(lab!, { name: 'fleet-b1', firmware: 'bios', mac: host.mac, lan: secondLan }, localBootMs);
    await expectLocalBoot(b, second, host.mac);
    const bEvents = await b.events(host.mac);
    assert.ok(
      bEvents.some((e) => e.protocol === 'dhcp' && e.decision === 'ack' && /leased 10\.78\.0\.\d+ /.test(e.reason)),
      `B leased it an address of its own pool; B recorded ${bEvents.map((e) => `${e.protocol}/${e.decision}`).join(', ')}`,
    );

    // Re-armed from B's admin API; A sees it at the machine's next boot on A's VLAN.
    const rearm = await lab!.net.exec(
      secondLan.ns,
      [
        'curl',
        '-s',
        '--max-time',
        '10',
        '-X',
        'POST',
        '-H',
        `Authorization: Bearer ${adminToken}`,
        '-H',
        'Content-Type: application/json',
        '-d',
        '{}',
        '-w',
        '\n%{http_code}',
        `http://${secondLan.server}:${pilotHttpPort}/nodes/${host.mac}/reinstall`,
      ],
      { allowFail: true },
    );
    assert.equal(rearm.stdout.trim().split('\n').at(-1), '200', `POST /nodes/<mac>/reinstall on B: ${rearm.stdout}`);
    await stateOn(a, 'install-pending', 'appliance A to see the re-arm made on B');

    const third = await bootAndInstall(lab!, { name: 'fleet-a2', firmware: 'bios', mac: host.mac, serial: 'E2E-FLEET' }, installMs);
    await expectInstalled(a, third, { host, firmware: 'bios', mode: 'server' });
    await stateOn(b, 'installed', 'appliance B to see the second install');
    // Lab figures for docs/firmware.md (power-on to power-off, or to the firmware moving on).
    t.diagnostic(
      `install through A ${first.seconds.toFixed(0)} s; local disk through B ${second.seconds.toFixed(0)} s; re-install through A ${third.seconds.toFixed(0)} s`,
    );

    // The shared history: two installs, both consumed by A, the second armed by B's admin.
    const installs = await sql<{ armed_by: string | null; consumed_by: string | null; profile: string | null; installed_at: number | null }>(
      'SELECT armed_by, consumed_by, profile, installed_at FROM installs WHERE mac = $1 ORDER BY id',
      [host.mac],
    );
    assert.deepEqual(
      installs.map((i) => [i.armed_by, i.consumed_by, i.profile, i.installed_at !== null]),
      [
        ['profile', 'boot-a', standinProfile, true],
        ['admin', 'boot-a', standinProfile, true],
      ],
    );
    // One timeline across the fleet: both appliances wrote this machine's events to the shared log.
    await waitFor(
      'both appliances to have written their events',
      async () => {
        const rows = await sql<{ appliance: string }>('SELECT DISTINCT appliance FROM events WHERE mac = $1 ORDER BY appliance', [host.mac]);
        return rows.map((r) => r.appliance).join(',') === 'boot-a,boot-b';
      },
      10_000,
    );
  });
});
