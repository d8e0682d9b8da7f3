// When the probe runs and what its findings do: refuse to start (unless [dhcp]
// allow_other_servers), and while running, a warning and an event when another server appears.
import { networkInterfaces } from 'node:os';
import type { Profile } from '../config/profile.ts';
import type { Logger } from '../log.ts';
import type { EventSink } from '../boot/events.ts';
import { describeOtherServers, OtherDhcpServerError, ProbeChannel, type OtherServer, type ProbeTiming } from './rogue-probe.ts';

export interface RogueWatchTiming extends ProbeTiming {
  /** Time between probes while the server runs. */
  intervalMs: number;
}

/**
 * 5 s of listening, with a DISCOVER at 0, 1 and 2 s. Measured with Debian's dnsmasq 2.90 on a
 * veth beside the daemon: before it offers an address it pings it (its ping check, on by
 * default; PING_WAIT is 3 s), and its OFFER left 3.004-3.006 s after our DISCOVER, every time.
 * The old window of exactly 3 s closed 5 ms before that: the daemon heard nothing and served
 * (the existing test ran dnsmasq with --no-ping, which answers at once). With dhcp-reply-delay
 * on top the OFFER still came at 3.02 s (the delay runs alongside the ping). 5 s leaves 2 s for
 * a loaded machine and covers servers that answer after 1-2 s; the resends cover a lost
 * DISCOVER or OFFER, as a client's would, and each resend's answer from a server that pings
 * comes once its first ping is done.
 */
export const DEFAULT_TIMING: RogueWatchTiming = { listenMs: 5000, retransmitMs: 1000, intervalMs: 5 * 60_000 };

export class RogueWatch {
  private readonly timing: RogueWatchTiming;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private own = new Set<string>();
  /** Servers reported by the last probe, so a lasting one is not re-announced every round. */
  private lastSeen = '';
  /** Kept open from the first probe on: after privileges are dropped it could not be reopened. */
  private channel: ProbeChannel | null = null;

  constructor(private readonly deps: { logger: Logger; store: EventSink; timing?: Partial<RogueWatchTiming> | undefined }) {
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
  }

  /** Our addresses on the interface: the probe's own DISCOVER comes back to our server from them. */
  private ownAddresses(profile: Profile): string[] {
    const list = (networkInterfaces()[profile.server.interface] ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address);
    if (profile.server.address) list.push(profile.server.address);
    this.own = new Set(list);
    return list;
  }

  isOwnProbe(source: string): boolean {
    return this.own.has(source);
  }

  private async probe(profile: Profile): Promise<OtherServer[]> {
    if (!this.channel) {
      this.channel = await ProbeChannel.open(profile.server.interface, profile.dhcp.port);
      if (this.channel.unicastDeaf)
        this.deps.logger.warn(
          `dhcp: the probe for other DHCP servers hears only those that answer by broadcast: ${this.channel.unicastDeaf} (the systemd unit grants both)`,
        );
    }
    return this.channel.probe(this.ownAddresses(profile), this.timing);
  }

  /** Throws OtherDhcpServerError when another server answers and allow_other_servers is off. */
  async beforeStart(profile: Profile): Promise<void> {
    const iface = profile.server.interface;
    this.deps.logger.info(`dhcp: asking ${iface} for other DHCP servers (${this.timing.listenMs / 1000} s) before answering anything`);
    let servers: OtherServer[];
    try {
      servers = await this.probe(profile);
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (servers.length === 0) return;
    const reason = describeOtherServers(servers, iface);
    this.record(servers, reason, profile.dhcp.allowOtherServers ? 'allowed' : 'refused');
    if (!profile.dhcp.allowOtherServers) {
      await this.stop();
      throw new OtherDhcpServerError(servers, iface);
    }
    this.deps.logger.warn(`dhcp: ${reason}; starting anyway ([dhcp] allow_other_servers = true)`);
  }

  /** Repeats the probe while the server runs; findings are warnings and events, never a stop. */
  watch(profile: () => Profile): void {
    this.stopTimer();
    this.timer = setInterval(() => void this.round(profile()), this.timing.intervalMs);
    this.timer.unref();
  }

  private async round(profile: Profile): Promise<void> {
    if (this.running || !this.channel || profile.dhcp.mode !== 'server' || profile.dhcp.allowOtherServers) return;
    this.running = true;
    try {
      const servers = await this.probe(profile);
      const key = servers
        .map((s) => s.address)
        .sort()
        .join(',');
      if (servers.length > 0 && key !== this.lastSeen) {
        const reason = `${describeOtherServers(servers, profile.server.interface)}; clients may get addresses and boot files from it instead of pxe-pilot`;
        this.deps.logger.warn(`dhcp: ${reason}`);
        this.record(servers, reason, 'warning');
      }
      this.lastSeen = key;
    } catch (err) {
      this.deps.logger.warn({ err }, 'dhcp: the probe for other DHCP servers failed; trying again next round');
    } finally {
      this.running = false;
    }
  }

  private record(servers: OtherServer[], reason: string, decision: string): void {
    this.deps.store.record({
      mac: null,
      protocol: 'dhcp',
      kind: 'other-server',
      decision,
      reason,
      detail: { servers: servers.map((s) => ({ address: s.address, mac: s.mac, source: s.source })) },
    });
  }

  async stop(): Promise<void> {
    this.stopTimer();
    const channel = this.channel;
    this.channel = null;
    await channel?.close();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
