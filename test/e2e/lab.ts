// The firmware lab, shared by the e2e tests and `npm run demo`: a namespace "lan" with a bridge
// carrying the boot server's address, a tap per QEMU machine on that bridge, and optionally a
// namespace "router" whose dnsmasq hands out addresses (proxy mode) or, as a reference, does the
// whole PXE job itself. Nothing here binds or sends outside the namespaces it creates.
import { dnsmasqArgv } from '../helpers/dnsmasq.ts';
import type { ChildProcess } from 'node:child_process';
import { chmod, copyFile, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectOutput, NetLab, waitFor } from '../helpers/netns.ts';
import { startMachine, type Firmware, type Machine, type MachineSpec } from '../helpers/qemu.ts';
import { PxePilot, renderIni, type HostSection } from '../helpers/daemon.ts';
import { addAssetWithCli, buildStandinProxmoxIso } from '../helpers/standin-iso.ts';
import { cliArgv } from '../helpers/cli.ts';
import { repoRoot, type Standin } from '../helpers/standin.ts';
import { lan } from '../helpers/lab-addresses.ts';

/** Addresses that exist only inside the lab's namespaces. */
export { lan };

/** Namespace names inside a lab (NetLab prefixes them). */
export const lanNs = 'lan';
export const routerNs = 'router';

export interface MachineRequest {
  name: string;
  firmware: Firmware;
  mac: string;
  serial?: string;
  /** Put the machine on the far LAN behind the relay (addFarLanBehindRelay first). */
  farLan?: boolean;
  /** The LAN its tap joins (BootLab.addLan first); default: the lab's own "lan". */
  lan?: LanSpec;
  /** A full SMBIOS type 1 identity (see MachineSpec.smbios). */
  smbios?: MachineSpec['smbios'];
  disks?: MachineSpec['disks'];
  /** MACs of more NICs, each on its own tap on the same bridge. */
  moreNicMacs?: string[];
  /** Guest memory; default: qemuArgs' 512 MiB (Debian's installer wants 1024). */
  memoryMiB?: number;
}

/** The LAN behind a DHCP relay (addFarLanBehindRelay): the relay routes between it and the boot LAN. */
export const farLan = {
  bridge: 'br1',
  subnet: '10.78.0.0/24',
  prefix: 24,
  /** The relay's address on the far LAN: the giaddr it writes, and the far machines' router. */
  relay: '10.78.0.1',
  /** The relay's address on the boot LAN. */
  relayOnBootLan: '10.77.0.253',
  rangeStart: '10.78.0.100',
  rangeEnd: '10.78.0.199',
} as const;
export const farNs = 'far';
export const relayNs = 'relay';

/** Which DHCP relay agent runs between the LANs. */
export type RelayAgent = 'dhcp-helper' | 'dnsmasq';

/**
 * Another boot LAN (another VLAN) in its own namespace: its own bridge, server address and DHCP
 * pool, for a lab with several appliances. Nothing links it to "lan": machines on it reach only
 * what runs in its namespace.
 */
export interface LanSpec {
  ns: string;
  bridge: string;
  server: string;
  prefix: number;
  netmask: string;
  rangeStart: string;
  rangeEnd: string;
}

/** A second boot LAN, 10.78.0.0/24, existing only inside its namespace. */
export const secondLan: LanSpec = {
  ns: 'lan2',
  bridge: 'br0',
  server: '10.78.0.1',
  prefix: 24,
  netmask: '255.255.255.0',
  rangeStart: '10.78.0.100',
  rangeEnd: '10.78.0.199',
};

/** What dnsmasq in the router namespace does besides router advertisements. */
export type RouterRole = { kind: 'router-advertisements-only' } | { kind: 'addresses' } | { kind: 'reference-pxe'; standin: Standin; uefiLoader: UefiLoader };

export const referenceHttpPort = 8081;

/**
 * The iPXE binary UEFI machines load over TFTP. Measured here: Debian's ipxe.efi (2019) never
 * returns to OVMF on `exit` (the vCPU spins, the console stays silent), so a machine told to
 * boot its local disk hangs; snponly.efi returns and OVMF moves on to its next boot option.
 */
export type UefiLoader = 'ipxe.efi' | 'snponly.efi';

export const pilotHttpPort = 8080;
export const pilotBase = `http://${lan.server}:${pilotHttpPort}`;
export const pilotHttpsPort = 8443;
/** Where answers and the webhook are when the lab runs with HTTPS (PilotSetup.https). */
export const pilotHttpsBase = `https://${lan.server}:${pilotHttpsPort}`;

