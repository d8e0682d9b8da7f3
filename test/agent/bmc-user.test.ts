// The inspection agent under QEMU creates pxe-pilot's BMC user in OpenIPMI's ipmi_sim through the
// in-band interface (QEMU's ipmi-bmc-extern + isa-ipmi-kcs), when the operator's enrolment asks;
// the daemon's real routes write the credentials file, and pxe-pilot's IPMI driver then reads the
// power state over LAN from the same ipmi_sim with those credentials.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { skipUnless } from '../helpers/requirements.ts';
import { startIpmiSim } from '../helpers/ipmi-sim.ts';
import { agentBuildTools, buildAgentImage } from '../helpers/agent-image.ts';
import { testProfile } from '../helpers/profile.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { waitFor } from '../helpers/netns.ts';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { IpmiDriver } from '../../src/power/ipmi.ts';
import { readCredentials } from '../../src/power/credentials.ts';
import { parseBmc, type IpmiTarget } from '../../src/power/bmc-url.ts';

const skip = skipUnless(['root', 'qemu-system-x86_64', 'busybox', 'ipmi_sim', 'ipmitool', ...agentBuildTools]);
const MAC = '52:54:00:aa:bb:01';
const ADMIN = 'admin-token-bmc-user-0123456789';
const BMC_IP = '10.0.9.101';

