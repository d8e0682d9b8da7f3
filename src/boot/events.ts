// The event every protocol records for each decision, and the sink it records into.

export type EventProtocol = 'dhcp' | 'proxydhcp' | 'tftp' | 'http' | 'answer' | 'webhook' | 'admin' | 'daemon';

export interface BootEvent {
  /** Milliseconds since the epoch. */
  time: number;
  /** Normalised MAC, or null when the packet or request named none. */
  mac: string | null;
  protocol: EventProtocol;
  /** What happened, short: "DISCOVER", "RRQ ipxe.efi", "GET /boot". */
  kind: string;
  /** What we did: "offer", "ack", "nak", "silence", "install", "local", "menu", "served", "error"… */
  decision: string;
  /** Why, in words for a person. */
  reason: string;
  /** Extra facts (arch, file, bytes, ms, ip…), kept as JSON. */
  detail?: Record<string, unknown>;
}

export interface EventSink {
  record(event: Omit<BootEvent, 'time'> & { time?: number }): void;
}

/** A sink that keeps nothing; for tests that do not look at events. */
export const nullEventSink: EventSink = { record() {} };
