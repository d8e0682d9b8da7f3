// `pxe-pilot nodes reinstall <mac> --now [--profile P]`, `--macs a,b,…` and `--all --rule NAME`:
// asks the daemon to arm, set the next boot to the network and power-cycle, then follows the
// steps until every machine's power steps are over (not the install: that is `explain`'s), one
// line per step as it happens. --no-wait returns once the machines are armed. Exit 1 when a
// machine's BMC failed.
import { macArgument } from '../cli/arguments.ts';
import { AdminClient, resolveTarget } from '../cli/client.ts';
import { CliError, configFileOf, EXIT_FAILED, UsageError, type CommandContext } from '../cli/command.ts';
import { styleFor } from '../cli/format.ts';
import type { ReinstallAnswer } from './reinstall-routes.ts';
import type { ReinstallStep } from './reinstall.ts';
import { parseMacList } from './selection.ts';

export interface ReinstallNowValues {
  config?: string;
  url?: string;
  json: boolean;
  profile?: string;
  now: boolean;
  all: boolean;
  rule?: string;
  macs?: string;
  'no-wait': boolean;
}

/** How often the steps are read while waiting. */
const POLL_MS = 300;
/** Bound of the wait: every machine's power steps take at most a few BMC timeouts; this is a backstop. */
const WAIT_LIMIT_MS = 30 * 60_000;

/** What the flags ask for: one machine, a list, or a rule's machines. Throws UsageError for a mix. */
export function reinstallTarget(values: ReinstallNowValues, operand: string | undefined): { mac: string } | { macs: string[] } | { rule: string } {
  const chosen = [operand !== undefined, values.macs !== undefined, values.all || values.rule !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('give one MAC, or --macs a,b,…, or --all --rule NAME');
  if (operand !== undefined) return { mac: macArgument(operand) };
  if (values.macs !== undefined) {
    const parsed = parseMacList(values.macs.split(',').filter((m) => m.trim() !== ''));
    if (!parsed.ok) throw new UsageError(`--macs: ${JSON.stringify(parsed.bad)} is not a MAC address`);
    if (parsed.macs.length === 0) throw new UsageError('--macs needs at least one MAC address');
    return { macs: parsed.macs };
  }
  if (!values.all || values.rule === undefined || values.rule === '') throw new UsageError('--all goes with --rule NAME (the machines [rule NAME] matches)');
  return { rule: values.rule };
}

export async function nodeReinstallNow({ values, operands, out, err }: CommandContext<ReinstallNowValues>): Promise<number> {
  if (!values.now) throw new UsageError('--macs, --all and --rule reinstall through the BMC: add --now');
  const target = reinstallTarget(values, operands[0]);
  if (values.profile !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(values.profile))
    throw new UsageError(`--profile must be <product>/<version>, e.g. proxmox-ve/9.1-1, not ${JSON.stringify(values.profile)}`);
  const client = new AdminClient(resolveTarget({ url: values.url, config: configFileOf(values), configGiven: values.config !== undefined }));
  const profile = values.profile ? { profile: values.profile } : {};
  const started =
    'mac' in target
      ? await client.json<ReinstallAnswer>('POST', `/nodes/${target.mac}/reinstall`, { now: true, ...profile })
      : await client.json<ReinstallAnswer>('POST', '/nodes/reinstall', { now: true, ...target, ...profile });
  const style = styleFor(out);
  const shown = new Map<string, number>();
  const show = (job: ReinstallAnswer): void => {
    if (values.json) return;
    for (const machine of job.machines) {
      const steps: ReinstallStep[] = machine.steps;
      for (const step of steps.slice(shown.get(machine.mac) ?? 0)) {
        const line = `${style.dim(step.at.slice(11, 19))}  ${machine.mac}  ${step.message}\n`;
        (step.ok ? out : err).write(step.ok ? line : style.state('failed') + ' ' + line);
      }
      shown.set(machine.mac, steps.length);
    }
  };
  for (const s of started.skipped) if (!values.json) err.write(`${s.mac}: skipped: ${s.reason}\n`);
  show(started);
  let job = started;
  if (!values['no-wait']) {
    const deadline = Date.now() + WAIT_LIMIT_MS;
    while (!job.finished && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const [now] = (await client.json<{ reinstalls: ReinstallAnswer[] }>('GET', started.progress)).reinstalls;
      if (!now) throw new CliError(`the daemon no longer knows reinstall ${started.id} (it restarted?): pxe-pilot explain <mac> says what happened`);
      job = { ...now, skipped: started.skipped };
      show(job);
    }
  }
  if (values.json) out.write(JSON.stringify(job, null, 2) + '\n');
  else if (values['no-wait']) out.write(`armed; the power steps go on in the daemon: pxe-pilot explain <mac>, or GET ${started.progress}\n`);
  else out.write(style.dim(`power steps done; the install goes on: pxe-pilot explain <mac> follows it\n`));
  return job.machines.some((m) => m.state === 'failed') ? EXIT_FAILED : 0;
}

/** `nodes reinstall`: with --now (or a list) through the BMC; without, it only arms the next network boot. */
export async function nodeReinstall(context: CommandContext<ReinstallNowValues>): Promise<number> {
  const { values, operands } = context;
  const many = values.macs !== undefined || values.all || values.rule !== undefined;
  if (values.now || many) return nodeReinstallNow(context);
  if (values['no-wait']) throw new UsageError('--no-wait goes with --now');
  if (operands[0] === undefined) throw new UsageError('give the MAC of the machine to arm');
  const { nodeReinstall: armOnly } = await import('../cli/admin-commands.ts');
  return armOnly(context);
}
