// `pxe-pilot explain <mac>` and GET /nodes/<mac>/explain: one machine's recent DHCP, ProxyDHCP,
// TFTP and HTTP events, oldest first, with each decision's reason, and what to check when a
// step is missing. Read-only: it only reads the event log and the node back.
import { detailOf, type EventProtocol } from './boot/events.ts';
import { archLabel } from './boot/client.ts';
import { SIGNED_CHAINS } from './boot/loaders.ts';
import type { EventLog, NodeLookup, NodeRecord, StoredEvent } from './boot/ports.ts';

/** What explain reads: the event log and the node table. */
import { settingsFor, type SettingsProfile } from './boot/settings.ts';

export type ExplainSource = EventLog & NodeLookup;

export interface ExplainOptions {
  /** Most events shown (default 50). */
  limit?: number;
  /** The present, for "x min ago" (default Date.now()). */
  now?: number;
  /** What the profile says about DHCP: with mode off, hints speak of the router's DHCP server. */
  dhcp?: DhcpFacts;
  /** The profile's [host], [rule] sections: says where the machine's settings come from, and why earlier rules did not match. */
  settings?: SettingsProfile;
}

/** What the router's DHCP must send when pxe-pilot answers no DHCP itself. */
export interface DhcpFacts {
  mode: 'off' | 'proxy' | 'server';
  /** next-server: our address. */
  server: string;
  /** The firmware's boot files ([boot] bios, uefi_x64), served over TFTP. */
  biosFile: string;
  uefiFile: string;
  /** What iPXE must be sent: http://<address>[:port]/boot.ipxe */
  bootstrapUrl: string;
}

/** The DhcpFacts of a profile. */
export function dhcpFacts(profile: {
  dhcp: { mode: DhcpFacts['mode'] };
  server: { address: string };
  http: { port: number };
  boot: { bios: string; uefiX64: string };
}): DhcpFacts {
  const port = profile.http.port === 80 ? '' : `:${profile.http.port}`;
  // Offline (explain from the CLI) the address may be unknown: say what it stands for.
  const address = profile.server.address || '<this host>';
  return {
    mode: profile.dhcp.mode,
    server: address,
    biosFile: profile.boot.bios,
    uefiFile: profile.boot.uefiX64,
    bootstrapUrl: `http://${address}${port}/boot.ipxe`,
  };
}

/** What the router must send, in the words of its settings. */
function routerMustSend(f: DhcpFacts): string[] {
  return [
    "[dhcp] mode = off: pxe-pilot answers no DHCP, so the router's DHCP server sends machines here. It must send:",
    `  - to the firmware's PXE request: next-server ${f.server} and file ${f.biosFile} (BIOS) or ${f.uefiFile} (UEFI x64);`,
    `  - to iPXE's own request (user-class "iPXE"): file ${f.bootstrapUrl}. Sending iPXE the firmware file again makes it load itself in a loop.`,
    '  docs/install.md ("The router\'s DHCP server, mode = off") has the settings for dnsmasq, ISC dhcpd, Kea, MikroTik, OPNsense/pfSense and a router with only "next server" and "file name".',
  ];
}

/** What the router's answers led to, read from TFTP and HTTP events (mode off records no DHCP). */
function routerSeen(f: DhcpFacts, tftp: StoredEvent[], http: StoredEvent[], now: number): string[] {
  const loaders = new Set([f.biosFile, f.uefiFile].filter(Boolean));
  const loads = tftp.filter((e) => {
    const file = tftpFile(e);
    return file !== undefined && loaders.has(file);
  });
  const boots = http.filter((e) => e.kind === 'GET /boot');
  const out: string[] = [];
  if (loads.length === 0 && boots.length === 0) {
    out.push(
      `Seen: no machine has loaded ${[...loaders].join(' or ')} over TFTP or asked for its script over HTTP in the recorded events: the router is not sending machines here yet (next-server and file name above), or a firewall drops UDP 69.`,
    );
    return out;
  }
  const httpFrom = new Set(http.map((e) => text(detailOf(e, 'http')?.ip)).filter((ip) => ip !== undefined));
  const byAddress = new Map<string, StoredEvent[]>();
  for (const e of loads) {
    const client = text(detailOf(e, 'tftp')?.client);
    if (client) byAddress.set(client, [...(byAddress.get(client) ?? []), e]);
  }
  const looping = [...byAddress].filter(([ip, es]) => es.length >= 2 && !httpFrom.has(ip));
  for (const [ip, es] of looping.slice(0, 5)) {
    const file = tftpFile(es.at(-1)!)!;
    out.push(
      `Seen: ${ip} loaded ${file} ${es.length} times (last ${ago(es.at(-1)!.time, now)}) and never asked for its script over HTTP: the router hands iPXE the firmware file again. Make it answer user-class "iPXE" with ${f.bootstrapUrl}.`,
    );
  }
  if (looping.length === 0)
    out.push(
      `Seen: ${loads.length} TFTP load(s) of the boot file, ${boots.length} script request(s) from iPXE (GET /boot)${boots.length > 0 ? ": the router's DHCP sends machines here" : ''}.`,
    );
  return out;
}

