// `reinstall --now`: arm the install, set the next boot to the network once, power-cycle (or power
// on). Each step is an event with its reason, so `explain` reads "armed → next boot set to the
// network → power cycled → DHCP → … → installed". The power steps run in the background; a batch
// runs at most [power] max_parallel machines at once, starting one every [power]
// start_pause_seconds, so a rack does not draw its inrush current at once.
//
// When the BMC fails before the power step was done, the install this run armed is disarmed again
// (the machine is back where it was, and the event says why): an install left armed would wipe
// the disk at whatever network boot comes next, maybe weeks later. When the power step was done and
// only what followed failed (the state read), the install stays armed, with a warning event.
import { randomUUID } from 'node:crypto';
import { nextState } from '../boot/lifecycle.ts';
import type { EventSink } from '../boot/events.ts';
import type { NodeLookup, NodeRecord, NodeWrites } from '../boot/ports.ts';
import type { Profile } from '../config/profile.ts';
import type { Logger } from '../log.ts';
import type { PowerControl, PowerResult } from './control.ts';
import { noRules, type RuleLookup } from './selection.ts';

export interface ReinstallDeps {
  profile: () => Profile;
  store: NodeLookup<NodeRecord> & Pick<NodeWrites, 'applyChange' | 'ensureNode'> & EventSink;
  power: PowerControl;
  logger: Logger;
  /** The predicate of [rule NAME] (selection.ts); default: no rules. */
  rules?: RuleLookup;
}

export type StepName = 'armed' | 'network-boot' | 'power' | 'disarmed' | 'warning' | 'failed';

export interface ReinstallStep {
  step: StepName;
  ok: boolean;
  message: string;
  at: string;
}

export type MachineRunState = 'waiting' | 'running' | 'done' | 'failed';

export interface MachineRun {
  mac: string;
  bmc: string;
  profile: string | null;
  state: MachineRunState;
  /** When its power steps started (ISO), or null while it waits its turn. */
  startedAt: string | null;
  steps: ReinstallStep[];
}

export interface ReinstallJob {
  id: string;
  startedAt: string;
  /** True once every machine's power steps are over (the installs themselves run on). */
  finished: boolean;
  machines: MachineRun[];
}

export interface ReinstallRequest {
  mac: string;
  /** The profile to install; null: the [host] profile. */
  profile: string | null;
}

/** Jobs kept for GET /reinstalls: the newest, so a long-running daemon does not grow. */
const KEPT_JOBS = 100;

export class Reinstalls {
  private readonly kept = new Map<string, ReinstallJob>();

  constructor(private readonly deps: ReinstallDeps) {}

  /** The predicate of [rule NAME], or null. */
  rules(name: string): ((node: NodeRecord) => boolean) | null {
    return (this.deps.rules ?? noRules)(name);
  }

  /** Why a machine cannot be reinstalled now, or null. */
  refusal(mac: string): string | null {
    const host = this.deps.power.hostOf(mac);
    if (!host?.bmc)
      return `${mac} has no bmc, so it cannot be powered from here: add bmc = ipmi://… | redfish://… | wol to its [host ${mac}] section, or to its enrolment`;
    return null;
  }

  /** The jobs kept, newest first. */
  jobs(): ReinstallJob[] {
    return [...this.kept.values()].reverse();
  }

  /**
   * Arms every machine now (each an event), then runs the power steps in the background. The
   * answer carries the job, whose machines' steps fill in as they happen.
   */
  async start(requests: ReinstallRequest[], by: { ip: string }): Promise<ReinstallJob> {
    const job: ReinstallJob = {
      id: randomUUID(),
      startedAt: new Date().toISOString(),
      finished: false,
      machines: requests.map((r) => ({
        mac: r.mac,
        bmc: this.deps.power.hostOf(r.mac)?.bmc ?? '',
        profile: r.profile,
        state: 'waiting',
        startedAt: null,
        steps: [],
      })),
    };
    this.kept.set(job.id, job);
    for (const old of [...this.kept.keys()].slice(0, Math.max(0, this.kept.size - KEPT_JOBS))) this.kept.delete(old);
    const armedBefore = new Map<string, boolean>();
    for (const run of job.machines) armedBefore.set(run.mac, this.deps.store.getNode(run.mac)?.state === 'install-pending');
    // Armed together: the store's group commit writes them in one transaction.
    await Promise.all(job.machines.map((run) => this.arm(run, by.ip)));
    void this.powerAll(job, armedBefore, by.ip).catch((err: unknown) => this.deps.logger.error({ err }, 'reinstall: the power steps failed unexpectedly'));
    return job;
  }

