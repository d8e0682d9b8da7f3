// One simulated machine going through the whole network boot, as its firmware and then iPXE
// would: DHCP (and ProxyDHCP), the loader over TFTP or HTTP, DHCP again as iPXE, the boot
// scripts over HTTP, then the kernel and initrds they name. Each phase is timed; the first that
// fails ends the probe with the reason.
import { createHash } from 'node:crypto';
import { takeAddress, type AddressBatcher, type AddressHandle } from './address.ts';
import {
  bootTarget,
  DhcpClientPort,
  DhcpType,
  exchange,
  isAddressOffer,
  isProxyOffer,
  leaseOf,
  newXid,
  pxeRequest,
  type BootTarget,
  type DhcpIdentity,
  type DhcpReply,
  type Lease,
} from './dhcp-client.ts';
import { httpFetch } from './http-fetch.ts';
import { expandIpxeVariables, parseIpxeScript, scriptOutcome } from './ipxe-script.ts';
import { tftpFetch } from './tftp-client.ts';

export const ARCHS = ['bios', 'efi64', 'efi64-http', 'ipxe'] as const;
export type ArchName = (typeof ARCHS)[number];

interface ArchProfile {
  code: number;
  vendorClass: string;
  /** How the firmware gets iPXE: TFTP, HTTP (UEFI HTTP boot), or it already runs iPXE. */
  loader: 'tftp' | 'http' | 'none';
  platform: string;
  buildarch: string;
}