const LABELS: Record<EventProtocol, string> = {
  dhcp: 'DHCP',
  proxydhcp: 'ProxyDHCP',
  tftp: 'TFTP',
  http: 'HTTP',
  answer: 'Answer',
  webhook: 'Webhook',
  admin: 'Admin',
  daemon: 'Daemon',
  agent: 'Agent',
};

// How far back TFTP events are searched for this machine's IPs (TFTP names no MAC).
const TFTP_SCAN = 5000;
const BACKGROUND_SCAN = 2000;

// UTC, like the log, the admin API and every other reason.
function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

const isAddress = (ip: string | undefined): ip is string => ip !== undefined && ip !== '0.0.0.0' && /^\d{1,3}(\.\d{1,3}){3}$/.test(ip);

/** Every IPv4 address this machine was seen with: the node's last one and those its events carry. */
function addressesOf(node: NodeRecord | undefined, events: StoredEvent[]): Set<string> {
  const ips = new Set<string>();
  const add = (ip: string | undefined): void => {
    if (isAddress(ip)) ips.add(ip);
  };
  add(node?.lastIp ?? undefined);
  for (const e of events) {
    // detail.ip is the machine's own address, except in admin events (the admin's) and TFTP (none).
    switch (e.protocol) {
      case 'dhcp':
      case 'http':
      case 'answer':
      case 'webhook':
      case 'agent':
        add(text(e.detail?.ip));
        break;
      case 'proxydhcp':
        add(text(e.detail?.ip));
        // A proxy request's source is the machine itself unless a relay forwarded it.
        if (e.detail?.relay === undefined) add(text(e.detail?.from));
        break;
    }
  }
  return ips;
}

function describeEvent(e: StoredEvent, mac: string): string {
  const label = LABELS[e.protocol] ?? e.protocol;
  let who = '';
  if (e.mac === null) {
    const client = text(detailOf(e, 'tftp')?.client);
    who = client ? ` from ${client}` : '';
  } else if (e.mac !== mac) {
    who = ` (${e.mac})`;
  }
  return `${clock(e.time)} ${label} ${e.kind}${who} → ${e.decision}: ${e.reason}`;
}

function describeNode(node: NodeRecord, now: number): string[] {
  const lines = [
    `Known since ${day(node.firstSeen)} ${clock(node.firstSeen)}, last heard ${ago(node.lastSeen, now)} (${day(node.lastSeen)} ${clock(node.lastSeen)}).`,
  ];
  const facts: string[] = [];
  if (node.lastIp) facts.push(`last address ${node.lastIp}`);
  if (node.arch !== null) facts.push(archLabel(node.arch));
  if (node.firmware) facts.push(`firmware ${node.firmware}`);
  if (node.hostname) facts.push(`hostname ${node.hostname}`);
  if (node.uuid) facts.push(`uuid ${node.uuid}`);
  if (facts.length) lines.push(`Seen with ${facts.join(', ')}.`);
  let state: string;
  switch (node.state) {
    case 'install-pending':
      state = `install pending${node.profile ? ` (${node.profile})` : ''}, armed by ${node.armedBy ?? 'unknown'}${node.armedAt ? ` at ${day(node.armedAt)} ${clock(node.armedAt)}` : ''}: the next network boot installs`;
      break;
    case 'installing':
      state = `installing: the install was consumed${node.consumedAt ? ` at ${clock(node.consumedAt)}` : ''}; further network boots go to the local disk`;
      break;
    case 'installed':
      state = `installed${node.installedAt ? ` at ${day(node.installedAt)} ${clock(node.installedAt)}` : ''}${node.fqdn ? ` as ${node.fqdn}` : ''}; network boots go to the local disk`;
      break;
    case 'deploy-failed': {
      // The agent's report: what failed and, on a digest mismatch, both digests.
      const report = node.installReport as { reason?: unknown; expected?: unknown; received?: unknown } | null;
      const why = typeof report?.reason === 'string' ? report.reason : 'no reason kept';
      const digests =
        typeof report?.expected === 'string' && typeof report.received === 'string' && report.expected !== report.received
          ? ` (expected sha256 ${report.expected}, received ${report.received})`
          : '';
      state = `deploy failed${node.profile ? ` (${node.profile})` : ''}: ${why}${why.includes('expected sha256') ? '' : digests}; network boots go to the local disk until it is re-armed`;
      break;
    }
    case 'wipe-pending':
      state = `wipe pending, armed by ${node.armedBy ?? 'unknown'}${node.armedAt ? ` at ${day(node.armedAt)} ${clock(node.armedAt)}` : ''}: the next network boot wipes its disks, once`;
      break;
    case 'wiping':
      state = `wiping: the wipe was consumed${node.consumedAt ? ` at ${clock(node.consumedAt)}` : ''}, no result yet; further network boots go to the local disk`;
      break;
    default: {
      // A released machine keeps its wipe report: how each disk was cleared, or why not.
      const report = node.installReport as { wipe?: unknown; ok?: unknown; reason?: unknown } | null;
      state =
        report?.wipe === true && typeof report.reason === 'string'
          ? `seen (no install armed); released by a wipe that ${report.ok === true ? `cleared ${report.reason}` : `failed: ${report.reason}`}`
          : 'seen (no install armed)';
    }
  }
  lines.push(`State: ${state}.`);
  return lines;
}

