// `pxe-pilot nodes|leases|events|images|status`: the running daemon, asked through its admin API.
import { parseArgs } from 'node:util';
import { normaliseMac } from '../net/mac.ts';
import { AdminClient, CliError, resolveTarget } from './client.ts';
import { NODE_LIFECYCLES } from '../boot/lifecycle.ts';
import { duration, relativeTime, styleFor, table, type Style } from './format.ts';

export const CLIENT_COMMANDS = ['nodes', 'leases', 'events', 'images', 'status'] as const;
const STATES: readonly string[] = NODE_LIFECYCLES;

const COMMON = `common flags:
  --config FILE   read [http] port, bind and admin_token from FILE (default /etc/pxe-pilot/pxe-pilot.ini)
  --url URL       the daemon's address (or PXE_PILOT_URL); the token from PXE_PILOT_TOKEN wins over the file
  --json          machine-readable output
exit codes: 0 ok, 1 daemon unreachable or refused, 2 bad input`;

export const CLIENT_HELP: Record<(typeof CLIENT_COMMANDS)[number], string> = {
  nodes: `usage:
  pxe-pilot nodes [--state S]                         every machine (S: ${STATES.join(', ')})
  pxe-pilot nodes show MAC                            one machine: state, installs, recent events
  pxe-pilot nodes reinstall MAC [--profile P]         arm a reinstall at the next network boot (P: product/version)
  pxe-pilot nodes cancel MAC                          cancel an armed reinstall
  pxe-pilot nodes local-boot MAC 'sanboot …'|--clear  what its local boot runs (iPXE), or back to "exit"
${COMMON}`,
  leases: `usage:
  pxe-pilot leases        DHCP leases (server mode): address, MAC, hostname, expiry
${COMMON}`,
  events: `usage:
  pxe-pilot events [--mac M] [--limit N] [--follow]   the event log, newest last; --follow streams new ones
${COMMON}`,
  images: `usage:
  pxe-pilot images        install images under [assets] dir and the hosts that use each
${COMMON}`,
  status: `usage:
  pxe-pilot status        what runs, bound where, node counts, start-up warnings
${COMMON}`,
};

export const CLIENT_USAGE = `  pxe-pilot nodes [--state S] | nodes show|reinstall|cancel|local-boot MAC …
  pxe-pilot leases | events [--mac M] [--follow] | images | status
                                            ask the running daemon (see pxe-pilot <command> --help)`;

/** The first positional word, skipping flags and their values, when it names a client command. */
export function clientCommandOf(argv: string[]): (typeof CLIENT_COMMANDS)[number] | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c' || a === '--url' || a === '--limit' || a === '--log-format') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return (CLIENT_COMMANDS as readonly string[]).includes(a) ? (a as (typeof CLIENT_COMMANDS)[number]) : null;
  }
  return null;
}

