// The daemon's telemetry: Prometheus instruments (prom-client), the live event hub and the table
// of transfers in flight. Transports see only the narrow `Telemetry` interface below.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BootEvent } from '../boot/events.ts';
import type { StoreHealth } from '../boot/ports.ts';
import type { StoreObserver } from '../store/store.ts';
import { NODE_LIFECYCLES, type NodeLifecycle } from '../boot/lifecycle.ts';
import { EventHub } from '../live/event-hub.ts';
import { TransferTable, type TransferStart } from '../live/transfers.ts';
import { bootAction, dhcpOutcome, dhcpType, tftpOutcome } from './classify.ts';

export type TftpRefusal = 'busy' | 'refused' | 'malformed';

export interface TransferHandle {
  /** The transfer ended: `bytes` delivered, `retransmits` resent datagrams (TFTP). */
  end(outcome: string, bytes: number, retransmits?: number): void;
}

/** What transports call: one line each where a transfer starts, ends or a request is refused. */
export interface Telemetry extends StoreObserver {
  transferStarted(start: TransferStart): TransferHandle;
  tftpRefused(why: TftpRefusal): void;
}

/** Read at scrape time: the facts that live in the store and the profile. */
export interface ScrapeSources {
  nodeCounts(): Partial<Record<NodeLifecycle, number>>;
  installCounts(): { consumed: number; completed: number };
  /** Addresses in the DHCP range and leases bound now; null when the DHCP server is off. */
  pool(): { size: number; bound: number } | null;
  /** Whether the store can write now (a shared PostgreSQL store may be degraded); absent: SQLite, always up. */
  store?(): StoreHealth;
}

export class DaemonTelemetry implements Telemetry {
  readonly registry = new Registry();
  readonly hub = new EventHub();
  readonly transfers = new TransferTable();
  private sources: ScrapeSources | null = null;

