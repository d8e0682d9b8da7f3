// The cloud-init seed the agent writes into a deployed image, through a real socket: meta-data
// names the host, user-data is the operator's cloud-config template (the machine's own, else the
// default) filled like an answer, network-config comes from the net_* keys of the machine's
// settings ([host], else its enrolment, else the [rule] that matches it); only this boot's agent
// session may read it, and a template that is no cloud-config is refused with the reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpService } from '../../src/http/service.ts';
import { Store } from '../../src/store/store.ts';
import { testHttpDeps } from '../helpers/http.ts';
import { hostEntry, testProfile } from '../helpers/profile.ts';
import { MemoryAgentSessions } from '../helpers/agent-sessions.ts';
import { testInventory, testNic } from '../helpers/inventory.ts';
import { parseProfile } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/load.ts';

const WEB = '52:54:00:5e:00:01';
const PLAIN = '52:54:00:5e:00:02';
const BROKEN = '52:54:00:5e:00:03';
const RULED = '52:54:00:5e:00:04';
const ENROLLED = '52:54:00:5e:00:05';

// The fabric's rule: every Acme machine bonds its two ports on VLAN 42 with jumbo frames, by DHCP.
const FABRIC = `[server]\naddress = 10.0.0.1\n[rule fabric]\nvendor = acme\naction = deploy\nprofile = cloud/1\nnet_bond = eno1, eno2\nnet_vlan = 42\nnet_mtu = 9000\nnet_dns = 10.0.1.1\n`;

describe('GET /agent/<mac>/seed/…', () => {
  const answers = mkdtempSync(join(tmpdir(), 'pxp-seed-'));
  const sessions = new MemoryAgentSessions();
  let store: Store;
  let service: HttpService;
  let base: string;

  before(async () => {
    mkdirSync(join(answers, 'cloud-init'));
    writeFileSync(join(answers, 'cloud-init', 'default.yaml'), '#cloud-config\nfqdn: {{hostname}}.lab.example\n');
    writeFileSync(join(answers, 'cloud-init', `${BROKEN}.yaml`), 'autoinstall:\n  version: 1\n');
    store = Store.open(':memory:');
    const profile = testProfile({
      http: { bind: '127.0.0.1', port: 0 },
      answers: { dir: answers },
      hosts: [
        hostEntry(WEB, {
          hostname: 'web1',
          action: 'deploy',
          profile: 'cloud/1',
          netAddress: '10.0.1.21/24',
          netGateway: '10.0.1.1',
          netDns: '10.0.1.1, 10.0.1.2',
          netBond: 'eno1,eno2',
          netVlan: '42',
          netMtu: '9000',
        }),
        hostEntry(PLAIN, { hostname: 'web2', action: 'deploy', profile: 'cloud/1' }),
        hostEntry(BROKEN, { hostname: 'web3', action: 'deploy', profile: 'cloud/1' }),
      ],
    });
    profile.rules = parseProfile(FABRIC, '/etc/pxe-pilot/fabric.ini', { offline: true }).rules;
    service = new HttpService({ ...testHttpDeps(profile, store, () => service), agentSessions: sessions });
    await service.start();
    base = `http://127.0.0.1:${service.port}`;
    await store.setInventory(WEB, testInventory({ nics: [testNic('eno1', '52:54:00:5e:00:01'), testNic('eno2', '52:54:00:5e:00:11')] }), 's-web');
    for (const [mac, second] of [
      [RULED, '52:54:00:5e:00:14'],
      [ENROLLED, '52:54:00:5e:00:15'],
    ] as const) {
      store.ensureNode(mac);
      await store.setInventory(mac, testInventory({ nics: [testNic('eno1', mac), testNic('eno2', second)] }), `s-${mac}`);
    }
    await store.setEnrolment(ENROLLED, {
      hostname: 'web5',
      profile: 'cloud/1',
      action: 'local',
      bmc: null,
      enrolledAt: 1,
      enrolledBy: 'admin',
      network: { netAddress: '10.0.1.25/24', netGateway: '10.0.1.1', netMtu: '1500' },
    });
  });
  after(async () => {
    await service.stop();
    store.close();
    rmSync(answers, { recursive: true, force: true });
  });

  const seed = (mac: string, part: string, token = sessions.mint(mac).token): Promise<Response> =>
    fetch(`${base}/agent/${mac}/seed/${part}`, { headers: { authorization: `Bearer ${token}` } });

  test('only with this boot’s agent session', async () => {
    assert.equal((await seed(WEB, 'meta-data', 'wrong')).status, 403);
    assert.equal((await fetch(`${base}/agent/${WEB}/seed/meta-data`)).status, 403);
    assert.equal((await seed(WEB, 'passwords')).status, 404);
  });

  test('meta-data names the host; user-data is the default cloud-config filled in', async () => {
    const meta = JSON.parse(await (await seed(WEB, 'meta-data')).text()) as Record<string, string>;
    assert.equal(meta['local-hostname'], 'web1');
    assert.match(meta['instance-id'] ?? '', /^5254005e0001-/);
    assert.equal(await (await seed(WEB, 'user-data')).text(), '#cloud-config\nfqdn: web1.lab.example\n');
  });

  test('network-config: the LACP bond of the named NICs, the VLAN with the static address, gateway, DNS and MTU', async () => {
    const r = await seed(WEB, 'network-config');
    assert.equal(r.status, 200);
    const { network } = JSON.parse(await r.text()) as { network: Record<string, Record<string, Record<string, unknown>>> };
    assert.deepEqual(network.ethernets, {
      'bond-member0': { match: { macaddress: '52:54:00:5e:00:01' }, dhcp4: false, mtu: 9000 },
      'bond-member1': { match: { macaddress: '52:54:00:5e:00:11' }, dhcp4: false, mtu: 9000 },
    });
    assert.equal((network.bonds!.bond0!.parameters as { mode: string }).mode, '802.3ad');
    assert.deepEqual(network.vlans!.vlan42, {
      id: 42,
      link: 'bond0',
      addresses: ['10.0.1.21/24'],
      routes: [{ to: 'default', via: '10.0.1.1' }],
      nameservers: { addresses: ['10.0.1.1', '10.0.1.2'] },
    });
  });

  test('no net_* keys: DHCP on the boot NIC, by MAC', async () => {
    const { network } = JSON.parse(await (await seed(PLAIN, 'network-config')).text()) as { network: { ethernets: Record<string, unknown> } };
    assert.deepEqual(network.ethernets, { boot: { match: { macaddress: PLAIN }, dhcp4: true } });
  });

  test('a machine a [rule] matches gets the rule’s bond, VLAN (by DHCP), MTU and DNS', async () => {
    const r = await seed(RULED, 'network-config');
    assert.equal(r.status, 200);
    const { network } = JSON.parse(await r.text()) as { network: Record<string, Record<string, Record<string, unknown>>> };
    assert.deepEqual(network.ethernets, {
      'bond-member0': { match: { macaddress: RULED }, dhcp4: false, mtu: 9000 },
      'bond-member1': { match: { macaddress: '52:54:00:5e:00:14' }, dhcp4: false, mtu: 9000 },
    });
    assert.deepEqual(network.vlans!.vlan42, { id: 42, link: 'bond0', dhcp4: true, nameservers: { addresses: ['10.0.1.1'] } });
  });

  test('an enrolled machine gets its enrolment’s address, gateway and MTU, and nothing of the rule it also matches', async () => {
    const r = await seed(ENROLLED, 'network-config');
    assert.equal(r.status, 200);
    const { network } = JSON.parse(await r.text()) as { network: Record<string, unknown> };
    assert.deepEqual(network, {
      version: 2,
      ethernets: { boot: { match: { macaddress: ENROLLED }, mtu: 1500, addresses: ['10.0.1.25/24'], routes: [{ to: 'default', via: '10.0.1.1' }] } },
    });
  });

  test('a rule’s bond member the machine lacks is refused when asked, naming the rule', async () => {
    const mac = '52:54:00:5e:00:06';
    store.ensureNode(mac);
    await store.setInventory(mac, testInventory({ nics: [testNic('eno1', mac)] }), 's-lacking');
    const r = await seed(mac, 'network-config');
    assert.equal(r.status, 409);
    assert.match(((await r.json()) as { error: string }).error, /^network-config for 52:54:00:5e:00:06 \(\[rule fabric\]\): .*eno2/);
  });

  test('a template that is no cloud-config is refused with the reason, and recorded', async () => {
    const r = await seed(BROKEN, 'user-data');
    assert.equal(r.status, 409);
    assert.match(
      ((await r.json()) as { error: string }).error,
      /cloud-init\/52:54:00:5e:00:03\.yaml: the user-data template must start with a "#cloud-config" line/,
    );
    assert.equal(store.events({ mac: BROKEN }).at(-1)?.decision, 'refused');
  });
});