interface Out {
  write(s: string): void;
  isTTY?: boolean;
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

function mustMac(raw: string | undefined, usage: string): string {
  const mac = normaliseMac(raw ?? '');
  if (!mac) throw new CliError(2, `${raw === undefined ? 'a MAC address is missing' : `${JSON.stringify(raw)} is not a MAC address`}\n${usage}`);
  return mac;
}

function eventLine(e: EventJson, style: Style): string {
  const t = e.time.slice(11, 19);
  return `${style.dim(t)}  ${(e.mac ?? '-').padEnd(17)}  ${e.protocol.padEnd(9)} ${e.kind.slice(0, 28).padEnd(28)} ${style.state(e.decision)}: ${e.reason}\n`;
}

export async function runClientCommand(argv: string[], out: Out = process.stdout): Promise<number> {
  const command = clientCommandOf(argv)!;
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        url: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        state: { type: 'string' },
        profile: { type: 'string' },
        clear: { type: 'boolean' },
        mac: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        limit: { type: 'string' },
      },
    });
  } catch (err) {
    throw new CliError(2, `${(err as Error).message}\n${CLIENT_HELP[command]}`);
  }
  const { values, positionals } = parsed;
  const usage = CLIENT_HELP[command];
  if (values.help) {
    out.write(usage + '\n');
    return 0;
  }
  const args = positionals.slice(positionals.indexOf(command) + 1);
  const client = new AdminClient(
    resolveTarget({ url: values.url, config: values.config ?? '/etc/pxe-pilot/pxe-pilot.ini', configGiven: values.config !== undefined }),
  );
  const style = styleFor(out);
  const json = (v: unknown): void => out.write(JSON.stringify(v, null, 2) + '\n');

  switch (command) {
    case 'nodes':
      return nodesCommand(client, args, values, out, style, json, usage);
    case 'leases': {
      const r = await client.json<{
        dhcpMode: string;
        leases: { ip: string; mac: string; hostname: string | null; state: string; expires: string; expired: boolean }[];
      }>('GET', '/leases');
      if (values.json) return (json(r), 0);
      if (r.dhcpMode !== 'server')
        out.write(style.dim(`[dhcp] mode = ${r.dhcpMode}: pxe-pilot hands out no addresses; leases below are from an earlier server mode, if any\n`));
      out.write(
        table(
          ['ADDRESS', 'MAC', 'HOSTNAME', 'STATE', 'EXPIRES'],
          r.leases.map((l) => [
            l.ip,
            l.mac,
            l.hostname ?? '-',
            style.state(l.state),
            l.expired ? `expired ${relativeTime(l.expires)}` : relativeTime(l.expires),
          ]),
          style,
        ),
      );
      return 0;
    }
    case 'events': {
      const mac = values.mac === undefined ? null : mustMac(values.mac, usage);
      if (values.limit !== undefined && !/^\d{1,5}$/.test(values.limit))
        throw new CliError(2, `--limit must be a whole number, not ${JSON.stringify(values.limit)}`);
      const q = new URLSearchParams({ ...(mac ? { mac } : {}), ...(values.limit ? { limit: values.limit } : {}) });
      const r = await client.json<{ events: EventJson[] }>('GET', `/events?${q}`);
      for (const e of r.events) out.write(values.json ? JSON.stringify(e) + '\n' : eventLine(e, style));
      if (!values.follow) return 0;
      await follow(client, mac, (e) => out.write(values.json ? JSON.stringify(e) + '\n' : eventLine(e, style)));
      return 0;
    }
    case 'images': {
      const r = await client.json<{ dir: string; images: { profile: string; kernel: string; initrds: string[]; hosts: string[] }[] }>('GET', '/images');
      if (values.json) return (json(r), 0);
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
    case 'status': {
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
      if (values.json) return (json(r), 0);
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
  }
}

async function nodesCommand(
  client: AdminClient,
  args: string[],
  values: { state?: string; profile?: string; clear?: boolean; json?: boolean },
  out: Out,
  style: Style,
  json: (v: unknown) => void,
  usage: string,
): Promise<number> {
  const [sub, macArg, ...rest] = args;
  if (sub === undefined) {
    if (values.state !== undefined && !STATES.includes(values.state))
      throw new CliError(2, `--state must be one of ${STATES.join(', ')}, not ${JSON.stringify(values.state)}`);
    const r = await client.json<{ total: number; nodes: NodeJson[] }>('GET', `/nodes${values.state ? `?state=${values.state}` : ''}`);
    if (values.json) return (json(r), 0);
    out.write(
      table(
        ['MAC', 'STATE', 'HOSTNAME', 'LAST IP', 'FIRMWARE', 'PROFILE', 'LAST SEEN'],
        r.nodes.map((n) => [n.mac, style.state(n.state), n.hostname ?? '-', n.lastIp ?? '-', n.firmware ?? '-', n.profile ?? '-', relativeTime(n.lastSeen)]),
        style,
      ),
    );
    out.write(style.dim(`${r.total} node${r.total === 1 ? '' : 's'}${values.state ? ` in state ${values.state}` : ''}\n`));
    return 0;
  }
  const mac = mustMac(macArg, usage);
  let detail: Record<string, unknown>;
  switch (sub) {
    case 'show':
      detail = await client.json('GET', `/nodes/${mac}`);
      break;
    case 'reinstall':
      if (values.profile !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(values.profile))
        throw new CliError(2, `--profile must be <product>/<version>, e.g. proxmox-ve/9.1-1, not ${JSON.stringify(values.profile)}`);
      detail = await client.json('POST', `/nodes/${mac}/reinstall`, values.profile ? { profile: values.profile } : {});
      break;
    case 'cancel':
      detail = await client.json('DELETE', `/nodes/${mac}/reinstall`);
      break;
    case 'local-boot':
      if (values.clear && rest.length === 0) detail = await client.json('DELETE', `/nodes/${mac}/local-boot`);
      else if (!values.clear && rest.length === 1) detail = await client.json('PUT', `/nodes/${mac}/local-boot`, { script: rest[0] });
      else throw new CliError(2, `local-boot takes one iPXE command (quote it) or --clear\n${usage}`);
      break;
    default:
      throw new CliError(2, `unknown nodes subcommand ${JSON.stringify(sub)}\n${usage}`);
  }
  if (values.json) return (json(detail), 0);
  out.write(describeNode(detail, style));
  return 0;
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