  private readonly dhcpPackets = new Counter({
    name: 'pxe_pilot_dhcp_packets_total',
    help: 'DHCP and ProxyDHCP packets received, by service, message type and outcome (offer/ack/nak answered; silence or error not)',
    labelNames: ['service', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly bootDecisions = new Counter({
    name: 'pxe_pilot_boot_decisions_total',
    help: 'Boot decisions served to iPXE (GET /boot, GET /install), by action',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  private readonly eventsRecorded = new Counter({
    name: 'pxe_pilot_events_recorded_total',
    help: 'Events recorded in the event log, by protocol',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly eventBatches = new Counter({
    name: 'pxe_pilot_event_log_write_batches_total',
    help: 'Batched writes of the event log',
    registers: [this.registry],
  });
  private readonly eventBatchSeconds = new Histogram({
    name: 'pxe_pilot_event_log_write_duration_seconds',
    help: 'Time one batched event-log write takes (one SQLite transaction)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  private readonly tftpTransfers = new Counter({
    name: 'pxe_pilot_tftp_transfers_total',
    help: 'TFTP read transfers ended, by outcome (served, size-asked, error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly tftpBytes = new Counter({ name: 'pxe_pilot_tftp_sent_bytes_total', help: 'Bytes TFTP clients acknowledged', registers: [this.registry] });
  private readonly tftpRetransmits = new Counter({
    name: 'pxe_pilot_tftp_retransmissions_total',
    help: 'TFTP datagrams sent again after a timeout',
    registers: [this.registry],
  });
  private readonly tftpRefusals = new Counter({
    name: 'pxe_pilot_tftp_requests_refused_total',
    help: 'TFTP requests answered with an ERROR or dropped, by reason (busy, refused, malformed)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly activeTransfers = new Gauge({
    name: 'pxe_pilot_transfers_active',
    help: 'Transfers in flight, by protocol (TFTP reads, HTTP asset downloads)',
    labelNames: ['protocol'] as const,
    registers: [this.registry],
  });
  private readonly assetBytes = new Counter({
    name: 'pxe_pilot_http_asset_sent_bytes_total',
    help: 'Bytes of install assets (kernels, initrds, ISOs) sent over HTTP',
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'pxe_pilot_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpSeconds = new Histogram({
    name: 'pxe_pilot_http_request_duration_seconds',
    help: 'Time from request to response headers and body handed over, by route pattern',
    labelNames: ['route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });
  readonly streamDropped = new Counter({
    name: 'pxe_pilot_event_stream_dropped_clients_total',
    help: 'Event-stream clients closed because they read too slowly (their buffer filled)',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    const sources = (): ScrapeSources | null => this.sources;
    new Gauge({
      name: 'pxe_pilot_nodes',
      help: 'Known machines, by lifecycle state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const counts = sources()?.nodeCounts() ?? {};
        for (const state of NODE_LIFECYCLES) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Counter({
      name: 'pxe_pilot_installs_consumed_total',
      help: 'Installs started (armed install consumed by a boot or an answer fetch), over the kept install history',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(sources()?.installCounts().consumed ?? 0);
      },
    });
    new Counter({
      name: 'pxe_pilot_installs_completed_total',
      help: 'Installs the installer reported finished (webhook), over the kept install history',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(sources()?.installCounts().completed ?? 0);
      },
    });
    new Gauge({
      name: 'pxe_pilot_dhcp_pool_addresses',
      help: 'Addresses in the DHCP range (server mode; 0 otherwise)',
      registers: [this.registry],
      collect() {
        this.set(sources()?.pool()?.size ?? 0);
      },
    });
    new Gauge({
      name: 'pxe_pilot_dhcp_leases_bound',
      help: 'DHCP leases bound and not expired (server mode)',
      registers: [this.registry],
      collect() {
        this.set(sources()?.pool()?.bound ?? 0);
      },
    });
    new Gauge({
      name: 'pxe_pilot_store_up',
      help: 'Whether the store can write now, by backend: 1 up, 0 degraded (PostgreSQL unreachable: boots go on from memory, installs needing a consumption wait)',
      labelNames: ['backend'] as const,
      registers: [this.registry],
      collect() {
        const health = sources()?.store?.() ?? { backend: 'sqlite', state: 'ok' };
        this.reset();
        this.set({ backend: health.backend }, health.state === 'ok' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'pxe_pilot_store_queued_writes',
      help: 'Events and node writes waiting to be written to the store (grows while PostgreSQL is away)',
      registers: [this.registry],
      collect() {
        this.set(sources()?.store?.().queued ?? 0);
      },
    });
    this.activeTransfers.set({ protocol: 'tftp' }, 0);
    this.activeTransfers.set({ protocol: 'http' }, 0);
    const hub = this.hub;
    new Gauge({
      name: 'pxe_pilot_event_stream_clients',
      help: 'Clients connected to GET /events/stream',
      registers: [this.registry],
      collect() {
        this.set(hub.clients);
      },
    });
    for (const o of ['served', 'size-asked', 'error']) this.tftpTransfers.inc({ outcome: o }, 0);
    if (options.processMetrics !== false) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool
      // rejects them); the per-type nodejs_active_* gauges beside them say the same.
      for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
        this.registry.removeSingleMetric(name);
    }
  }

  /** Sets what the node, install and pool gauges read when scraped. */
  setSources(sources: ScrapeSources): void {
    this.sources = sources;
  }

  eventRecorded(event: BootEvent): void {
    this.eventsRecorded.inc({ protocol: event.protocol });
    if (event.protocol === 'dhcp' || event.protocol === 'proxydhcp') {
      this.dhcpPackets.inc({ service: event.protocol, type: dhcpType(event), outcome: dhcpOutcome(event.decision) });
    } else if (event.protocol === 'http' && (event.kind === 'GET /boot' || event.kind === 'GET /install')) {
      this.bootDecisions.inc({ action: bootAction(event.decision) });
    }
    this.hub.publish(event);
  }

  eventsFlushed(count: number, seconds: number): void {
    if (count === 0) return;
    this.eventBatches.inc();
    this.eventBatchSeconds.observe(seconds);
  }

  transferStarted(start: TransferStart): TransferHandle {
    const remove = this.transfers.add(start);
    this.activeTransfers.inc({ protocol: start.protocol });
    let ended = false;
    return {
      end: (outcome, bytes, retransmits = 0) => {
        if (ended) return;
        ended = true;
        remove();
        this.activeTransfers.dec({ protocol: start.protocol });
        if (start.protocol === 'tftp') {
          this.tftpTransfers.inc({ outcome: tftpOutcome(outcome) });
          this.tftpBytes.inc(bytes);
          this.tftpRetransmits.inc(retransmits);
        } else {
          this.assetBytes.inc(bytes);
        }
      },
    };
  }

  tftpRefused(why: TftpRefusal): void {
    this.tftpRefusals.inc({ reason: why });
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** For services started without a daemon (unit tests): counts nothing, lists nothing. */
export const nullTelemetry: Telemetry = {
  eventRecorded() {},
  eventsFlushed() {},
  transferStarted: () => ({ end() {} }),
  tftpRefused() {},
};
