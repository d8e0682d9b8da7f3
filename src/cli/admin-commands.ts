// `pxe-pilot nodes|leases|events|images|status`: the running daemon, asked through its admin API.
import { NODE_LIFECYCLES } from '../boot/lifecycle.ts';
import { macArgument, wholeNumber } from './arguments.ts';
import { AdminClient, resolveTarget } from './client.ts';
import { configFileOf, UsageError, type CommandContext, type Output } from './command.ts';
import { duration, relativeTime, styleFor, table, type Style } from './format.ts';
import { describeEnrolment, describeInventory } from './node-inventory.ts';
import { HOSTNAME } from '../config/values.ts';
import { parseInstallDisk } from '../boot/rules.ts';
import { HOST_ACTIONS } from '../boot/settings.ts';
import { NETWORK_KEYS, readNetworkKeys, setNetworkKeys, type NetworkField, type NetworkKeys } from '../deploy/network-keys.ts';

const STATES: readonly string[] = NODE_LIFECYCLES;

/** The flags every admin command has. */
interface DaemonValues {
  config?: string;
  url?: string;
  json: boolean;
}

/** What every admin command works with: the daemon's client and how to print. */
interface Session {
  client: AdminClient;
  style: Style;
  out: Output;
  /** --json was given. */
  json: boolean;
  /** The daemon's answer as it came, as indented JSON; returns the exit code. */
  print: (value: unknown) => number;
}

function session({ values, out }: CommandContext<DaemonValues>): Session {
  const client = new AdminClient(resolveTarget({ url: values.url, config: configFileOf(values), configGiven: values.config !== undefined }));
  return {
    client,
    style: styleFor(out),
    out,
    json: values.json,
    print: (value) => (out.write(JSON.stringify(value, null, 2) + '\n'), 0),
  };
}

interface NodeJson {
  mac: string;
  state: string;
  profile: string | null;
  hostname: string | null;
  lastSeen: string | null;
  lastIp: string | null;
  firmware: string | null;
  arch: number | null;
}

interface EventJson {
  time: string;
  mac: string | null;
  protocol: string;
  kind: string;
  decision: string;
  reason: string;
}

function eventLine(e: EventJson, style: Style): string {
  const t = e.time.slice(11, 19);
  return `${style.dim(t)}  ${(e.mac ?? '-').padEnd(17)}  ${e.protocol.padEnd(9)} ${e.kind.slice(0, 28).padEnd(28)} ${style.state(e.decision)}: ${e.reason}\n`;
}

export async function nodesList(context: CommandContext<DaemonValues & { state?: string; discovered?: boolean }>): Promise<number> {
  const { discovered } = context.values;
  if (discovered && context.values.state !== undefined) throw new UsageError('give --state or --discovered, not both');
  const state = discovered ? 'discovered' : context.values.state;
  if (!discovered && state !== undefined && !STATES.includes(state))
    throw new UsageError(`--state must be one of ${STATES.join(', ')}, not ${JSON.stringify(state)}`);
  const { client, style, out, json, print } = session(context);
  const r = await client.json<{ total: number; nodes: NodeJson[] }>('GET', `/nodes${state ? `?state=${state}` : ''}`);
  if (json) return print(r);
  out.write(
    table(
      ['MAC', 'STATE', 'HOSTNAME', 'LAST IP', 'FIRMWARE', 'PROFILE', 'LAST SEEN'],
      r.nodes.map((n) => [n.mac, style.state(n.state), n.hostname ?? '-', n.lastIp ?? '-', n.firmware ?? '-', n.profile ?? '-', relativeTime(n.lastSeen)]),
      style,
    ),
  );
  out.write(style.dim(`${r.total} node${r.total === 1 ? '' : 's'}${discovered ? ' discovered' : state ? ` in state ${state}` : ''}\n`));
  return 0;
}