function bootFileOf(e: StoredEvent): string | undefined {
  return text(detailOf(e, 'dhcp')?.bootFile ?? detailOf(e, 'proxydhcp')?.bootFile);
}

function tftpFile(e: StoredEvent): string | undefined {
  return e.protocol === 'tftp' && e.decision === 'served' ? text(detailOf(e, 'tftp')?.file)?.replace(/^\/+/, '') : undefined;
}

const baseName = (path: string): string => path.slice(path.lastIndexOf('/') + 1);
const UNSIGNED_IPXE = /^(snponly|ipxe)(-[a-z0-9]+)?\.efi$/;
const SHIMS = new Set(SIGNED_CHAINS.map((c) => c.shim));
const GRUBS = new Set(SIGNED_CHAINS.map((c) => c.grub));

/**
 * Where a UEFI machine's trail ends in the Secure Boot chain: an unsigned iPXE fetched and never
 * heard from again; shim and GRUB fetched but GRUB never asked for its configuration (proxy mode:
 * it asked the router); or a kernel fetched by GRUB and nothing after it (refused by shim).
 */
function secureBootHints(events: StoredEvent[]): string[] {
  const fetched = events.map((e) => ({ e, file: tftpFile(e) })).filter((f): f is { e: StoredEvent; file: string } => f.file !== undefined);
  const lastIpxe = fetched.filter((f) => UNSIGNED_IPXE.test(baseName(f.file))).at(-1);
  if (lastIpxe && !events.some((e) => e.id > lastIpxe.e.id && e.protocol === 'http')) {
    return [
      `Secure Boot? use loader = grub (or ipxe-shim) for this host: the firmware loaded ${lastIpxe.file} over TFTP at ${clock(lastIpxe.e.time)} but iPXE never came back over HTTP. Debian's iPXE is unsigned, and UEFI Secure Boot refuses it ("Access Denied" on the console). Set loader = grub in its [host] section (or [boot]), or turn Secure Boot off.`,
    ];
  }
  const lastGrub = fetched.filter((f) => GRUBS.has(baseName(f.file))).at(-1);
  if (!lastGrub) return [];
  const config = events.filter((e) => e.id > lastGrub.e.id && e.code === 'grub-config').at(-1);
  if (!config) {
    const shim = fetched.some((f) => SHIMS.has(baseName(f.file)) && f.e.id < lastGrub.e.id);
    return [
      `${shim ? 'shim and ' : ''}${lastGrub.file} were fetched, then silence: GRUB never asked for its configuration. Debian 12's GRUB reads only the DHCP server's ACK, never a ProxyDHCP offer, so beside a router it looks for grub.cfg on the router's next-server. Make the router hand out this host as next-server (dnsmasq: dhcp-boot=,,<this host>; ISC dhcpd: next-server; others: option 66), or use loader = ipxe-shim in proxy mode.`,
    ];
  }
  const lastFile = fetched.at(-1);
  // The firmware may try its next entries (DHCP again) after GRUB gives up; the installer never spoke.
  const installerSpoke = (after: number): boolean =>
    events.some((e) => e.id > after && (e.protocol === 'answer' || e.protocol === 'http' || e.protocol === 'webhook'));
  if (config.decision === 'install' && lastFile && lastFile.e.id > config.id && !installerSpoke(lastFile.e.id)) {
    return [
      `GRUB loaded ${lastFile.file} over TFTP at ${clock(lastFile.e.time)} and nothing followed. Under Secure Boot shim refuses a kernel not signed by a key it trusts ("bad shim signature" on the console): use a signed kernel (Debian's linux-image-*-amd64, not -unsigned), or turn Secure Boot off.`,
    ];
  }
  return [];
}

