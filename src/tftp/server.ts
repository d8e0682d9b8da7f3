// The TFTP service: listens for requests, refuses what it must (writes, limits), asks the
// SourceOpener (opener.ts) for the bytes, and starts one ReadTransfer per accepted read request on a
// socket of its own. Transport only: receive, decode, ask, send.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Profile, TftpSection } from '../config/profile.ts';
import type { EventSink } from '../boot/events.ts';
import type { Logger } from '../log.ts';
import { BindError, type Binding, type Service } from '../service.ts';
import { isLoopback } from '../net/address.ts';
import { errnoOf } from '../net/errno.ts';
import { negotiate } from './options.ts';
import { ErrorCode, Opcode, encodeError, parsePacket, type RequestPacket } from './packet.ts';
import { describeTransfer } from './report.ts';
import { ReadTransfer, type Peer, type TransferEnd } from './transfer.ts';
import { TransferSocket } from './pump.ts';
import { RateLimitedNotices } from './notices.ts';
import { SourceOpener } from './opener.ts';
import type { AgentSessions, BootPorts, ImageCatalogue } from '../boot/ports.ts';
import { nullTelemetry, type Telemetry } from '../metrics/telemetry.ts';

export interface TftpServiceDeps {
  profile: Profile;
  logger: Logger;
  events: EventSink;
  /** Metrics and the live transfer table; nothing counted when absent. */
  telemetry?: Telemetry;
  /** How long stop() lets transfers in flight finish before aborting them (default 2 s). */
  stopGraceMs?: number;
  /** Nodes and the install lifecycle, for GRUB's per-machine configuration (loader = grub); without: not found. */
  nodes?: BootPorts;
  /** The install images GRUB's configuration loads. */
  catalogue?: ImageCatalogue;
  /** Per-boot agent sessions, minted when GRUB's configuration boots the inspection agent. */
  agentSessions?: AgentSessions;
}

/** What the server turned away or dropped, and its transfers in flight (read by tests and bench/tftp). */
export interface TftpStats {
  active: number;
  malformed: number;
  busy: number;
  strangers: number;
}

const DEFAULT_STOP_GRACE_MS = 2000;

interface Slot {
  client: string;
  transfer: ReadTransfer | null;
}

/**
 * Every address we send to is an IPv4 literal taken from a received datagram. Answering the lookup
 * at once spares each datagram the deferred dns.lookup step dgram takes by default: in lockstep,
 * where every block waits for one ACK, that step is a measurable share of the round trip.
 */
function literalLookup(address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, 4);
}

function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', lookup: literalLookup });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

export class TftpService implements Service {
  readonly name = 'tftp';
  private profile: Profile;
  private readonly logger: Logger;
  private readonly events: EventSink;
  private readonly telemetry: Telemetry;
  private readonly stopGraceMs: number;
  private readonly sources: SourceOpener;
  private listener: Socket | null = null;
  /** Set by stop(): requests still opening their file must not start a transfer after it. */
  private stopping = false;
  private boundPort = 0;
  /** Transfers in flight (or being set up), keyed by the client's ip:port. */
  private readonly slots = new Map<string, Slot>();
  private readonly perClient = new Map<string, number>();
  private readonly notices: RateLimitedNotices;
  /** Wildcard when the server address cannot be bound (not on this host). */
  private transferAddressFailed = false;
  private readonly counters: Omit<TftpStats, 'active'> = {
    malformed: 0,
    busy: 0,
    strangers: 0,
  };

  constructor(deps: TftpServiceDeps) {
    this.profile = deps.profile;
    this.logger = deps.logger.child({ component: 'tftp' });
    this.events = deps.events;
    this.telemetry = deps.telemetry ?? nullTelemetry;
    this.stopGraceMs = deps.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.sources = new SourceOpener({ root: deps.profile.tftp.root, nodes: deps.nodes, catalogue: deps.catalogue, agentSessions: deps.agentSessions });
    this.notices = new RateLimitedNotices(this.logger);
  }

  private get config(): TftpSection {
    return this.profile.tftp;
  }

  async start(): Promise<void> {
    if (!this.config.enabled || this.listener) return;
    this.stopping = false;
    const { bind, port } = this.config;
    try {
      this.listener = await bindSocket(bind, port);
    } catch (err) {
      throw new BindError('tftp', 'udp', bind, port, errnoOf(err), '[tftp] port');
    }
    this.boundPort = this.listener.address().port;
    this.listener.on('message', (msg, from) => this.onRequest(msg, from));
    this.listener.on('error', (err) => this.logger.error({ err }, 'tftp: listening socket error'));
    this.logger.info({ bind, port: this.boundPort, root: this.config.root }, 'tftp: listening');
  }

  async stop(): Promise<void> {
    const listener = this.listener;
    this.listener = null;
    this.stopping = true;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
    const deadline = Date.now() + this.stopGraceMs;
    while (this.slots.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const slot of this.slots.values()) slot.transfer?.abort('server shutting down');
  }