/** One node's change or view through the API, printed as its detail (or JSON). */
async function nodeRequest(context: CommandContext<DaemonValues>, method: string, path: string, body?: unknown): Promise<number> {
  const mac = macArgument(context.operands[0]!);
  const { client, style, out, json, print } = session(context);
  const detail = await client.json<Record<string, unknown>>(method, `/nodes/${mac}${path}`, body);
  if (json) return print(detail);
  out.write(describeNode(detail, style));
  return 0;
}

export function nodeShow(context: CommandContext<DaemonValues>): Promise<number> {
  return nodeRequest(context, 'GET', '');
}

export function nodeReinstall(context: CommandContext<DaemonValues & { profile?: string }>): Promise<number> {
  const { profile } = context.values;
  if (profile !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(profile))
    throw new UsageError(`--profile must be <product>/<version>, e.g. proxmox-ve/9.1-1, not ${JSON.stringify(profile)}`);
  return nodeRequest(context, 'POST', '/reinstall', profile ? { profile } : {});
}

const ENROL_ACTIONS: readonly string[] = HOST_ACTIONS;

/** The --net-* flags of `nodes enrol`, by the enrolment's field (netAddress…). */
const NET_FLAGS = Object.fromEntries(Object.entries(NETWORK_KEYS).map(([field, key]) => [field, key.replace('_', '-')])) as Record<NetworkField, string>;

type EnrolValues = DaemonValues & {
  hostname?: string;
  profile?: string;
  action?: string;
  bmc?: string;
  install: boolean;
  'create-bmc-user'?: boolean;
  'install-disk'?: string;
} & Partial<Record<`net-${string}`, string>>;

/** The deployed system's keys from the flags, checked as check-config checks a [host]'s; a wrong one names its flag (exit 2). */
function enrolDeployKeys(values: EnrolValues): { network: NetworkKeys; installDisk?: string } {
  const network: NetworkKeys = {};
  for (const [field, flag] of Object.entries(NET_FLAGS) as [NetworkField, string][]) {
    const value = values[flag as `net-${string}`];
    if (value !== undefined) network[field] = value;
  }
  const read = readNetworkKeys(network);
  if (!read.ok) throw new UsageError(`--${NET_FLAGS[read.field]} ${JSON.stringify(network[read.field] ?? '')}: ${read.reason}`);
  const disk = values['install-disk'];
  if (disk === undefined) return { network: setNetworkKeys(network) };
  const parsed = parseInstallDisk(disk);
  if (!parsed.ok) throw new UsageError(`--install-disk ${JSON.stringify(disk)}: ${parsed.problem}`);
  return { network: setNetworkKeys(network), installDisk: disk.trim() };
}

export function nodeEnrol(context: CommandContext<EnrolValues>): Promise<number> {
  const { hostname, profile, bmc, install } = context.values;
  const createBmcUser = context.values['create-bmc-user'] === true;
  const action = context.values.action ?? 'install';
  if (hostname === undefined || !HOSTNAME.test(hostname)) throw new UsageError('enrol needs --hostname H, a host name such as pve1 or pve1.lab.example');
  if (!ENROL_ACTIONS.includes(action)) throw new UsageError(`--action must be one of ${ENROL_ACTIONS.join(', ')}, not ${JSON.stringify(action)}`);
  if (profile !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(profile))
    throw new UsageError(`--profile must be <product>/<version>, e.g. proxmox-ve/9.1-1, not ${JSON.stringify(profile)}`);
  if (action === 'install' && profile === undefined) throw new UsageError('enrol with --action install (the default) needs --profile P, the image to install');
  if (action === 'deploy' && profile === undefined) throw new UsageError('enrol with --action deploy needs --profile P, the disk image to deploy');
  if (install && action !== 'install' && action !== 'deploy') throw new UsageError(`--install arms an install or a deploy, but --action is ${action}`);
  if (createBmcUser && bmc) throw new UsageError('give --bmc or --create-bmc-user, not both: the created user sets the bmc');
  const { network, installDisk } = enrolDeployKeys(context.values);
  return nodeRequest(context, 'PUT', '/enrolment', {
    hostname,
    profile: profile ?? null,
    action,
    ...(bmc ? { bmc } : {}),
    ...(install ? { install } : {}),
    ...(createBmcUser ? { createBmcUser } : {}),
    ...network,
    ...(installDisk ? { installDisk } : {}),
  });
}