/** What to check when the machine's trail stops, read from its last events. */
function nextSteps(events: StoredEvent[]): string[] {
  const last = events.at(-1);
  if (!last) return [];
  // Only answers that named a boot file: a plain lease (an installed OS renewing) asks for nothing.
  const offers = events.filter(
    (e) => (e.protocol === 'proxydhcp' || e.protocol === 'dhcp') && (e.decision === 'offer' || e.decision === 'ack') && bootFileOf(e) !== undefined,
  );
  const lastOffer = offers.at(-1);
  const after = lastOffer ? events.filter((e) => e.id > lastOffer.id && (e.protocol === 'tftp' || e.protocol === 'http')) : [];
  const hints: string[] = secureBootHints(events);
  if (last.decision === 'silence' && (last.protocol === 'proxydhcp' || last.protocol === 'dhcp')) {
    hints.push(`The last ${LABELS[last.protocol]} request got no answer: ${last.reason}.`);
  }
  // ProxyDHCP saw the machine ask again and again without ever taking an address from anyone.
  const noOffer = events.filter((e) => e.kind === 'no-router-offer').at(-1);
  if (noOffer && !events.some((e) => e.id > noOffer.id && (e.protocol === 'tftp' || e.protocol === 'http'))) hints.push(`It got no address: ${noOffer.reason}`);
  if (lastOffer && after.length === 0) {
    const file = bootFileOf(lastOffer) ?? 'the boot file';
    if (file.startsWith('http')) {
      hints.push(
        `It was told to fetch ${file} but no HTTP request followed: can the machine reach that address and port (firewall, routing)? Did it get an address from the DHCP server?`,
      );
    } else {
      hints.push(
        `It was told to load ${file} but no TFTP request from its address followed: is TFTP enabled and UDP 69 reachable (firewall)? Did the router's DHCP server give it an address? UEFI firmware may first ask on port 4011: look for a "REQUEST on 4011" line above.`,
      );
    }
  }
  return hints;
}

/** Why nothing may have been heard from a machine, from what the log says about everyone else. */
function silentMachineHints(store: ExplainSource, mac: string, now: number, facts?: DhcpFacts): string[] {
  const hints: string[] = [];
  const heard = (protocol: EventProtocol): StoredEvent[] => store.events({ protocol, limit: BACKGROUND_SCAN });
  if (facts?.mode === 'off') {
    const start = heard('daemon')
      .filter((e) => e.kind === 'start' || e.kind === 'reload')
      .at(-1);
    if (start) hints.push(`Last ${start.kind} ${ago(start.time, now)}: ${start.reason}`);
    return [...hints, ...routerMustSend(facts), ...routerSeen(facts, heard('tftp'), heard('http'), now)];
  }
  const proxy = heard('proxydhcp');
  const dhcp = heard('dhcp');
  const start = heard('daemon')
    .filter((e) => e.kind === 'start' || e.kind === 'reload')
    .at(-1);
  if (start) hints.push(`Last ${start.kind} ${ago(start.time, now)}: ${start.reason}`);
  const wrongLink = [...proxy, ...dhcp].filter((e) => e.code === 'wrong-interface');
  if (proxy.length === 0 && dhcp.length === 0) {
    hints.push(
      'No DHCP or ProxyDHCP packet from any machine was recorded at all. Check that:',
      '  - [dhcp] mode is proxy (beside a router) or server, not off;',
      '  - [server] interface is the LAN the machines boot on (pxe-pilot check-config lists the candidates);',
      "  - nothing else holds UDP 67 or 4011 on that interface ('ss -lunp'), and no firewall drops them;",
      '  - the machines are on the same broadcast domain (no VLAN or router in between without a DHCP relay).',
    );
    return hints;
  }
  const others = [...proxy, ...dhcp].filter((e) => e.mac !== null && e.mac !== mac);
  const latest = others.at(-1);
  if (latest) {
    hints.push(
      `Other machines are heard (last: ${latest.mac} ${ago(latest.time, now)}), so the interface and ports work. Check that:`,
      `  - ${mac} is the MAC of the NIC that boots (a machine with several NICs boots from one of them only);`,
      '  - network boot (PXE, or UEFI network/HTTP boot) is enabled and first in the boot order;',
      '  - the machine is cabled to the same LAN or VLAN as pxe-pilot.',
    );
  }
  if (wrongLink.length > 0) {
    hints.push(`${wrongLink.length} recent packet(s) arrived on another interface than [server] interface and were ignored: is the machine on the other LAN?`);
  }
  return hints;
}