const ARCH_PROFILES: Record<ArchName, ArchProfile> = {
  bios: { code: 0, vendorClass: 'PXEClient:Arch:00000:UNDI:002001', loader: 'tftp', platform: 'pcbios', buildarch: 'i386' },
  efi64: { code: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003016', loader: 'tftp', platform: 'efi', buildarch: 'x86_64' },
  'efi64-http': { code: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', loader: 'http', platform: 'efi', buildarch: 'x86_64' },
  ipxe: { code: 7, vendorClass: 'PXEClient:Arch:00007:UNDI:003010', loader: 'none', platform: 'efi', buildarch: 'x86_64' },
};

/** Phase names, stable so a bench can compare them across machines. */
export type PhaseName = 'dhcp' | 'proxy-4011' | 'tftp' | 'http-loader' | 'dhcp-ipxe' | 'proxy-4011-ipxe' | 'bootstrap' | 'boot-script' | 'kernel' | 'initrd';

export interface ProbePhase {
  name: PhaseName;
  ok: boolean;
  ms: number;
  detail: string;
  bytes?: number;
}

export interface ProbeResult {
  ok: boolean;
  mac: string;
  arch: ArchName;
  mode: 'server' | 'proxy';
  interface: string;
  ip?: string;
  phases: ProbePhase[];
  /** The phase that failed and why, when ok is false. */
  failure?: { phase: PhaseName; reason: string };
  totalMs: number;
}

export interface ProbeOptions {
  mac: string;
  arch: ArchName;
  proxy: boolean;
  interface: string;
  /** Accept boot offers only from this address (the DHCP server, or the ProxyDHCP server). */
  server?: string;
  blksize?: number;
  windowsize?: number;
  /** Waits between DHCP resends (the count is the number of sends). */
  dhcpRetryMs?: readonly number[];
  tftpTimeoutMs?: number;
  httpIdleTimeoutMs?: number;
  /** A port-68 socket shared by many probes of one process; else the probe opens its own. */
  dhcpPort?: DhcpClientPort;
  /** Leave the leased address on the interface afterwards (a bench that deletes the namespace). */
  keepAddress?: boolean;
  /** With keepAddress: add addresses in batches shared with the other probes of this process. */
  addressBatcher?: AddressBatcher;
  /** Called as each phase ends (progress on a terminal). */
  onPhase?: (phase: ProbePhase) => void;
}

const DEFAULT_DHCP_RETRY_MS = [1000, 2000, 4000, 8000];
const MAX_CHAINS = 8;
const SCRIPT_KEEP_BYTES = 256 * 1024;

class PhaseFailed extends Error {
  constructor(
    readonly phase: PhaseName,
    reason: string,
  ) {
    super(reason);
  }
}

/** Option 97 for a MAC: stable across runs, different per machine. */
function uuidFor(mac: string): Buffer {
  return createHash('sha256').update(mac).digest().subarray(0, 16);
}

function uuidText(uuid: Buffer): string {
  const h = uuid.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export async function runProbe(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const phases: ProbePhase[] = [];
  const addresses: AddressHandle[] = [];
  const ownPort = options.dhcpPort ? null : await DhcpClientPort.open(options.interface);
  const port = options.dhcpPort ?? ownPort!;
  const result: ProbeResult = {
    ok: false,
    mac: options.mac,
    arch: options.arch,
    mode: options.proxy ? 'proxy' : 'server',
    interface: options.interface,
    phases,
    totalMs: 0,
  };

  /** Runs one phase, timing it; a thrown PhaseFailed (or any error) becomes the failure. */
  const phase = async <T>(name: PhaseName, work: () => Promise<{ value: T; detail: string; bytes?: number }>): Promise<T> => {
    const t0 = performance.now();
    try {
      const { value, detail, bytes } = await work();
      phases.push({ name, ok: true, ms: performance.now() - t0, detail, ...(bytes !== undefined ? { bytes } : {}) });
      options.onPhase?.(phases.at(-1)!);
      return value;
    } catch (err) {
      const reason = (err as Error).message;
      phases.push({ name, ok: false, ms: performance.now() - t0, detail: reason });
      options.onPhase?.(phases.at(-1)!);
      throw new PhaseFailed(name, reason);
    }
  };

  try {
    const arch = ARCH_PROFILES[options.arch];
    const uuid = uuidFor(options.mac);
    const firmware: DhcpIdentity = {
      mac: options.mac,
      arch: arch.code,
      vendorClass: arch.vendorClass,
      uuid,
      ...(arch.loader === 'none' ? { userClass: 'iPXE' } : {}),
    };
    const retry = options.dhcpRetryMs ?? DEFAULT_DHCP_RETRY_MS;
    const ctx: DhcpContext = {
      port,
      options,
      retry,
      takeAddress: async (lease) => {
        if (options.keepAddress && options.addressBatcher) await options.addressBatcher.take(options.interface, lease.ip, lease.prefixLength);
        else addresses.push(await takeAddress(options.interface, lease.ip, lease.prefixLength));
      },
    };

    let scriptUrl: string;
    let lease: Lease;
    if (arch.loader === 'none') {
      ({
        lease,
        target: { file: scriptUrl },
      } = await dhcpRound(ctx, phase, firmware, 'dhcp', 'proxy-4011', true));
    } else {
      const first = await dhcpRound(ctx, phase, firmware, 'dhcp', 'proxy-4011', false);
      lease = first.lease;
      const { target } = first;
      if (arch.loader === 'tftp') {
        if (/^[a-z]+:\/\//i.test(target.file))
          throw new PhaseFailed('tftp', `the offer names ${target.file}, a URL, where PXE firmware needs a TFTP file name`);
        await phase('tftp', async () => {
          const r = await tftpFetch({
            server: target.server,
            file: target.file,
            localAddress: lease.ip,
            interface: options.interface,
            blksize: options.blksize ?? 1468,
            windowsize: options.windowsize ?? 4,
            timeoutMs: options.tftpTimeoutMs ?? 1000,
          });
          if (!r.ok) throw new Error(`${target.file} from ${target.server}: ${r.reason}`);
          return {
            value: null,
            bytes: r.bytes,
            detail: `${target.file} from ${target.server}: ${r.bytes} bytes, blksize ${r.blksize}, windowsize ${r.windowsize}`,
          };
        });
      } else {
        await phase('http-loader', () => download(target.file, lease.ip, options, 'loader'));
      }
      const ipxe: DhcpIdentity = {
        ...firmware,
        arch: arch.code === 16 ? 7 : arch.code,
        vendorClass: arch.code === 0 ? 'PXEClient:Arch:00000:UNDI:002001' : 'PXEClient:Arch:00007:UNDI:003010',
        userClass: 'iPXE',
      };
      const second = await dhcpRound(ctx, phase, ipxe, 'dhcp-ipxe', 'proxy-4011-ipxe', true);
      lease = second.lease;
      scriptUrl = second.target.file;
    }
    result.ip = lease.ip;

    const vars: Record<string, string> = {
      mac: options.mac,
      'mac:hexhyp': options.mac.replace(/:/g, '-'),
      'mac:hexraw': options.mac.replace(/:/g, ''),
      'net0/mac': options.mac,
      'net0/mac:hexhyp': options.mac.replace(/:/g, '-'),
      ip: lease.ip,
      'net0/ip': lease.ip,
      buildarch: arch.buildarch,
      platform: arch.platform,
      uuid: uuidText(uuid),
      serial: '',
    };
    if (!/^http:\/\//i.test(scriptUrl))
      throw new PhaseFailed(
        'bootstrap',
        `iPXE was offered ${JSON.stringify(scriptUrl)}, not an http:// script URL (does the server recognise user class iPXE?)`,
      );
    let url = scriptUrl;
    for (let chains = 0; ; chains++) {
      const name: PhaseName = chains === 0 ? 'bootstrap' : 'boot-script';
      if (chains > MAX_CHAINS) throw new PhaseFailed(name, `more than ${MAX_CHAINS} scripts chained one after another`);
      const outcome = await phase(name, async () => {
        const r = await httpFetch(url, { localAddress: lease.ip, keepBytes: SCRIPT_KEEP_BYTES, idleTimeoutMs: options.httpIdleTimeoutMs ?? 30_000 });
        if (!r.ok) throw new Error(r.reason);
        const parsed = parseIpxeScript(r.text);
        if (!parsed.ok) throw new Error(`${url}: ${parsed.reason}`);
        const next = scriptOutcome(parsed.commands);
        if (next.kind === 'exit') throw new Error(`${url} returns to the firmware${next.said.length ? `: ${next.said.join(' / ')}` : ' without saying why'}`);
        const what = next.kind === 'chain' ? `chains to ${next.url}` : `loads ${next.kernel.url} and ${next.initrds.length} initrd(s)`;
        return { value: next, bytes: r.bytes, detail: `${url}: ${what}` };
      });
      const resolve = (u: string): string => new URL(expandIpxeVariables(u, vars), url).toString();
      if (outcome.kind === 'chain') {
        url = resolve(outcome.url);
        continue;
      }
      await phase('kernel', () => download(resolve(outcome.kernel.url), lease.ip, options, 'kernel'));
      if (outcome.initrds.length > 0) {
        await phase('initrd', async () => {
          let bytes = 0;
          for (const initrd of outcome.initrds) bytes += (await download(resolve(initrd.url), lease.ip, options, 'initrd')).bytes;
          return { value: null, bytes, detail: `${outcome.initrds.length} initrd(s): ${outcome.initrds.map((i) => i.name ?? i.url).join(', ')}` };
        });
      }
      break;
    }
    result.ok = true;
  } catch (err) {
    if (err instanceof PhaseFailed) result.failure = { phase: err.phase, reason: err.message };
    else result.failure = { phase: phases.at(-1)?.name ?? 'dhcp', reason: (err as Error).message };
  } finally {
    if (!options.keepAddress) for (const a of addresses.reverse()) await a.remove();
    await ownPort?.close();
    result.totalMs = performance.now() - started;
  }
  return result;
}

async function download(url: string, localAddress: string, options: ProbeOptions, what: string): Promise<{ value: null; bytes: number; detail: string }> {
  const r = await httpFetch(url, { localAddress, idleTimeoutMs: options.httpIdleTimeoutMs ?? 30_000 });
  if (!r.ok) throw new Error(`${what} ${url}: ${r.reason}`);
  return { value: null, bytes: r.bytes, detail: `${url}: ${r.bytes} bytes` };
}

interface DhcpContext {
  port: DhcpClientPort;
  options: ProbeOptions;
  retry: readonly number[];
  takeAddress: (lease: Lease) => Promise<void>;
}

type PhaseRunner = <T>(name: PhaseName, work: () => Promise<{ value: T; detail: string; bytes?: number }>) => Promise<T>;

/**
 * DISCOVER, OFFER(s), REQUEST, ACK; in proxy mode also the ProxyDHCP offer and, where the
 * client would (UEFI without discovery control 8, and iPXE), the REQUEST to port 4011.
 */
async function dhcpRound(
  ctx: DhcpContext,
  phase: PhaseRunner,
  id: DhcpIdentity,
  name: PhaseName,
  proxyName: PhaseName,
  isIpxe: boolean,
): Promise<{ lease: Lease; target: BootTarget }> {
  const { port, options, retry } = ctx;
  const xid = newXid();
  const wanted = (r: DhcpReply): boolean => !options.server || r.from === options.server || leaseOf(r).serverId === options.server;
  const broadcast = { address: '255.255.255.255', port: 67 };

  const { lease, target, proxyOffer } = await phase(name, async () => {
    const offers = await exchange(port, pxeRequest(DhcpType.DISCOVER, id, xid), id.mac, broadcast, retry, (replies, final) => {
      const address = replies.find((r) => isAddressOffer(r) && (options.proxy || wanted(r)));
      const proxy = options.proxy ? replies.find((r) => isProxyOffer(r) && wanted(r)) : undefined;
      if (address && (!options.proxy || proxy || final)) return { address, proxy };
      return null;
    });
    if (!offers) throw new Error(`no OFFER${options.server ? ` from ${options.server}` : ''} after ${retry.length} DISCOVERs`);
    if (options.proxy && !offers.proxy)
      throw new Error(
        `${offers.address.from} offered ${offers.address.packet.yiaddr}, but no ProxyDHCP server${options.server ? ` at ${options.server}` : ''} offered a boot file`,
      );
    const offer = offers.address;
    const serverId = leaseOf(offer).serverId;
    const request = pxeRequest(DhcpType.REQUEST, id, xid, { serverId, requestedIp: offer.packet.yiaddr });
    const ack = await exchange(
      port,
      request,
      id.mac,
      broadcast,
      retry,
      (replies) => replies.find((r) => (r.type === DhcpType.ACK || r.type === DhcpType.NAK) && leaseOf(r).serverId === serverId) ?? null,
    );
    if (!ack) throw new Error(`no ACK from ${serverId} after ${retry.length} REQUESTs for ${offer.packet.yiaddr}`);
    if (ack.type === DhcpType.NAK) throw new Error(`${serverId} refused ${offer.packet.yiaddr} (NAK)`);
    const leased = leaseOf(ack);
    const bootFrom = offers.proxy ?? offer;
    const target = (offers.proxy ? null : bootTarget(ack)) ?? bootTarget(bootFrom);
    if (!target && !options.proxy) throw new Error(`${serverId} leased ${leased.ip} but named no boot file`);
    const detail = `${leased.ip}/${leased.prefixLength} from ${serverId}${target ? `, boot file ${target.file} on ${target.server}` : ''}${offers.proxy ? ` (ProxyDHCP ${offers.proxy.from})` : ''}`;
    return { value: { lease: leased, target, proxyOffer: offers.proxy }, detail };
  });
  // The simulator's own work (configuring the lease), outside the timed phase.
  try {
    await ctx.takeAddress(lease);
  } catch (err) {
    throw new PhaseFailed(name, (err as Error).message);
  }

  if (!proxyOffer) return { lease, target: target! };
  // EDK2 PXE asks port 4011 when the offer lacks discovery control 8 (UEFI HTTP boot never
  // does); iPXE always asks, and falls back on the offer.
  const ask4011 = isIpxe || (id.vendorClass.startsWith('PXEClient') && !(target?.useOfferedFile ?? false));
  if (!ask4011 && target) return { lease, target };
  const proxyServer = options.server ?? proxyOffer.from;
  const fromProxy = await phase(proxyName, async () => {
    const request = pxeRequest(DhcpType.REQUEST, id, xid, { ciaddr: lease.ip, broadcast: false });
    const ack = await exchange(
      port,
      request,
      id.mac,
      { address: proxyServer, port: 4011 },
      retry.slice(0, 2),
      (replies) => replies.find((r) => r.type === DhcpType.ACK) ?? null,
    );
    const got = ack ? bootTarget(ack) : null;
    if (got) return { value: got, detail: `boot file ${got.file} on ${got.server}` };
    if (isIpxe && target) return { value: target, detail: `no answer on ${proxyServer}:4011; iPXE keeps the offer's ${target.file}` };
    throw new Error(ack ? `${proxyServer}:4011 answered without a boot file` : `no ACK from ${proxyServer}:4011 after ${Math.min(2, retry.length)} REQUESTs`);
  });
  return { lease, target: fromProxy };
}