export function nodeUnenrol(context: CommandContext<DaemonValues>): Promise<number> {
  return nodeRequest(context, 'DELETE', '/enrolment');
}

/** Release: unenrol and clear its install state (inventory kept); --wipe: first wipe its disks, once, at its next network boot. */
export function nodeRelease(context: CommandContext<DaemonValues & { wipe: boolean }>): Promise<number> {
  return nodeRequest(context, 'POST', '/release', context.values.wipe ? { wipe: true } : {});
}

export function nodeCancel(context: CommandContext<DaemonValues>): Promise<number> {
  return nodeRequest(context, 'DELETE', '/reinstall');
}

export function nodeLocalBoot(context: CommandContext<DaemonValues & { clear: boolean }>): Promise<number> {
  const script = context.operands[1];
  if (context.values.clear === (script !== undefined)) throw new UsageError('local-boot takes one iPXE command (quote it) or --clear');
  return script === undefined ? nodeRequest(context, 'DELETE', '/local-boot') : nodeRequest(context, 'PUT', '/local-boot', { script });
}

export async function leasesCommand(context: CommandContext<DaemonValues>): Promise<number> {
  const { client, style, out, json, print } = session(context);
  const r = await client.json<{
    dhcpMode: string;
    leases: { ip: string; mac: string; hostname: string | null; state: string; expires: string; expired: boolean }[];
  }>('GET', '/leases');
  if (json) return print(r);
  if (r.dhcpMode !== 'server')
    out.write(style.dim(`[dhcp] mode = ${r.dhcpMode}: pxe-pilot hands out no addresses; leases below are from an earlier server mode, if any\n`));
  out.write(
    table(
      ['ADDRESS', 'MAC', 'HOSTNAME', 'STATE', 'EXPIRES'],
      r.leases.map((l) => [l.ip, l.mac, l.hostname ?? '-', style.state(l.state), l.expired ? `expired ${relativeTime(l.expires)}` : relativeTime(l.expires)]),
      style,
    ),
  );
  return 0;
}

export async function eventsCommand(context: CommandContext<DaemonValues & { mac?: string; limit?: string; follow: boolean }>): Promise<number> {
  const { values } = context;
  const mac = values.mac === undefined ? null : macArgument(values.mac, '--mac');
  const limit = wholeNumber('--limit', values.limit, 1, 99999, undefined);
  const { client, style, out, json } = session(context);
  const print = (e: EventJson): unknown => out.write(json ? JSON.stringify(e) + '\n' : eventLine(e, style));
  const q = new URLSearchParams({ ...(mac ? { mac } : {}), ...(limit ? { limit: String(limit) } : {}) });
  const r = await client.json<{ events: EventJson[] }>('GET', `/events?${q}`);
  r.events.forEach(print);
  if (values.follow) await follow(client, mac, print);
  return 0;
}

export async function imagesCommand(context: CommandContext<DaemonValues>): Promise<number> {
  const { client, style, out, json, print } = session(context);
  const r = await client.json<{ dir: string; images: { profile: string; kernel: string; initrds: string[]; hosts: string[] }[] }>('GET', '/images');
  if (json) return print(r);
  if (r.images.length === 0) out.write(`no install images under ${r.dir}\n`);
  else
    out.write(
      table(
        ['PROFILE', 'FILES', 'USED BY'],
        r.images.map((i) => [i.profile, String(1 + i.initrds.length), i.hosts.join(', ') || '-']),
        style,
      ),
    );
  return 0;
}