/** The certificate machines pin when the lab runs with HTTPS: what `pxe-pilot cert` printed. */
export interface LabTls {
  fingerprint: string;
}
export const adminToken = 'e2e-admin-token-0123456789';
/**
 * The stand-in is published as a Proxmox VE version, so pxe-pilot treats it as the Proxmox
 * installer it imitates: the one-shot install is consumed when the answer is fetched.
 */
export const standinProfile = 'proxmox-ve/9.1-standin';

export interface InstallHost {
  mac: string;
  hostname: string;
}

/**
 * The answer file a user writes for one machine (hosts/<mac with hyphens>.toml), its webhook on
 * the appliance at `base`. With HTTPS the webhook is the HTTPS one, pinned by `cert-fingerprint`
 * as the Proxmox docs say.
 */
export function answerFor(host: InstallHost, base: string = pilotBase, tls?: LabTls): string {
  return [
    '[global]',
    'keyboard = "en-us"',
    'country = "us"',
    `fqdn = "${host.hostname}.lab.example"`,
    'mailto = "root@lab.example"',
    'timezone = "UTC"',
    'root-password = "e2e-lab-only"',
    '',
    '[network]',
    'source = "from-dhcp"',
    '',
    '[disk-setup]',
    'filesystem = "ext4"',
    'disk-list = ["vda"]',
    '',
    '[post-installation-webhook]',
    ...(tls
      ? [`url = "https://${new URL(base).hostname}:${pilotHttpsPort}/webhook/proxmox"`, `cert-fingerprint = "${tls.fingerprint}"`]
      : [`url = "${base}/webhook/proxmox"`]),
    '',
  ].join('\n');
}

/** The answer machines without their own file get. */
export const defaultAnswer = ['[global]', 'fqdn = "unassigned.lab.example"', '', '[network]', 'source = "from-dhcp"', ''].join('\n');

export interface PilotSetup {
  /** server: pxe-pilot hands out addresses; proxy: dnsmasq does (startRouter first), pxe-pilot only PXE. */
  mode: 'server' | 'proxy';
  standin: Standin;
  /** Machines with action=install and their own answer file. */
  installHosts: InstallHost[];
  menuTimeoutSeconds?: number;
  uefiLoader: UefiLoader;
  /** Extra INI sections, such as { 'scope far': { subnet: … } }. */
  extraSections?: Record<string, Record<string, string | number>>;
  /** The LAN it serves (BootLab.addLan first); default: the lab's own "lan" at lan.server. */
  lan?: LanSpec;
  /** Names its folders and profile (<name>-state, …) when one lab runs several appliances. */
  name?: string;
  /** [store] keys, e.g. { backend: 'postgresql', url, appliance } for a fleet; default: SQLite. */
  store?: Record<string, string | number | boolean>;
  /**
   * HTTPS on with require_tls: answers and the webhook only over HTTPS, which the stand-in pins
   * by fingerprint (DHCP option 251 in server mode, the ISO's cert_fingerprint in proxy mode).
   */
  https?: boolean;
  /** Proxy mode: `assets add --cert-fingerprint` this instead of the server's own (a wrong pin). */
  isoCertFingerprint?: string;
  /** [boot] loader (absent: the default, ipxe); grub also needs the image folders readable over TFTP. */
  loader?: 'ipxe' | 'grub' | 'ipxe-shim';
  /** More [host] sections, written as they are (e.g. a host with its own loader or profile). */
  extraHosts?: HostSection[];
  /** More [boot] keys, such as { unknown: 'inspect' }. */
  boot?: Record<string, string | number>;
}

