// Power control of the machines whose [host] names a bmc: one call at a time per machine, at most
// [power] max_parallel in all, each bounded by [power] timeout_seconds. It keeps each machine's
// last known power state (polled every [power] poll_seconds) and records every action as an event
// with its reason. Credentials are read per call from [power] credentials_dir and go only to the
// BMC: never into an event, a log line, a metric or an answer.
import { statSync } from 'node:fs';
import type { Profile, HostEntry } from '../config/profile.ts';
import type { EventSink } from '../boot/events.ts';
import type { NodeDirectory, NodeLookup, NodeRecord } from '../boot/ports.ts';
import { defaultsOf, HOST_KEYS } from '../config/keys.ts';
import type { Logger } from '../log.ts';
import { parseBmc } from './bmc-url.ts';
import { readCredentials } from './credentials.ts';
import { PowerError, type BootFirmware, type PowerAction, type PowerDriver, type PowerFailure, type PowerState } from './driver.ts';
import { IpmiDriver } from './ipmi.ts';
import { RedfishDriver } from './redfish.ts';
import { WolDriver } from './wol.ts';

export interface PowerDeps {
  profile: () => Profile;
  store: NodeLookup<NodeRecord> & EventSink & Partial<Pick<NodeDirectory, 'listNodes'>>;
  logger: Logger;
  /** Where ipmitool is (tests); default: on PATH. */
  ipmitool?: string;
}

/** A [host] entry for a machine known only by its enrolment: the [host] keys' defaults. */
function enrolledHostDefaults(): Omit<HostEntry, 'mac' | 'bmc'> {
  return { ...defaultsOf(HOST_KEYS), action: 'menu', vars: {} };
}

/** What is known of one machine's power, as the API and the metrics show it. */
export interface PowerView {
  mac: string;
  bmc: string;
  state: PowerState;
  /** When the state was last read from the BMC (ISO), or null. */
  checkedAt: string | null;
  /** The last call's failure, or null when it worked. */
  error: { failure: PowerFailure; message: string; since: string } | null;
}

export interface PowerResult extends PowerView {
  action: PowerAction;
  ok: boolean;
  /** What was done, or why not, in words. */
  message: string;
}

interface Known {
  state: PowerState;
  checkedAt: number | null;
  error: { failure: PowerFailure; message: string; since: number } | null;
  /** The credentials file's mtime when they were refused: the poller waits for it to change. */
  refusedCredentials: string | null;
}

export type PowerListener = (mac: string, view: PowerView) => void;

/** Who asks: a person through the API or CLI, the poller, or a reinstall (which records its own steps). */
export interface PowerCaller {
  who: 'admin' | 'poll' | 'reinstall';
  ip?: string;
}

/** Told as each step of a call is done, so a reinstall can record each as its own event. */
export type PowerStepListener = (step: 'network-boot' | 'power', message: string) => void;

