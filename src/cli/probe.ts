// pxe-pilot probe: one simulated machine through the whole network boot, for operators
// (does this VLAN boot?) and as a smoke test. Exit 0: complete chain; 1: a step failed (it
// says which and why); 2: bad arguments.
import { readdirSync } from 'node:fs';
import { interfaceIndex } from '../net/udp-device.ts';
import { ARCHS, runProbe, type ArchName, type ProbeOptions, type ProbePhase, type ProbeResult } from '../probe/probe.ts';
import { macArgument, wholeNumber } from './arguments.ts';
import { CliError, EXIT_FAILED, UsageError, type CommandContext } from './command.ts';

interface ProbeValues {
  mac: string;
  arch: string;
  proxy: boolean;
  interface?: string;
  server?: string;
  blksize?: string;
  windowsize?: string;
  json: boolean;
}

/** The only non-loopback interface, when there is exactly one (a namespace's). */
function soleInterface(): string {
  const names = readdirSync('/sys/class/net').filter((n) => n !== 'lo');
  if (names.length !== 1) throw new UsageError(`name the interface with --interface (found ${names.length === 0 ? 'none' : names.join(', ')})`);
  return names[0]!;
}

function probeOptions(values: ProbeValues): ProbeOptions {
  const mac = macArgument(values.mac, '--mac');
  if (!(ARCHS as readonly string[]).includes(values.arch)) throw new UsageError(`--arch ${JSON.stringify(values.arch)}: one of ${ARCHS.join(', ')}`);
  if (values.server !== undefined && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(values.server))
    throw new UsageError(`--server ${JSON.stringify(values.server)} is not an IPv4 address`);
  const iface = values.interface ?? soleInterface();
  if (interfaceIndex(iface) === null) throw new UsageError(`--interface ${JSON.stringify(iface)}: no such network interface`);
  return {
    mac,
    arch: values.arch as ArchName,
    proxy: values.proxy,
    interface: iface,
    ...(values.server ? { server: values.server } : {}),
    blksize: wholeNumber('--blksize', values.blksize, 1, 65464, 1468),
    windowsize: wholeNumber('--windowsize', values.windowsize, 1, 64, 4),
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

export async function probeCommand({ values, out }: CommandContext<ProbeValues>): Promise<number> {
  const options = probeOptions(values);
  // Text: each step as it ends, so a slow one shows where it is; JSON: one object at the end.
  if (!values.json) out.write(header(options));
  let result: ProbeResult;
  try {
    result = await runProbe({ ...options, ...(values.json ? {} : { onPhase: (p: ProbePhase) => out.write(phaseLine(p)) }) });
  } catch (e) {
    // Opening port 68 or the interface failed before any exchange: say what to fix.
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${(e as Error).message}${code === 'EACCES' ? ' (port 68 needs root or CAP_NET_BIND_SERVICE)' : ''}`, EXIT_FAILED, { cause: e });
  }
  out.write(values.json ? JSON.stringify(result) + '\n' : summary(result));
  return result.ok ? 0 : 1;
}
