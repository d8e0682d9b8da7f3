// The firmware lab, shared by the e2e tests and `npm run demo`: a namespace "lan" with a bridge
// carrying the boot server's address, a tap per QEMU machine on that bridge, and optionally a
// namespace "router" whose dnsmasq hands out addresses (proxy mode) or, as a reference, does the
// whole PXE job itself. Nothing here binds or sends outside the namespaces it creates.
import type { ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectOutput, NetLab, waitFor } from '../helpers/netns.ts';
import { startMachine, type Firmware, type Machine } from '../helpers/qemu.ts';
import { repoRoot, type Standin } from '../helpers/standin.ts';

/** Addresses that exist only inside the lab's namespaces. */
export const lan = {
  bridge: 'br0',
  server: '10.77.0.1',
  prefix: 24,
  netmask: '255.255.255.0',
  router: '10.77.0.254',
  rangeStart: '10.77.0.100',
  rangeEnd: '10.77.0.199',
} as const;

/** Namespace names inside a lab (NetLab prefixes them). */
export const lanNs = 'lan';
export const routerNs = 'router';

export interface MachineRequest {
  name: string;
  firmware: Firmware;
  mac: string;
  serial?: string;
}

/** Whether dnsmasq in the router namespace hands out addresses only, or also does PXE itself. */
export type RouterRole = { kind: 'addresses-only' } | { kind: 'reference-pxe'; standin: Standin };

export const referenceHttpPort = 8081;

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
   * dnsmasq in its own namespace, wired into the bridge as 10.77.0.254: the network's router and
   * DHCP server. It binds port 67 there, so pxe-pilot (proxy mode) can bind 67 in "lan".
   */
  async startRouter(role: RouterRole): Promise<{ dnsmasq: ChildProcess; log: () => string }> {
    await this.net.addNamespace(routerNs);
    await this.net.attachToBridge(lanNs, lan.bridge, 'rt-port', routerNs, 'rt0', `${lan.router}/${lan.prefix}`);
    const argv = [
      'dnsmasq',
      '--keep-in-foreground',
      '--log-facility=-',
      '--conf-file=/dev/null',
      '--port=0',
      '--user=root',
      '--pid-file=',
      '--interface=rt0',
      '--bind-interfaces',
      '--no-ping',
      '--log-dhcp',
      `--dhcp-range=${lan.rangeStart},${lan.rangeEnd},${lan.netmask},10m`,
      `--dhcp-option=option:router,${lan.router}`,
      `--dhcp-leasefile=${this.path('dnsmasq.leases')}`,
    ];
    if (role.kind === 'reference-pxe') argv.push(...(await this.referencePxe(role.standin)));
    const dnsmasq = this.net.spawn(routerNs, argv);
    const out = collectOutput(dnsmasq);
    await waitFor('dnsmasq to start', () => out.text().includes('DHCP, IP range') || dnsmasq.exitCode !== null, 10_000);
    if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${out.text()}`);
    return { dnsmasq, log: out.text };
  }

  /**
   * The reference boot server: dnsmasq's own DHCP+TFTP sends firmware to iPXE and iPXE to a
   * script on busybox httpd, whose CGI answers like an answer server. It proves the lab (tap,
   * firmware, stand-in) without any pxe-pilot code.
   */
  private async referencePxe(standin: Standin): Promise<string[]> {
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
    const webhook = ['#!/bin/sh', `head -c "\${CONTENT_LENGTH:-0}" > ${join(www, 'webhook.json')}`, 'printf "Content-Type: text/plain\\r\\n\\r\\nok\\n"', ''].join('\n');
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
      '--dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi',
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