export interface MachineEvents {
  /** Oldest first: the machine's own events and the TFTP transfers from its addresses. */
  timeline: StoredEvent[];
  /** The addresses TFTP events were matched by, when any matched. */
  tftpAddresses: string[];
}

/**
 * One machine's recent events. TFTP names no MAC, so its transfers count as this machine's
 * when they come from an address the machine used (its lease, its proxy request, its HTTP
 * requests), no earlier than its oldest event shown.
 */
export function machineEvents(store: ExplainSource, mac: string, limit: number, node: NodeRecord | undefined = store.getNode(mac)): MachineEvents {
  const own = store.events({ mac, limit });
  const ips = addressesOf(node, own);
  const since = own[0]?.time ?? 0;
  const tftp =
    ips.size === 0
      ? []
      : store.events({ protocol: 'tftp', limit: TFTP_SCAN }).filter((e) => e.time >= since && ips.has(text(detailOf(e, 'tftp')?.client) ?? ''));
  const timeline = [...own, ...tftp].sort((a, b) => a.time - b.time || a.id - b.id).slice(-limit);
  return { timeline, tftpAddresses: tftp.length ? [...ips] : [] };
}

/** Where the machine's settings come from, and why each [host serial/uuid] or earlier [rule] did not apply. */
export function describeSettings(mac: string, node: NodeRecord | undefined, profile: SettingsProfile): string[] {
  const settings = settingsFor(mac, node, profile);
  const lines = [`Settings: ${settings.source === 'none' ? 'none' : `from ${settings.from}`}: ${settings.reason}.`];
  for (const why of settings.passedOver) lines.push(`  not ${why}`);
  if (settings.hostnameProblem) lines.push(`  hostname: ${settings.hostnameProblem}`);
  if (node?.inventory) lines.push(`Inspected at ${day(node.inventory.reportedAt)} ${clock(node.inventory.reportedAt)}.`);
  else if ((profile.rules ?? []).length > 0) lines.push('Not inspected: no [rule] can match it until it is (rules match on the inventory).');
  return lines;
}

export function explainMac(store: ExplainSource, mac: string, options: ExplainOptions = {}): string {
  const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
  const now = options.now ?? Date.now();
  const node = store.getNode(mac);
  const { timeline, tftpAddresses } = machineEvents(store, mac, limit, node);

  const out: string[] = [`${mac}`];
  if (node) out.push(...describeNode(node, now));
  else out.push('Not in the node table (it keeps the machines pxe-pilot has answered or an admin has named).');
  if (options.settings) out.push(...describeSettings(mac, node, options.settings));

  if (timeline.length === 0) {
    out.push('', `Nothing was heard from ${mac}${node ? ' in the recorded events' : ''}.`);
    out.push(...silentMachineHints(store, mac, now, options.dhcp));
    return `${out.join('\n')}\n`;
  }

  out.push(
    '',
    `${timeline.length} most recent event${timeline.length === 1 ? '' : 's'}, oldest first${tftpAddresses.length ? ` (TFTP matched by address ${tftpAddresses.join(', ')})` : ''}:`,
  );
  let currentDay = '';
  for (const e of timeline) {
    const d = day(e.time);
    if (d !== currentDay) {
      currentDay = d;
      out.push(`-- ${d}`);
    }
    out.push(describeEvent(e, mac));
  }
  const hints = nextSteps(timeline);
  // Mode off: this machine's trail stops before iPXE asked for its script, so the router's answers are the suspect.
  if (options.dhcp?.mode === 'off' && !timeline.some((e) => e.protocol === 'http' && e.kind === 'GET /boot'))
    hints.push(
      ...routerMustSend(options.dhcp),
      ...routerSeen(
        options.dhcp,
        timeline.filter((e) => e.protocol === 'tftp'),
        timeline.filter((e) => e.protocol === 'http'),
        now,
      ),
    );
  if (hints.length) out.push('', ...hints);
  return `${out.join('\n')}\n`;
}