describe('the agent creates a BMC user in-band', { skip }, () => {
  test(
    'under QEMU with ipmi_sim: enrolled with createBmcUser, the agent makes the user, the daemon writes its credentials, and pxe-pilot reads the power state with them',
    { timeout: 15 * 60_000 },
    async () => {
      const image = await buildAgentImage();
      const sim = await startIpmiSim();
      const dir = mkdtempSync(join(tmpdir(), 'pxe-bmc-user-'));
      const credentialsDir = join(dir, 'bmc');
      let logText = '';
      const logger = pino({ level: 'debug' }, new Writable({ write: (c: Buffer, _e, cb) => ((logText += c.toString()), cb()) }));
      const store = Store.open(':memory:');
      const sessions = new MemoryAgentSessions();
      const profile = testProfile({ http: { bind: '127.0.0.1', port: 0, adminToken: ADMIN }, boot: { afterInspect: 'wait' } });
      profile.power.createBmcUser = true;
      profile.power.credentialsDir = credentialsDir;
      const service: HttpService = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions, logger });
      await service.start();
      const base = `http://127.0.0.1:${service.port}`;
      const lanAsAdmin = (args: string[]) =>
        execFileSync('ipmitool', ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(sim.port), '-U', sim.user, '-E', '-C', '3', ...args], {
          env: { ...process.env, IPMI_PASSWORD: sim.password },
          encoding: 'utf8',
        });
      try {
        // The BMC's LAN address, set as an operator would; the agent reads it back in-band.
        lanAsAdmin(['lan', 'set', '1', 'ipsrc', 'static']);
        lanAsAdmin(['lan', 'set', '1', 'ipaddr', BMC_IP]);
        store.sawNode(MAC, {}, false);
        const { token } = sessions.mint(MAC);
        const qemu = spawn(
          'qemu-system-x86_64',
          [
            '-m',
            '512',
            '-nographic',
            '-no-reboot',
            '-kernel',
            join(image.folder, 'vmlinuz'),
            '-initrd',
            join(image.folder, 'initrd'),
            '-append',
            `console=ttyS0 quiet no_timer_check pxe_pilot.url=http://10.0.2.100:8080/ pxe_pilot.token=${token} pxe_pilot.lldp_seconds=1 BOOTIF=01-${MAC.replaceAll(':', '-')}`,
            '-netdev',
            `user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:8080-cmd:busybox nc 127.0.0.1 ${service.port}`,
            '-device',
            `virtio-net-pci,netdev=n0,mac=${MAC}`,
            '-chardev',
            `socket,id=ipmi0,host=127.0.0.1,port=${sim.vmPort},reconnect=10`,
            '-device',
            'ipmi-bmc-extern,id=bmc0,chardev=ipmi0',
            '-device',
            'isa-ipmi-kcs,bmc=bmc0',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let console = '';
        qemu.stdout.setEncoding('utf8').on('data', (d: string) => (console += d));
        qemu.stderr.setEncoding('utf8').on('data', (d: string) => (console += d));
        const exited = new Promise<number | null>((resolve) => qemu.on('close', resolve));
        const killer = setTimeout(() => qemu.kill('SIGKILL'), 8 * 60_000);
        try {
          await waitFor(
            'the inventory to be stored',
            () => {
              if (qemu.exitCode !== null) throw new Error(`QEMU ended before the inventory:\n${console.slice(-4000)}`);
              return Boolean(store.getNode(MAC)?.inventory);
            },
            5 * 60_000,
            250,
          );
          assert.deepEqual(store.getNode(MAC)?.inventory?.document.bmc?.ip, BMC_IP, console.slice(-3000));
          // The operator enrols it and confirms the BMC user; the waiting agent gets it at its next poll.
          const enrol = await fetch(`${base}/nodes/${MAC}/enrolment`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ hostname: 'rr1', action: 'local', createBmcUser: true }),
          });
          assert.equal(enrol.status, 200, await enrol.text());
          assert.equal(await exited, 0, console.slice(-4000));
        } finally {
          clearTimeout(killer);
          if (qemu.exitCode === null) qemu.kill('SIGKILL');
        }
        const lines = console.split('\n').filter((l) => l.includes('pxe-pilot-agent:'));
        process.stderr.write(`${lines.join('\n')}\n`);
        const events = store.events({ mac: MAC }).map((e) => `${e.kind} ${e.decision}: ${e.reason}`);
        assert.ok(
          events.some((e) => e.includes('bmc-user-created')),
          `${events.join('\n')}\n${console.slice(-3000)}`,
        );
        assert.match(console, /next: bmc-user:/);
        assert.match(console, /next: reboot:/, 'once created, the agent is no longer asked');

        // The daemon's file: named after the BMC's address, mode 600, owned by the daemon (this process).
        assert.deepEqual(readdirSync(credentialsDir), [BMC_IP], 'one file, no temporary left');
        const file = join(credentialsDir, BMC_IP);
        const st = statSync(file);
        assert.equal(st.mode & 0o777, 0o600);
        assert.equal(st.uid, process.getuid!());
        const target = parseBmc(`ipmi://${BMC_IP}`);
        assert.ok(target.ok);
        const creds = readCredentials(credentialsDir, target.value as IpmiTarget);
        assert.ok(creds.ok, creds.ok ? '' : creds.error);
        assert.equal(creds.value.username, 'pxe-pilot');
        assert.match(creds.value.password, /^[A-Za-z0-9]{16}$/);
        assert.equal(store.getNode(MAC)?.enrolment?.bmc, `ipmi://${BMC_IP}`);

        // ipmi_sim has the user, and pxe-pilot's IPMI driver reads the power state over LAN with it.
        assert.match(lanAsAdmin(['user', 'list', '1']), /pxe-pilot/);
        const driver = new IpmiDriver({
          target: { kind: 'ipmi', host: '127.0.0.1', port: sim.port, portGiven: true },
          cipherSuite: 3,
          privilege: 'ADMINISTRATOR',
          credentials: () => creds.value,
        });
        const state = await driver.status(AbortSignal.timeout(20_000));
        assert.ok(state === 'on' || state === 'off', `power state ${state}`);

        // The password is nowhere but in that file: the console, answers, events, explain, the log, /metrics.
        const shown = [console, logText, JSON.stringify(store.events({ mac: MAC, limit: 10_000 }))];
        for (const path of [`/nodes/${MAC}`, `/nodes/${MAC}/explain`, '/events?limit=10000', '/metrics']) {
          shown.push(await (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } })).text());
        }
        const everything = shown.join('\n');
        assert.ok(everything.includes('bmc-user-created'));
        assert.ok(!everything.includes(creds.value.password), 'the created password was shown');
        assert.ok(readFileSync(file, 'utf8').includes(creds.value.password));
      } finally {
        await service.stop();
        store.close();
        await sim.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