export async function statusCommand(context: CommandContext<DaemonValues>): Promise<number> {
  const { client, style, out, json, print } = session(context);
  const r = await client.json<{
    version: string;
    uptime: number;
    address: string;
    dhcpMode: string;
    config: string;
    services: { name: string; enabled: boolean; bindings: { protocol: string; address: string; port: number; interface?: string }[] }[];
    warnings: string[];
    nodes: Record<string, number>;
    transfers: number;
    streamClients: number;
  }>('GET', '/status');
  if (json) return print(r);
  out.write(
    `pxe-pilot ${r.version} at ${client.target.url}, up ${duration(r.uptime)}, serving as ${r.address || '-'}, DHCP ${r.dhcpMode}, profile ${r.config}\n\n`,
  );
  out.write(
    table(
      ['SERVICE', 'STATE', 'BOUND'],
      r.services.map((s) => [
        s.name,
        s.enabled ? 'running' : 'off',
        s.bindings.map((b) => `${b.protocol} ${b.address}:${b.port}${b.interface ? ` (${b.interface})` : ''}`).join(', ') || '-',
      ]),
      style,
    ),
  );
  out.write(
    `\nnodes: ${Object.entries(r.nodes)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}; transfers in flight: ${r.transfers}; live stream clients: ${r.streamClients}\n`,
  );
  for (const w of r.warnings) out.write(`warning: ${w}\n`);
  return 0;
}

/** The last wipe's report (src/http/agent-wipe.ts), kept until the next install or release. */
function describeWipe(report: unknown): string[] {
  const r = report as { wipe?: unknown; ok?: unknown; reason?: unknown } | null | undefined;
  if (r?.wipe !== true || typeof r.reason !== 'string') return [];
  return [`  last wipe   ${r.ok === true ? `cleared ${r.reason}` : `FAILED: ${r.reason}`}`];
}

function describeNode(n: Record<string, unknown>, style: Style): string {
  // Values come from the API's JSON: strings as they are, numbers, booleans and objects as JSON.
  const s = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : typeof v === 'string' ? v : JSON.stringify(v));
  const lines = [
    `${style.bold(s(n.mac))}  ${style.state(s(n.state))}  ${s(n.hostname)}`,
    `  profile     ${s(n.profile)}`,
    `  last seen   ${relativeTime(n.lastSeen as string | null)} from ${s(n.lastIp)} (${s(n.firmware)})`,
    `  armed       ${n.armedAt ? `${relativeTime(n.armedAt as string)} by ${s(n.armedBy)}` : '-'}`,
    `  installed   ${n.installedAt ? `${relativeTime(n.installedAt as string)} as ${s(n.fqdn)}` : '-'}`,
    `  local boot  ${s(n.localBoot ?? 'exit (default)')}`,
    ...(n.discovered === true ? ['  discovered  yes: inspected, and no [host] section or enrolment gives it settings'] : []),
    ...describeWipe(n.installReport),
    ...describeEnrolment(n.enrolment as Parameters<typeof describeEnrolment>[0]),
    ...describeInventory(n.inventory as Parameters<typeof describeInventory>[0], style),
  ];
  const installs =
    (n.installs as
      { profile: string | null; armedAt: string | null; armedBy: string | null; consumedAt: string | null; installedAt: string | null }[] | undefined) ?? [];
  if (installs.length > 0) {
    lines.push(
      '',
      table(
        ['PROFILE', 'ARMED', 'BY', 'STARTED', 'FINISHED'],
        installs.map((i) => [s(i.profile), relativeTime(i.armedAt), s(i.armedBy), relativeTime(i.consumedAt), relativeTime(i.installedAt)]),
        style,
      ).trimEnd(),
    );
  }
  const events = (n.events as EventJson[] | undefined) ?? [];
  if (events.length > 0) {
    lines.push('', style.bold('recent events'));
    for (const e of events.slice(-10)) lines.push(eventLine(e, style).trimEnd());
  }
  return lines.join('\n') + '\n';
}

/** Reads GET /events/stream until the daemon closes it or the user interrupts. */
async function follow(client: AdminClient, mac: string | null, print: (e: EventJson) => void): Promise<void> {
  const res = await client.request('GET', `/events/stream${mac ? `?mac=${mac}` : ''}`);
  if (!res.body) return;
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const frame = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data) print(JSON.parse(data) as EventJson);
    }
  }
}