  reload(profile: Profile): void {
    const before = this.config;
    this.profile = profile;
    this.sources.reload(profile);
    this.transferAddressFailed = false;
    if (profile.tftp.port !== before.port || profile.tftp.bind !== before.bind || profile.tftp.enabled !== before.enabled) {
      void this.rebind();
    }
  }

  /** Moves the listening socket after a reload changed [tftp] port/bind/enabled; transfers in flight go on. */
  private async rebind(): Promise<void> {
    const old = this.listener;
    if (!old) return; // never started, or stopped: nothing to move
    this.listener = null;
    old.close();
    try {
      await this.start();
    } catch (err) {
      this.logger.error({ err }, 'tftp: cannot listen after reload');
    }
  }

  bindings(): Binding[] {
    if (!this.listener) return [];
    return [{ protocol: 'udp', address: this.config.bind, port: this.boundPort }];
  }

  /** The port actually bound (useful when [tftp] port is 0 in tests); 0 before start. */
  get port(): number {
    return this.listener ? this.boundPort : 0;
  }

  stats(): TftpStats {
    return { active: this.slots.size, ...this.counters };
  }

  private onRequest(msg: Buffer, from: RemoteInfo): void {
    try {
      this.handleRequest(msg, from);
    } catch (err) {
      this.logger.error({ err, client: `${from.address}:${from.port}` }, 'tftp: request handler failed');
    }
  }

  private handleRequest(msg: Buffer, from: RemoteInfo): void {
    const client = `${from.address}:${from.port}`;
    const parsed = parsePacket(msg);
    if (!parsed.ok) {
      this.counters.malformed += 1;
      this.telemetry.tftpRefused('malformed');
      const looksLikeRequest = msg.length >= 2 && msg[0] === 0 && (msg[1] === Opcode.RRQ || msg[1] === Opcode.WRQ);
      // Answer what claimed to be a request; anything else (empty, random bytes) gets silence.
      if (looksLikeRequest) this.reply(from, ErrorCode.ILLEGAL_OPERATION, 'malformed request');
      this.notices.note('malformed', () => {
        this.logger.warn({ client, bytes: msg.length, error: parsed.error.message }, 'tftp: malformed datagram');
        this.events.record({
          mac: null,
          protocol: 'tftp',
          kind: 'malformed',
          decision: looksLikeRequest ? 'error' : 'silence',
          reason: `malformed datagram from ${client}: ${parsed.error.message}`,
          detail: { client: from.address, port: from.port, bytes: msg.length },
        });
      });
      return;
    }
    const packet = parsed.packet;
    if (packet.opcode === Opcode.WRQ) {
      this.refuse(from, packet, ErrorCode.ACCESS_VIOLATION, 'server is read-only', 'write request refused: the server is read-only');
      return;
    }
    if (packet.opcode !== Opcode.RRQ) {
      // DATA/ACK/ERROR/OACK on the request port belong to no transfer; answering could start a loop.
      this.counters.strangers += 1;
      this.logger.debug({ client, opcode: packet.opcode }, 'tftp: non-request on the request port ignored');
      return;
    }
    if (from.port === 0) return; // nowhere to answer
    if (this.slots.has(client)) {
      // The client repeated its request before our first reply reached it: the transfer answers it.
      this.logger.debug({ client, file: packet.filename }, 'tftp: repeated request ignored');
      return;
    }
    if (this.slots.size >= this.config.maxTransfers) {
      this.counters.busy += 1;
      this.refuse(from, packet, ErrorCode.NOT_DEFINED, 'server busy', `server busy: ${this.config.maxTransfers} transfers in flight ([tftp] max_transfers)`);
      return;
    }
    const fromClient = this.perClient.get(from.address) ?? 0;
    if (fromClient >= this.config.maxTransfersPerClient) {
      this.counters.busy += 1;
      this.refuse(
        from,
        packet,
        ErrorCode.NOT_DEFINED,
        'server busy: too many transfers from your address',
        `${fromClient} transfers already in flight from ${from.address} ([tftp] max_transfers_per_client)`,
      );
      return;
    }
    // Hold the slot while the file is opened, so limits and repeated requests see it.
    const slot: Slot = { client: from.address, transfer: null };
    this.slots.set(client, slot);
    this.perClient.set(from.address, fromClient + 1);
    this.startTransfer(packet, from, slot).catch((err: unknown) => {
      this.logger.error({ err, client }, 'tftp: could not start transfer');
      this.release(client, slot);
    });
  }

  private release(client: string, slot: Slot): void {
    if (this.slots.get(client) !== slot) return;
    this.slots.delete(client);
    const left = (this.perClient.get(slot.client) ?? 1) - 1;
    if (left <= 0) this.perClient.delete(slot.client);
    else this.perClient.set(slot.client, left);
  }