/** Hard link when possible (same file system, no copy), else a copy; pxe-pilot serves no symlinks. */
async function place(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

export class BootLab {
  private tapCount = 0;
  readonly machines: Machine[] = [];
  /** Set by startPxePilot when the lab runs with HTTPS. */
  tls: LabTls | undefined;

  private constructor(
    readonly net: NetLab,
    readonly workDir: string,
  ) {}

  static async create(tag: string): Promise<BootLab> {
    const runs = join(repoRoot, 'tmp', 'e2e-runs');
    await mkdir(runs, { recursive: true });
    const workDir = await mkdtemp(join(runs, `${tag}-`));
    const net = new NetLab(tag);
    const lab = new BootLab(net, workDir);
    try {
      await net.addNamespace(lanNs);
      await net.addBridge(lanNs, lan.bridge, `${lan.server}/${lan.prefix}`);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Another boot LAN (see LanSpec): a namespace with its own bridge and server address. */
  async addLan(spec: LanSpec): Promise<void> {
    await this.net.addNamespace(spec.ns);
    await this.net.addBridge(spec.ns, spec.bridge, `${spec.server}/${spec.prefix}`);
  }

  /** A file path inside this run's work directory. */
  path(...parts: string[]): string {
    return join(this.workDir, ...parts);
  }

  /**
   * dnsmasq in its own namespace, wired into the bridge as 10.77.0.254 and fd77::254: the
   * network's router. It always sends IPv6 router advertisements: without them every iPXE waits
   * about 13 s for IPv6 autoconfiguration after its DHCP lease (measured: BIOS power-on to the
   * stand-in 21 s without, 8 s with). 'addresses' adds an IPv4 pool (proxy mode), 'reference-pxe'
   * adds the whole PXE job. It binds port 67 in its own namespace, so pxe-pilot can bind 67 in "lan".
   */
  async startRouter(role: RouterRole, extraArgs: string[] = []): Promise<{ dnsmasq: ChildProcess; log: () => string }> {
    await this.net.addNamespace(routerNs);
    await this.net.attachToBridge(lanNs, lan.bridge, 'rt-port', routerNs, 'rt0', `${lan.router}/${lan.prefix}`);
    await this.net.exec(routerNs, ['ip', '-6', 'addr', 'add', `${lan.routerV6}/64`, 'dev', 'rt0', 'nodad']);
    const argv = [...dnsmasqArgv('rt0'), '--enable-ra', '--dhcp-range=::,constructor:rt0,ra-only', `--dhcp-leasefile=${this.path('dnsmasq.leases')}`];
    if (role.kind !== 'router-advertisements-only') {
      argv.push('--no-ping', '--log-dhcp', `--dhcp-range=${lan.rangeStart},${lan.rangeEnd},${lan.netmask},10m`, `--dhcp-option=option:router,${lan.router}`);
    }
    if (role.kind === 'reference-pxe') argv.push(...(await this.referencePxe(role.standin, role.uefiLoader)));
    argv.push(...extraArgs);
    const dnsmasq = this.net.spawn(routerNs, argv);
    const out = collectOutput(dnsmasq);
    await waitFor('dnsmasq to start', () => /router advertisement on/.test(out.text()) || dnsmasq.exitCode !== null, 10_000);
    if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${out.text()}`);
    return { dnsmasq, log: out.text };
  }

  /**
   * The reference boot server: dnsmasq's own DHCP+TFTP sends firmware to iPXE and iPXE to a
   * script on busybox httpd, whose CGI answers like an answer server. It proves the lab (tap,
   * firmware, stand-in) without any pxe-pilot code.
   */
  private async referencePxe(standin: Standin, uefiLoader: UefiLoader): Promise<string[]> {
    const www = this.path('reference-www');
    const base = `http://${lan.router}:${referenceHttpPort}`;
    await mkdir(join(www, 'cgi-bin'), { recursive: true });
    await writeFile(
      join(www, 'standin.ipxe'),
      ['#!ipxe', `kernel ${base}/vmlinuz initrd=initrd console=ttyS0 quiet pxe_answer=${base}/cgi-bin/answer`, `initrd ${base}/initrd`, 'boot', ''].join('\n'),
    );
    await symlink(standin.kernel, join(www, 'vmlinuz'));
    await symlink(standin.initrd, join(www, 'initrd'));
    const answer = [
      '#!/bin/sh',
      'body=$(head -c "${CONTENT_LENGTH:-0}")',
      'mac=$(echo "$body" | sed -n \'s/.*"mac":"\\([^"]*\\)".*/\\1/p\')',
      'printf "Content-Type: application/toml\\r\\n\\r\\n"',
      'printf \'[global]\\nfqdn = "reference.lab"\\n# for %s\\n\\n[post-installation-webhook]\\nurl = "' + base + '/cgi-bin/webhook"\\n\' "$mac"',
      '',
    ].join('\n');
    const webhook = [
      '#!/bin/sh',
      `head -c "\${CONTENT_LENGTH:-0}" > ${join(www, 'webhook.json')}`,
      'printf "Content-Type: text/plain\\r\\n\\r\\nok\\n"',
      '',
    ].join('\n');
    await writeFile(join(www, 'cgi-bin', 'answer'), answer);
    await writeFile(join(www, 'cgi-bin', 'webhook'), webhook);
    await chmod(join(www, 'cgi-bin', 'answer'), 0o755);
    await chmod(join(www, 'cgi-bin', 'webhook'), 0o755);
    return [
      '--enable-tftp',
      '--tftp-root=/usr/lib/ipxe',
      '--dhcp-match=set:ipxe,175',
      '--dhcp-match=set:efi64,option:client-arch,7',
      `--dhcp-boot=tag:ipxe,${base}/standin.ipxe`,
      `--dhcp-boot=tag:!ipxe,tag:efi64,${uefiLoader}`,
      '--dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe',
    ];
  }

  /** busybox httpd for the reference server; call after startRouter({kind: 'reference-pxe'}). */
  async startReferenceHttp(): Promise<ChildProcess> {
    const httpd = this.net.spawn(routerNs, ['busybox', 'httpd', '-f', '-p', `${lan.router}:${referenceHttpPort}`, '-h', this.path('reference-www')]);
    await waitFor('busybox httpd to listen', async () => {
      const r = await this.net.exec(routerNs, ['curl', '-s', '-o', '/dev/null', `http://${lan.router}:${referenceHttpPort}/standin.ipxe`], { allowFail: true });
      return r.code === 0;
    });
    return httpd;
  }

  /**
   * pxe-pilot on the bridge address, configured like a user would: INI profile, answers folder,
   * assets folder holding the stand-in. In proxy mode the stand-in is packaged as a Proxmox ISO and
   * added with `pxe-pilot assets add`; it finds the answer URL in /proxmox.iso, as the real
   * installer does. In server mode it asks DHCP for option 250.
   */
  async startPxePilot(setup: PilotSetup): Promise<PxePilot> {
    const own = (name: string): string => this.path(setup.name ? `${setup.name}-${name}` : name);
    const net = setup.lan ?? { ns: lanNs, bridge: lan.bridge, server: lan.server, netmask: lan.netmask, rangeStart: lan.rangeStart, rangeEnd: lan.rangeEnd };
    const base = `http://${net.server}:${pilotHttpPort}`;
    const answers = own('answers');
    const assets = own('assets');
    const imageDir = join(assets, ...standinProfile.split('/'));
    await mkdir(join(answers, 'hosts'), { recursive: true });
    await mkdir(assets, { recursive: true });
    await mkdir(own('state'), { recursive: true });
    if (setup.mode === 'server') {
      // Copied by hand, as before `assets add`: the answer URL comes from DHCP option 250.
      await mkdir(imageDir, { recursive: true });
      await place(setup.standin.kernel, join(imageDir, 'vmlinuz'));
      await place(setup.standin.initrd, join(imageDir, 'initrd'));
      await writeFile(join(imageDir, 'cmdline'), 'console=ttyS0 quiet\n');
    }

    const dhcp: Record<string, string | number> = { mode: setup.mode };
    if (setup.mode === 'server') Object.assign(dhcp, { range_start: net.rangeStart, range_end: net.rangeEnd, netmask: net.netmask, lease_time: 600 });
    // In proxy mode the image is what a user makes: `pxe-pilot assets add` on a Proxmox-shaped ISO.
    // The kernel line gets only the console (the Proxmox default arguments come with the product).
    const hostCmdline = setup.mode === 'proxy' ? { cmdline: 'console=ttyS0' } : {};
    const hosts: HostSection[] = setup.installHosts.map((h) => ({
      mac: h.mac,
      hostname: h.hostname,
      action: 'install',
      profile: standinProfile,
      ...hostCmdline,
    }));
    hosts.push(...(setup.extraHosts ?? []));
    const spec = {
      sections: {
        server: { address: net.server, interface: net.bridge, state_dir: own('state'), log_level: 'debug' },
        http: { port: pilotHttpPort, bind: '0.0.0.0', admin_token: adminToken },
        // With https the stand-in pins the certificate by fingerprint (openssl in its initrd);
        // without, it fetches with busybox wget over plain HTTP.
        https: (setup.https ? { enabled: true, port: pilotHttpsPort } : { enabled: false }) as Record<string, string | number | boolean>,
        tftp: { enabled: true, port: 69, root: '/usr/lib/ipxe' },
        dhcp,
        boot: {
          bios: 'undionly.kpxe',
          uefi_x64: setup.uefiLoader,
          default_action: 'menu',
          unknown: 'menu',
          menu_default: 'local',
          menu_timeout: setup.menuTimeoutSeconds ?? 3,
          ...(setup.loader ? { loader: setup.loader } : {}),
          ...setup.boot,
        },
        answers: (setup.https ? { dir: answers, require_tls: true } : { dir: answers }) as Record<string, string | number | boolean>,
        assets: { dir: assets },
        ...setup.extraSections,
        ...(setup.store ? { store: setup.store } : {}),
      },
      hosts,
    };
    const configFile = own('pxe-pilot.ini');
    await writeFile(configFile, renderIni(spec));
    // As a user would: `pxe-pilot cert` makes the certificate and prints the fingerprint to pin
    // (in the namespace that has [server] interface, which the profile check wants to see).
    this.tls = setup.https
      ? { fingerprint: (await this.net.exec(net.ns, cliArgv(['cert', '--config', configFile]), { timeoutMs: 60_000 })).stdout.trim() }
      : undefined;
    for (const host of setup.installHosts) await writeFile(join(answers, 'hosts', `${host.mac.replace(/:/g, '-')}.toml`), answerFor(host, base, this.tls));
    await writeFile(join(answers, 'default.toml'), defaultAnswer);
    if (setup.mode === 'proxy') {
      const iso = own('proxmox-ve_9.1-standin.iso');
      await buildStandinProxmoxIso(setup.standin, iso, own('iso-tree'));
      await addAssetWithCli(iso, configFile, setup.isoCertFingerprint ? ['--cert-fingerprint', setup.isoCertFingerprint] : []);
    }
    // A loaded runner (QEMU labs beside it) can take more than the default 20 s to start node and tsx.
    return PxePilot.start(this.net, net.ns, { configFile, baseUrl: base, adminToken, spec, startTimeoutMs: 60_000 });
  }

  /**
   * A second LAN (namespace "far", bridge br1) behind a namespace "relay" that routes between it
   * and the boot LAN and runs a DHCP relay agent forwarding the far LAN's DHCP to `servers`
   * (giaddr = 10.78.0.1). The boot LAN gets a route back to the far LAN through the relay, so
   * TFTP and HTTP answers reach the far machines. Ended with the lab, by pid.
   */
  async addFarLanBehindRelay(servers: string[], agent: RelayAgent = 'dhcp-helper'): Promise<{ relay: ChildProcess; log: () => string }> {
    await this.net.addNamespace(farNs);
    await this.net.addBridge(farNs, farLan.bridge, null);
    await this.net.addNamespace(relayNs);
    await this.net.attachToBridge(lanNs, lan.bridge, 'rl-port', relayNs, 'rl0', `${farLan.relayOnBootLan}/${lan.prefix}`);
    await this.net.attachToBridge(farNs, farLan.bridge, 'rl-port', relayNs, 'rl1', `${farLan.relay}/${farLan.prefix}`);
    await this.net.exec(relayNs, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
    await this.net.exec(lanNs, ['ip', 'route', 'add', farLan.subnet, 'via', farLan.relayOnBootLan]);
    const argv =
      agent === 'dhcp-helper'
        ? ['dhcp-helper', '-d', '-i', 'rl1', ...servers.flatMap((s) => ['-s', s])]
        : [...dnsmasqArgv('rl1'), '--log-dhcp', ...servers.map((s) => `--dhcp-relay=${farLan.relay},${s}`)];
    const relay = this.net.spawn(relayNs, argv);
    const out = collectOutput(relay);
    // Both agents bind port 67 at start, and nothing else in the relay namespace does: ready once
    // that socket is there; an exit before that is a failure to start.
    await waitFor(`${agent} to bind port 67 in the relay namespace`, async () => {
      if (relay.exitCode !== null) throw new Error(`${agent} exited at start: ${out.text()}`);
      const sockets = await this.net.exec(relayNs, ['ss', '-H', '-u', '-l', '-n', 'sport = :67']);
      return sockets.stdout.trim() !== '';
    });
    return { relay, log: out.text };
  }

  /** A tap on the bridge and a QEMU machine on it, booting from the network. */
  async bootMachine(req: MachineRequest): Promise<Machine> {
    this.tapCount += 1;
    const tap = `tap${this.tapCount}`;
    const [ns, bridge] = req.farLan ? [farNs, farLan.bridge] : [req.lan?.ns ?? lanNs, req.lan?.bridge ?? lan.bridge];
    await this.net.addTap(ns, tap, bridge);
    const moreNics: { mac: string; tap: string }[] = [];
    for (const mac of req.moreNicMacs ?? []) {
      this.tapCount += 1;
      moreNics.push({ mac, tap: `tap${this.tapCount}` });
      await this.net.addTap(ns, `tap${this.tapCount}`, bridge);
    }
    const machine = await startMachine(this.net, { ...req, moreNics, tap, ns, workDir: this.workDir });
    this.machines.push(machine);
    return machine;
  }

  /** Ends every process the lab started (QEMU, daemons, dnsmasq) by pid and deletes the namespaces. */
  async destroy(): Promise<void> {
    await this.net.destroy();
    if (!process.env.PXP_E2E_KEEP) await rm(this.workDir, { recursive: true, force: true });
  }
}
