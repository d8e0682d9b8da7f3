// pxe-pilot probe: one simulated machine through the whole network boot, for operators
// (does this VLAN boot?) and as a smoke test. Exit 0: complete chain; 1: a step failed (it
// says which and why); 2: bad arguments.
import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { normaliseMac } from '../net/mac.ts';
import { interfaceIndex } from '../net/udp-device.ts';
import { ARCHS, runProbe, type ArchName, type ProbePhase, type ProbeResult } from '../probe/probe.ts';

export const PROBE_USAGE = `usage:
  pxe-pilot probe --mac MAC --arch bios|efi64|efi64-http|ipxe [--proxy] [--interface IF]
                  [--server ADDR] [--blksize N] [--windowsize N] [--json]
Runs the exchange a machine would (DHCP, ProxyDHCP, TFTP, iPXE's DHCP, scripts, kernel and
initrds over HTTP) from interface IF and prints each step with its time. It binds port 68
and broadcasts on IF: run it only on a boot VLAN (or in a network namespace), never on a
LAN whose DHCP server you do not own. It puts the leased address on IF while it runs.
  --proxy        the network's router hands out addresses; expect a ProxyDHCP offer too
  --server ADDR  take boot offers only from ADDR
Exit: 0 complete boot chain, 1 a step failed (named, with the reason), 2 bad arguments.`;

class UsageError extends Error {}

function positiveInt(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} ${JSON.stringify(raw)}: give a whole number from 1 to ${max}`);
  return n;
}

/** The only non-loopback interface, when there is exactly one (a namespace's). */
function soleInterface(): string {
  const names = readdirSync('/sys/class/net').filter((n) => n !== 'lo');
  if (names.length !== 1) throw new UsageError(`name the interface with --interface (found ${names.length === 0 ? 'none' : names.join(', ')})`);
  return names[0]!;
}

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        mac: { type: 'string' },
        arch: { type: 'string' },
        proxy: { type: 'boolean' },
        interface: { type: 'string', short: 'i' },
        server: { type: 'string' },
        blksize: { type: 'string' },
        windowsize: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return null;
  const mac = normaliseMac(values.mac ?? '');
  if (!mac) throw new UsageError(values.mac ? `--mac ${JSON.stringify(values.mac)} is not a MAC address (e.g. 52:54:00:12:34:56)` : '--mac is required');
  if (!values.arch) throw new UsageError(`--arch is required: one of ${ARCHS.join(', ')}`);
  if (!(ARCHS as readonly string[]).includes(values.arch)) throw new UsageError(`--arch ${JSON.stringify(values.arch)}: one of ${ARCHS.join(', ')}`);
  if (values.server !== undefined && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(values.server))
    throw new UsageError(`--server ${JSON.stringify(values.server)} is not an IPv4 address`);
  const iface = values.interface ?? soleInterface();
  if (interfaceIndex(iface) === null) throw new UsageError(`--interface ${JSON.stringify(iface)}: no such network interface`);
  return {
    json: values.json ?? false,
    options: {
      mac,
      arch: values.arch as ArchName,
      proxy: values.proxy ?? false,
      interface: iface,
      ...(values.server ? { server: values.server } : {}),
      blksize: positiveInt('blksize', values.blksize, 1468, 65464),
      windowsize: positiveInt('windowsize', values.windowsize, 4, 64),
    },
  };
}

function ms(n: number): string {
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`;
}

function header(o: { mac: string; arch: string; proxy: boolean; interface: string }): string {
  return `probe ${o.mac} (${o.arch}, ${o.proxy ? 'proxy' : 'server'} mode) on ${o.interface}\n`;
}

function phaseLine(p: ProbePhase): string {
  return `  ${p.ok ? 'ok ' : 'FAIL'} ${p.name.padEnd(16)} ${ms(p.ms).padStart(9)}  ${p.detail}\n`;
}

function summary(result: ProbeResult): string {
  if (result.ok) return `complete boot chain in ${ms(result.totalMs)}\n`;
  return `stopped at ${result.failure?.phase} after ${ms(result.totalMs)}: ${result.failure?.reason}\n`;
}

export async function probeCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`pxe-pilot probe: ${err.message}\n${PROBE_USAGE}\n`);
    return 2;
  }
  if (!parsed) {
    process.stdout.write(PROBE_USAGE + '\n');
    return 0;
  }
  let result: ProbeResult;
  // Text: each step as it ends, so a slow one shows where it is; JSON: one object at the end.
  if (!parsed.json) process.stdout.write(header(parsed.options));
  try {
    result = await runProbe({ ...parsed.options, ...(parsed.json ? {} : { onPhase: (p: ProbePhase) => process.stdout.write(phaseLine(p)) }) });
  } catch (err) {
    // Opening port 68 or the interface failed before any exchange: say what to fix.
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(`pxe-pilot probe: ${(err as Error).message}${code === 'EACCES' ? ' (port 68 needs root or CAP_NET_BIND_SERVICE)' : ''}\n`);
    return 1;
  }
  process.stdout.write(parsed.json ? JSON.stringify(result) + '\n' : summary(result));
  return result.ok ? 0 : 1;
}