  private async startTransfer(request: RequestPacket, from: RemoteInfo, slot: Slot): Promise<void> {
    const client = `${from.address}:${from.port}`;
    const profile = this.profile;
    const opened = await this.sources.open(request, from.address, profile);
    if (!opened.ok) {
      this.release(client, slot);
      if (opened.quiet) {
        this.reply(from, opened.code, opened.message);
        this.logger.debug({ client, file: request.filename }, `tftp: ${opened.reason}`);
      } else this.refuse(from, request, opened.code, opened.message, opened.reason);
      return;
    }
    const source = opened.source;
    const negotiation = negotiate(request.options, source.size, profile.tftp);
    if (!negotiation.ok) {
      source.close();
      this.release(client, slot);
      this.refuse(from, request, ErrorCode.OPTION_REFUSED, negotiation.reason, `options refused: ${negotiation.reason}`);
      return;
    }
    const params = negotiation.params;
    let socket: TransferSocket;
    try {
      socket = this.transferSocket(profile, from.address);
    } catch (err) {
      source.close();
      this.release(client, slot);
      this.refuse(from, request, ErrorCode.NOT_DEFINED, 'server error', `no socket for the transfer (${errnoOf(err)})`);
      return;
    }
    if (this.stopping) {
      socket.close();
      source.close();
      this.release(client, slot);
      return;
    }
    const peer: Peer = { address: from.address, port: from.port };
    const { retransmitTimeout, retries, idleTimeout } = profile.tftp;
    const live = this.telemetry.transferStarted({
      protocol: 'tftp',
      client: from.address,
      file: request.filename,
      size: source.size,
      bytes: () => transfer.bytesAcknowledged,
    });
    const transfer: ReadTransfer = new ReadTransfer({
      socket,
      peer,
      source,
      params,
      timing: { retransmitMs: retransmitTimeout * 1000, retries, idleMs: idleTimeout * 1000 },
      logger: this.logger,
      onStranger: (stranger) => {
        this.counters.strangers += 1;
        this.logger.debug({ client, stranger: `${stranger.address}:${stranger.port}` }, 'tftp: datagram from unknown transfer ID answered with ERROR 5');
      },
      onEnd: (end) => {
        live.end(end.outcome, end.bytes, end.retransmits);
        this.release(client, slot);
        this.recordEnd(request, peer, params, source.size, end);
      },
    });
    slot.transfer = transfer;
    if (params.ignored.length > 0) this.logger.debug({ client, ignored: params.ignored }, 'tftp: options not taken');
    transfer.start();
  }

  /**
   * Replies come from the address clients were told to use: [tftp] bind when it names one,
   * else [server] address when this host has it, else whatever the kernel picks. A client on
   * this host (loopback) asked 127.0.0.1 and would reject replies from [server] address as
   * another transfer's (curl: "unknown transfer ID"), so the kernel picks for it.
   */
  private transferSocket(profile: Profile, clientAddress: string): TransferSocket {
    const { bind } = profile.tftp;
    if (bind !== '0.0.0.0' && bind !== '') return TransferSocket.open(bind);
    const preferred = profile.server.address;
    if (preferred && !isLoopback(clientAddress) && !this.transferAddressFailed) {
      try {
        return TransferSocket.open(preferred);
      } catch (err) {
        if (errnoOf(err) !== 'EADDRNOTAVAIL') throw err;
        this.transferAddressFailed = true;
        this.logger.warn({ address: preferred }, 'tftp: [server] address is not on this host; transfers reply from the kernel-chosen address');
      }
    }
    return TransferSocket.open('0.0.0.0');
  }

  private reply(to: RemoteInfo, code: number, message: string): void {
    if (to.port === 0 || !this.listener) return;
    this.listener.send(encodeError(code, message), to.port, to.address, () => {});
  }

  private refuse(to: RemoteInfo, request: RequestPacket, code: number, message: string, reason: string): void {
    this.telemetry.tftpRefused(message.startsWith('server busy') ? 'busy' : 'refused');
    this.reply(to, code, message);
    const client = `${to.address}:${to.port}`;
    const kind = `${request.opcode === Opcode.WRQ ? 'WRQ' : 'RRQ'} ${request.filename.slice(0, 200)}`;
    this.notices.note('refused', () => {
      this.logger.warn({ client, file: request.filename, code, reason }, `tftp: ${kind} refused`);
      this.events.record({
        mac: null,
        protocol: 'tftp',
        kind,
        decision: 'error',
        reason,
        detail: { client: to.address, port: to.port, file: request.filename, code },
      });
    });
  }

  private recordEnd(request: RequestPacket, peer: Peer, params: { blksize: number; windowsize: number }, size: number, end: TransferEnd): void {
    const detail = {
      file: request.filename,
      bytes: end.bytes,
      size,
      ms: Math.round(end.ms),
      blksize: params.blksize,
      windowsize: params.windowsize,
      retransmits: end.retransmits,
      client: peer.address,
      port: peer.port,
      mode: request.mode,
    };
    const reason = describeTransfer(request.filename, end, params);
    this.logger.info({ ...detail, outcome: end.outcome, reason }, `tftp: RRQ ${request.filename} ${end.outcome}`);
    this.events.record({ mac: null, protocol: 'tftp', kind: `RRQ ${request.filename.slice(0, 200)}`, decision: end.outcome, reason, detail });
  }
}
