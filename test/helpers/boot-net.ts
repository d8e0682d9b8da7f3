// A boot LAN in namespaces for the probe tests and the storm bench: pxe-pilot in server mode on
// a bridge, or in proxy mode beside a dnsmasq router; clients in a namespace of their own with
// eth0 on the bridge. Addresses exist only inside the namespaces.
import { dnsmasqArgv } from './dnsmasq.ts';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectOutput, NetLab, waitFor } from './netns.ts';
import { PxePilot, type HostSection } from './daemon.ts';

export const net = {
  bridge: 'br0',
  pxe: '10.77.0.1',
  router: '10.77.0.254',
  prefix: 16,
  netmask: '255.255.0.0',
  rangeStart: '10.77.1.0',
  rangeEnd: '10.77.15.255',
} as const;
export const httpPort = 8080;
export const httpBase = `http://${net.pxe}:${httpPort}`;
export const installProfile = 'debian/12';

/** The files a machine loads: iPXE loaders for TFTP, and a kernel and initrd of the given sizes. */
export function writeBootFiles(dir: string, kernelBytes: number, initrdBytes: number): { tftpRoot: string; assets: string } {
  const tftpRoot = join(dir, 'tftp');
  const assets = join(dir, 'assets');
  const image = join(assets, ...installProfile.split('/'));
  mkdirSync(tftpRoot, { recursive: true });
  mkdirSync(image, { recursive: true });
  for (const f of ['undionly.kpxe', 'snponly.efi']) copyFileSync(`/usr/lib/ipxe/${f}`, join(tftpRoot, f));
  writeSized(join(image, 'vmlinuz'), kernelBytes);
  writeSized(join(image, 'initrd'), initrdBytes);
  return { tftpRoot, assets };
}

/** A file of `bytes` bytes, written in 1 MiB pieces (never the whole file in memory). */
function writeSized(path: string, bytes: number): void {
  const chunk = Buffer.alloc(Math.min(bytes, 1 << 20), 0x5a);
  writeFileSync(path, '');
  for (let left = bytes; left > 0; left -= chunk.length) writeFileSync(path, left >= chunk.length ? chunk : chunk.subarray(0, left), { flag: 'a' });
}

export type Mode = 'server' | 'proxy';

/**
 * Namespaces: "lan" holds the bridge (and pxe-pilot on it, 10.77.0.1), "clients" has eth0 on the
 * bridge with no address (the probes lease theirs), "router" (proxy mode) runs dnsmasq.
 */
export async function buildBootNet(lab: NetLab, mode: Mode, dir: string): Promise<void> {
  await lab.addNamespace('lan');
  await lab.addBridge('lan', net.bridge, `${net.pxe}/${net.prefix}`);
  await lab.addNamespace('clients');
  await lab.attachToBridge('lan', net.bridge, 'p-clients', 'clients', 'eth0', null);
  // Many leased addresses on one eth0: removing the first must not remove the others.
  await lab.exec('clients', ['sysctl', '-qw', 'net.ipv4.conf.eth0.promote_secondaries=1']);
  if (mode === 'proxy') {
    await lab.addNamespace('router');
    await lab.attachToBridge('lan', net.bridge, 'p-router', 'router', 'rt0', `${net.router}/${net.prefix}`);
    const dnsmasq = lab.spawn('router', [
      ...dnsmasqArgv('rt0'),
      '--no-ping',
      '--dhcp-lease-max=70000',
      '--quiet-dhcp',
      `--dhcp-range=${net.rangeStart},${net.rangeEnd},${net.netmask},1h`,
      `--dhcp-option=option:router,${net.router}`,
      `--dhcp-leasefile=${join(dir, 'router.leases')}`,
    ]);
    const out = collectOutput(dnsmasq);
    await waitFor('the router dnsmasq to start', () => out.text().includes('DHCP, IP range') || dnsmasq.exitCode !== null);
    if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${out.text()}`);
  }
}

export interface PilotOptions {
  mode: Mode;
  dir: string;
  tftpRoot: string;
  assets: string;
  installMacs: string[];
  logLevel?: string;
  maxTransfers?: number;
}

export const adminToken = 'probe-admin-token-0123456789';

export async function startPilot(lab: NetLab, o: PilotOptions): Promise<PxePilot> {
  const dhcp: Record<string, string | number> = { mode: o.mode };
  if (o.mode === 'server') Object.assign(dhcp, { range_start: net.rangeStart, range_end: net.rangeEnd, netmask: net.netmask, lease_time: 3600 });
  const hosts: HostSection[] = o.installMacs.map((mac) => ({ mac, action: 'install', profile: installProfile }));
  mkdirSync(join(o.dir, 'state'), { recursive: true });
  mkdirSync(join(o.dir, 'answers'), { recursive: true });
  return PxePilot.start(lab, 'lan', {
    configFile: join(o.dir, 'pxe-pilot.ini'),
    baseUrl: httpBase,
    adminToken,
    startTimeoutMs: 60_000,
    spec: {
      sections: {
        server: { address: net.pxe, interface: net.bridge, state_dir: join(o.dir, 'state'), log_level: o.logLevel ?? 'info' },
        http: { port: httpPort, bind: '0.0.0.0', admin_token: adminToken },
        // The simulated machines fetch scripts and kernels only, which stay on plain HTTP.
        https: { enabled: false },
        tftp: { enabled: true, port: 69, root: o.tftpRoot, max_transfers: o.maxTransfers ?? 500, max_transfers_per_client: 8 },
        dhcp,
        boot: { bios: 'undionly.kpxe', uefi_x64: 'snponly.efi', default_action: 'menu', unknown: 'menu', menu_default: 'local', menu_timeout: 1 },
        answers: { dir: join(o.dir, 'answers') },
        assets: { dir: o.assets },
      },
      hosts,
    },
  });
}
