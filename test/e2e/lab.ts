// The firmware lab, shared by the e2e tests and `npm run demo`: a namespace "lan" with a bridge
// carrying the boot server's address, a tap per QEMU machine on that bridge, and optionally a
// namespace "router" whose dnsmasq hands out addresses (proxy mode) or, as a reference, does the
// whole PXE job itself. Nothing here binds or sends outside the namespaces it creates.
import { dnsmasqArgv } from '../helpers/dnsmasq.ts';
import type { ChildProcess } from 'node:child_process';
import { chmod, copyFile, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectOutput, NetLab, waitFor } from '../helpers/netns.ts';
import { startMachine, type Firmware, type Machine } from '../helpers/qemu.ts';
import { PxePilot, renderIni, type HostSection } from '../helpers/daemon.ts';
import { addAssetWithCli, buildStandinProxmoxIso } from '../helpers/standin-iso.ts';
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
}

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

/** The answer file a user writes for one machine (hosts/<mac with hyphens>.toml). */
export function answerFor(host: InstallHost): string {
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
    `url = "${pilotBase}/webhook/proxmox"`,
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
  /** [boot] loader (absent: the default, ipxe); grub also needs the image folders readable over TFTP. */
  loader?: 'ipxe' | 'grub' | 'ipxe-shim';
  /** More [host] sections, written as they are (e.g. a host with its own loader or profile). */
  extraHosts?: HostSection[];
}

/** Hard link when possible (same file system, no copy), else a copy; pxe-pilot serves no symlinks. */
async function place(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}

export class BootLab {
  private tapCount = 0;
  readonly machines: Machine[] = [];

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
  async startRouter(role: RouterRole): Promise<{ dnsmasq: ChildProcess; log: () => string }> {
    await this.net.addNamespace(routerNs);
    await this.net.attachToBridge(lanNs, lan.bridge, 'rt-port', routerNs, 'rt0', `${lan.router}/${lan.prefix}`);
    await this.net.exec(routerNs, ['ip', '-6', 'addr', 'add', `${lan.routerV6}/64`, 'dev', 'rt0', 'nodad']);
    const argv = [...dnsmasqArgv('rt0'), '--enable-ra', '--dhcp-range=::,constructor:rt0,ra-only', `--dhcp-leasefile=${this.path('dnsmasq.leases')}`];
    if (role.kind !== 'router-advertisements-only') {
      argv.push('--no-ping', '--log-dhcp', `--dhcp-range=${lan.rangeStart},${lan.rangeEnd},${lan.netmask},10m`, `--dhcp-option=option:router,${lan.router}`);
    }
    if (role.kind === 'reference-pxe') argv.push(...(await this.referencePxe(role.standin, role.uefiLoader)));
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
    const answers = this.path('answers');
    const assets = this.path('assets');
    const imageDir = join(assets, ...standinProfile.split('/'));
    await mkdir(join(answers, 'hosts'), { recursive: true });
    await mkdir(assets, { recursive: true });
    await mkdir(this.path('state'), { recursive: true });
    if (setup.mode === 'server') {
      // Copied by hand, as before `assets add`: the answer URL comes from DHCP option 250.
      await mkdir(imageDir, { recursive: true });
      await place(setup.standin.kernel, join(imageDir, 'vmlinuz'));
      await place(setup.standin.initrd, join(imageDir, 'initrd'));
      await writeFile(join(imageDir, 'cmdline'), 'console=ttyS0 quiet\n');
    }
    for (const host of setup.installHosts) await writeFile(join(answers, 'hosts', `${host.mac.replace(/:/g, '-')}.toml`), answerFor(host));
    await writeFile(join(answers, 'default.toml'), defaultAnswer);

    const dhcp: Record<string, string | number> = { mode: setup.mode };
    if (setup.mode === 'server') Object.assign(dhcp, { range_start: lan.rangeStart, range_end: lan.rangeEnd, netmask: lan.netmask, lease_time: 600 });
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
        server: { address: lan.server, interface: lan.bridge, state_dir: this.path('state'), log_level: 'debug' },
        http: { port: pilotHttpPort, bind: '0.0.0.0', admin_token: adminToken },
        // The installer stand-in fetches with busybox wget, which cannot pin a certificate;
        // HTTPS and require_tls are covered in test/http/tls.test.ts.
        https: { enabled: false },
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
        },
        answers: { dir: answers },
        assets: { dir: assets },
      },
      hosts,
    };
    const configFile = this.path('pxe-pilot.ini');
    if (setup.mode === 'proxy') {
      await writeFile(configFile, renderIni(spec));
      const iso = this.path('proxmox-ve_9.1-standin.iso');
      await buildStandinProxmoxIso(setup.standin, iso, this.path('iso-tree'));
      await addAssetWithCli(iso, configFile);
    }
    return PxePilot.start(this.net, lanNs, { configFile, baseUrl: pilotBase, adminToken, spec });
  }

  /** A tap on the bridge and a QEMU machine on it, booting from the network. */
  async bootMachine(req: MachineRequest): Promise<Machine> {
    this.tapCount += 1;
    const tap = `tap${this.tapCount}`;
    await this.net.addTap(lanNs, tap, lan.bridge);
    const machine = await startMachine(this.net, { ...req, tap, ns: lanNs, workDir: this.workDir });
    this.machines.push(machine);
    return machine;
  }

  /** Ends every process the lab started (QEMU, daemons, dnsmasq) by pid and deletes the namespaces. */
  async destroy(): Promise<void> {
    await this.net.destroy();
    if (!process.env.PXP_E2E_KEEP) await rm(this.workDir, { recursive: true, force: true });
  }
}