test('check-config refuses wrong net_* keys in a [host], naming the key and value', () => {
  const ifaces = [{ name: 'eth0', address: '192.0.2.10', netmask: '255.255.255.0', internal: false }];
  const opts = { interfaces: ifaces, interfaceExists: (n: string) => n === 'eth0' };
  const problem = (keys: string): string => {
    try {
      parseProfile(`[host 52:54:00:00:00:01]\naction = deploy\nprofile = cloud/1\n${keys}\n`, '/etc/pxe-pilot/t.ini', opts);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return '';
  };
  assert.match(
    problem('net_address = 10.0.1.300/24'),
    /\[host 52:54:00:00:00:01\] net_address = "10\.0\.1\.300\/24": address .* is not an IPv4 address with its prefix/,
  );
  assert.match(problem('net_vlan = 5000'), /net_vlan = "5000": vlan 5000 is not a VLAN id/);
  assert.match(problem('net_vlan = forty'), /net_vlan = "forty": expected a whole number/);
  assert.match(problem('net_gateway = 10.0.1.1'), /net_gateway = "10\.0\.1\.1": a gateway without an address/);
  assert.match(problem('net_bond = eno1'), /net_bond = "eno1": a bond needs at least two NICs/);
  assert.match(problem('net_dns = 10.0.1.1, nameserver'), /net_dns = "10\.0\.1\.1, nameserver": "nameserver" is not an IPv4 address/);
  assert.equal(problem('net_address = 10.0.1.21/24\nnet_gateway = 10.0.1.1\nnet_bond = eno1, eno2\nnet_vlan = 42\nnet_mtu = 9000'), '');
});