  private record(run: MachineRun, ip: string, step: StepName, ok: boolean, reason: string): void {
    run.steps.push({ step, ok, message: reason, at: new Date().toISOString() });
    this.deps.store.record({ mac: run.mac, protocol: 'admin', kind: 'reinstall --now', decision: step, reason, detail: { ip } });
    if (ok) this.deps.logger.info({ mac: run.mac }, `reinstall --now: ${reason}`);
    else this.deps.logger.warn({ mac: run.mac }, `reinstall --now: ${reason}`);
  }

  private async arm(run: MachineRun, ip: string): Promise<void> {
    const { store } = this.deps;
    // A [host] machine that never booted from us has no node yet: it gets one, so it can be armed.
    store.ensureNode(run.mac);
    const armed = nextState({ kind: 'reinstall-armed', profile: run.profile }, store.getNode(run.mac));
    if (armed.change) await store.applyChange(run.mac, armed.change);
    const chosen = run.profile ?? (this.deps.profile().hosts.get(run.mac)?.profile || null);
    const what = chosen ? `profile ${chosen}${run.profile ? '' : ' (from its [host] section)'}` : 'no profile named, so its next network boot shows the menu';
    this.record(run, ip, 'armed', true, `armed by admin, ${what}: ${armed.reason}`);
  }

  private async powerAll(job: ReinstallJob, armedBefore: Map<string, boolean>, ip: string): Promise<void> {
    const { power } = this.deps.profile();
    const pauseMs = power.startPauseSeconds * 1000;
    let next = 0;
    let lastStart = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const run = job.machines[next++];
        if (!run) return;
        // One start every pause, whichever worker takes the next machine.
        const wait = lastStart === 0 ? 0 : lastStart + pauseMs - Date.now();
        lastStart = Math.max(Date.now(), lastStart + pauseMs);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        await this.powerOne(run, armedBefore.get(run.mac) ?? false, ip);
      }
    };
    const workers = Math.min(power.maxParallel, job.machines.length);
    await Promise.all(Array.from({ length: workers }, worker));
    job.finished = true;
  }

  private async powerOne(run: MachineRun, wasArmed: boolean, ip: string): Promise<void> {
    run.state = 'running';
    run.startedAt = new Date().toISOString();
    const wol = run.bmc === 'wol';
    const done = new Set<string>();
    let result: PowerResult;
    try {
      result = await this.deps.power.run(run.mac, wol ? 'on' : 'cycle', { who: 'reinstall', ip }, !wol, (step, message) => {
        done.add(step);
        if (step === 'network-boot')
          this.record(run, ip, 'network-boot', true, `${message.replace(/^next boot from the network/, 'next boot set to the network')}, through ${run.bmc}`);
        else this.record(run, ip, 'power', true, `${wol ? 'Wake-on-LAN magic packet sent' : powerWords(message)} through ${run.bmc}`);
      });
    } catch (err) {
      result = { mac: run.mac, bmc: run.bmc, state: 'unknown', checkedAt: null, action: 'cycle', ok: false, message: (err as Error).message, error: null };
    }
    if (wol && result.ok) {
      this.record(run, ip, 'warning', true, 'Wake-on-LAN cannot choose the boot device: the machine installs if its boot order starts with the network');
    }
    if (result.ok) {
      run.state = 'done';
      return;
    }
    run.state = 'failed';
    const failure = result.error?.failure ?? 'failed';
    if (done.has('power')) {
      this.record(run, ip, 'warning', false, `the power step was sent, then the BMC failed (${failure}: ${result.message}): the install stays armed`);
      return;
    }
    this.record(run, ip, 'failed', false, `${failure}: ${result.message}`);
    await this.disarm(run, wasArmed, ip);
  }

  /** The BMC failed before the machine was powered: undo this run's arm, so no later boot installs by surprise. */
  private async disarm(run: MachineRun, wasArmed: boolean, ip: string): Promise<void> {
    if (wasArmed) {
      this.record(run, ip, 'warning', false, 'the install was armed before this reinstall, so it stays armed: its next network boot installs');
      return;
    }
    const cancelled = nextState({ kind: 'reinstall-cancelled' }, this.deps.store.getNode(run.mac));
    if (cancelled.change) await this.deps.store.applyChange(run.mac, cancelled.change);
    this.record(run, ip, 'disarmed', false, `disarmed, since the machine was not powered: ${cancelled.reason}`);
  }
}

/** "power cycle; …" → "power cycled", "power on (it was off)" → "powered on (it was off)". */
function powerWords(message: string): string {
  if (message.startsWith('power cycle')) return 'power cycled';
  if (message.startsWith('power on')) return `powered on${message.slice('power on'.length)}`;
  return message;
}