/** A counting semaphore: at most `limit()` calls run at once. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: () => number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit()) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

function firmwareOf(node: NodeRecord | undefined): BootFirmware {
  const firmware = node?.firmware ?? null;
  if (firmware === null) return null;
  return firmware.startsWith('uefi') ? 'uefi' : firmware === 'bios' ? 'bios' : null;
}

export class PowerControl {
  private readonly known = new Map<string, Known>();
  private readonly gate: Gate;
  private readonly busy = new Map<string, Promise<unknown>>();
  /** The poll in flight per machine, ended when a person asks for that machine. */
  private readonly polls = new Map<string, AbortController>();
  private timer: NodeJS.Timeout | null = null;
  private pollSeconds = 0;
  private readonly listeners: PowerListener[] = [];
  private failures: (failure: PowerFailure) => void = () => {};
  /** Aborted when the daemon stops: calls in flight end, and their ipmitool children are killed. */
  private stopping = new AbortController();

  constructor(private readonly deps: PowerDeps) {
    this.gate = new Gate(() => deps.profile().power.maxParallel);
  }

  /** Called with each machine's view after every call (metrics). */
  onChange(listener: PowerListener): void {
    this.listeners.push(listener);
  }

  /** Called once per failed BMC call, with its class (pxe_pilot_bmc_errors_total). */
  onFailure(count: (failure: PowerFailure) => void): void {
    this.failures = count;
  }

  /** The hosts that name a bmc, by MAC. */
  hosts(): HostEntry[] {
    const fromProfile = [...this.deps.profile().hosts.values()].filter((h) => h.bmc);
    const named = new Set(fromProfile.map((h) => h.mac));
    const enrolled = (this.deps.store.listNodes?.(Number.MAX_SAFE_INTEGER) ?? [])
      .filter((n) => !named.has(n.mac) && n.enrolment?.bmc)
      .map((n) => this.hostOf(n.mac)!)
      .filter(Boolean);
    return [...fromProfile, ...enrolled];
  }

  /**
   * The machine's power settings: its [host] section when that names a bmc, else its enrolment's
   * bmc (an enrolment made at the dashboard or by the agent's created BMC user) with the
   * defaults of the [host] keys.
   */
  hostOf(mac: string): HostEntry | undefined {
    const host = this.deps.profile().hosts.get(mac);
    if (host?.bmc) return host;
    const bmc = this.deps.store.getNode(mac)?.enrolment?.bmc;
    if (!bmc) return host;
    return { ...enrolledHostDefaults(), ...(host ?? {}), mac, bmc };
  }

  private driverFor(host: HostEntry): PowerDriver {
    const parsed = parseBmc(host.bmc ?? '');
    if (!parsed.ok) throw new PowerError('refused', `bmc = ${host.bmc}: ${parsed.error}`);
    const target = parsed.value;
    if (target.kind === 'wol') return new WolDriver(host.mac, () => this.deps.profile().server.interface);
    const dir = this.deps.profile().power.credentialsDir;
    const credentials = () => {
      const read = readCredentials(dir, target);
      if (!read.ok) throw new PowerError('no-credentials', read.error);
      return read.value;
    };
    if (target.kind === 'ipmi')
      return new IpmiDriver({
        target,
        cipherSuite: host.bmcCipherSuite ?? 3,
        privilege: host.bmcPrivilege ?? 'OPERATOR',
        credentials,
        ...(this.deps.ipmitool ? { program: this.deps.ipmitool } : {}),
      });
    return new RedfishDriver({ target, system: host.bmcSystem ?? '', tlsFingerprint: host.bmcTlsFingerprint ?? '', credentials });
  }

  /** The credentials file's identity now (path and mtime), so a fixed file is noticed. */
  private credentialsStamp(host: HostEntry): string | null {
    const parsed = parseBmc(host.bmc ?? '');
    if (!parsed.ok || parsed.value.kind === 'wol') return null;
    const read = readCredentials(this.deps.profile().power.credentialsDir, parsed.value);
    if (!read.ok) return null;
    try {
      return `${read.file}@${statSync(read.file).mtimeMs}`;
    } catch {
      return null;
    }
  }

  view(mac: string): PowerView | null {
    const host = this.hostOf(mac);
    if (!host?.bmc) return null;
    const k = this.known.get(mac);
    return {
      mac,
      bmc: host.bmc,
      state: k?.state ?? 'unknown',
      checkedAt: k?.checkedAt ? new Date(k.checkedAt).toISOString() : null,
      error: k?.error ? { failure: k.error.failure, message: k.error.message, since: new Date(k.error.since).toISOString() } : null,
    };
  }

  /**
   * Runs one action on a machine's BMC, bounded by the timeout. `by` says who asked ("admin",
   * "poll"); `networkBoot` first sets the next boot to the network, once. Never throws for a BMC's
   * failure: the result says what happened. Throws PowerError('unsupported') for a machine without a bmc.
   */
  async run(mac: string, action: PowerAction, by: PowerCaller, networkBoot = false, onStep?: PowerStepListener): Promise<PowerResult> {
    const host = this.hostOf(mac);
    if (!host?.bmc)
      throw new PowerError('unsupported', `${mac} has no bmc: add bmc = ipmi://… | redfish://… | wol to its [host ${mac}] section, or to its enrolment`);
    const view = (): PowerView => this.view(mac)!;
    if (by.who === 'poll') {
      // A poll gives way: it is skipped while anything else talks to this BMC, and ended when a person asks.
      if (this.busy.has(mac)) return { ...view(), action, ok: true, message: 'skipped: a call is in flight' };
      const superseded = new AbortController();
      this.polls.set(mac, superseded);
      const call = this.gate.run(() => this.call(host, action, by, networkBoot, superseded.signal));
      this.busy.set(mac, call);
      try {
        return await call;
      } finally {
        if (this.busy.get(mac) === call) this.busy.delete(mac);
        if (this.polls.get(mac) === superseded) this.polls.delete(mac);
      }
    }
    this.polls.get(mac)?.abort();
    // One call per machine at a time: a second waits for the first (a cycle must not cross an off),
    // but never longer than the timeout: then it is not sent at all, and says so.
    const timeoutMs = this.deps.profile().power.timeoutSeconds * 1000;
    let given = false;
    const previous = this.busy.get(mac) ?? Promise.resolve();
    const call = previous
      .catch(() => undefined)
      .then(() => this.gate.run(() => (given ? Promise.resolve(null) : this.call(host, action, by, networkBoot, null, onStep))));
    this.busy.set(mac, call);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs + 1000)));
    try {
      const result = await Promise.race([call, deadline]);
      if (result) return result;
      given = true;
      // Said as any unreachable BMC is, also when the call still hanging is an earlier one (the poller's).
      const since = new Date().toISOString();
      const hanging = `BMC unreachable since ${since} (an earlier call to this BMC has not finished within ${timeoutMs / 1000} s)`;
      // The machine's view says so from now on, not only once the hanging call gives up: a page drawn
      // when this answer arrives must not show the power as merely unknown.
      const k = this.known.get(mac);
      if (k && !k.error) {
        k.state = 'unknown';
        k.error = { failure: 'unreachable', message: hanging, since: Date.now() };
      }
      const known = view();
      const message = known.error?.failure === 'unreachable' ? `${known.error.message}; ${action} was not sent` : `${hanging}; ${action} was not sent`;
      return { ...known, action, ok: false, message, error: known.error ?? { failure: 'unreachable', message, since } };
    } finally {
      clearTimeout(timer);
      const settled = (): void => {
        if (this.busy.get(mac) === call) this.busy.delete(mac);
      };
      call.then(settled, settled);
    }
  }

  /** `superseded`: a poll's, aborted when a person asks for the same machine (nothing is then recorded). */
  private async call(
    host: HostEntry,
    action: PowerAction,
    by: PowerCaller,
    networkBoot: boolean,
    superseded: AbortSignal | null,
    onStep?: PowerStepListener,
  ): Promise<PowerResult> {
    const { mac } = host;
    const timeoutSeconds = this.deps.profile().power.timeoutSeconds;
    const stopping = this.stopping.signal;
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutSeconds * 1000), stopping, ...(superseded ? [superseded] : [])]);
    const k: Known = this.known.get(mac) ?? { state: 'unknown', checkedAt: null, error: null, refusedCredentials: null };
    this.known.set(mac, k);
    const before = k.error;
    const steps: string[] = [];
    let ok = true;
    try {
      const driver = this.driverFor(host);
      if (networkBoot) {
        steps.push(await driver.bootFromNetwork(firmwareOf(this.deps.store.getNode(mac)), signal));
        onStep?.('network-boot', steps.at(-1)!);
      }
      if (action === 'cycle' && (await driver.status(signal)) === 'off') {
        // A cycle of a machine that is off does nothing on many BMCs: it is powered on instead, as MAAS does.
        await driver.change('on', signal);
        steps.push('power on (it was off)');
        onStep?.('power', steps.at(-1)!);
      } else if (action !== 'status') {
        await driver.change(action, signal);
        steps.push(`power ${action}`);
        onStep?.('power', steps.at(-1)!);
      }
      const state = await driver.status(signal);
      k.state = state;
      k.checkedAt = Date.now();
      k.error = null;
      k.refusedCredentials = null;
      steps.push(`power is ${state}`);
    } catch (err) {
      if (!(err instanceof PowerError)) throw err;
      if (superseded?.aborted) return { ...this.view(mac)!, action, ok: true, message: 'poll ended: a person asked' };
      // The daemon is stopping: the store may be closed already, and the BMC was not at fault.
      if (stopping.aborted) return { ...this.view(mac)!, action, ok: false, message: 'ended: the daemon is stopping' };
      ok = false;
      this.failures(err.failure);
      const since = before && before.failure === err.failure ? before.since : Date.now();
      const message = err.failure === 'unreachable' ? `BMC unreachable since ${new Date(since).toISOString()} (${err.message})` : err.message;
      k.error = { failure: err.failure, message, since };
      if (err.failure === 'wrong-credentials') k.refusedCredentials = this.credentialsStamp(host);
      if (err.failure === 'unreachable' || err.failure === 'wrong-credentials') k.state = 'unknown';
      steps.push(message);
    }
    const view = this.view(mac)!;
    const message = steps.join('; ');
    const bmc = host.bmc ?? '';
    // The poller and a status read say a change of state or of failure only, so a dead BMC is one
    // event, not one a minute, and a page that reads the state does not fill the log. A reinstall
    // records its own steps.
    const quiet = by.who === 'poll' || action === 'status';
    const changed = !quiet || before?.failure !== k.error?.failure || (ok && this.lastRecorded.get(mac) !== view.state);
    if (by.who !== 'reinstall' && changed) {
      const reason =
        by.who === 'poll'
          ? `power poll of ${bmc}: ${message}`
          : action === 'status'
            ? `power state read by admin through ${bmc}: ${message}`
            : `power ${action}${networkBoot ? ' with the next boot from the network' : ''} asked by admin through ${bmc}: ${message}`;
      if (by.who === 'poll') this.deps.store.record({ mac, protocol: 'daemon', kind: 'power poll', decision: ok ? view.state : k.error!.failure, reason });
      else
        this.deps.store.record({
          mac,
          protocol: 'admin',
          kind: `power ${action}`,
          decision: ok ? view.state : k.error!.failure,
          reason,
          detail: by.ip ? { ip: by.ip } : {},
        });
      if (ok) this.deps.logger.info({ mac, bmc }, reason);
      else this.deps.logger.warn({ mac, bmc, failure: k.error!.failure }, reason);
    } else if (by.who === 'reinstall') {
      if (ok) this.deps.logger.info({ mac, bmc }, `reinstall through ${bmc}: ${message}`);
      else this.deps.logger.warn({ mac, bmc, failure: k.error!.failure }, `reinstall through ${bmc}: ${message}`);
    }
    if (changed) this.lastRecorded.set(mac, view.state);
    for (const listener of this.listeners) listener(mac, view);
    return { ...view, action, ok, message };
  }

  private readonly lastRecorded = new Map<string, PowerState>();

  /** One poll of every host with a bmc that can answer a status (not WOL, not refused credentials). */
  async pollOnce(): Promise<void> {
    const due = this.hosts().filter((host) => {
      if (host.bmc === 'wol') return false;
      const k = this.known.get(host.mac);
      // Wrong credentials are said once; asked again only once the credentials file changed.
      return !(k?.error?.failure === 'wrong-credentials' && k.refusedCredentials !== null && k.refusedCredentials === this.credentialsStamp(host));
    });
    await Promise.all(due.map((host) => this.run(host.mac, 'status', { who: 'poll' }).catch(() => undefined)));
  }

  /** (Re)starts the poller after a start or a reload; 0 seconds: not polled. */
  schedule(): void {
    const seconds = this.deps.profile().power.pollSeconds;
    if (this.timer && seconds === this.pollSeconds) return;
    this.stopPolling();
    this.pollSeconds = seconds;
    if (seconds === 0) return;
    let polling = false;
    const tick = (): void => {
      if (polling) return;
      polling = true;
      void this.pollOnce().finally(() => (polling = false));
    };
    this.timer = setInterval(tick, seconds * 1000);
    this.timer.unref();
    tick();
  }

  /** Stops polling (a reload may start it again). */
  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The daemon stops: no more polls, and every call in flight is ended now. */
  stop(): void {
    this.stopPolling();
    this.stopping.abort();
    this.stopping = new AbortController();
  }
}
