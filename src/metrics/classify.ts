// Bounded label values from free-form event fields: a label never carries a MAC, an IP or a file name.
import type { BootEvent } from '../boot/events.ts';

const DHCP_TYPES = new Set(['DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM']);
const DHCP_OUTCOMES = new Set(['offer', 'ack', 'nak', 'silence', 'error']);
export const BOOT_ACTIONS = ['install', 'local', 'menu', 'refuse', 'error'] as const;
const TFTP_OUTCOMES = new Set(['served', 'size-asked', 'error']);

/** The message type of a DHCP/ProxyDHCP event: DISCOVER… or malformed, wrong_interface, other. */
export function dhcpType(event: Pick<BootEvent, 'kind'>): string {
  const first = event.kind.split(/\s+/)[0] ?? '';
  if (DHCP_TYPES.has(first)) return first;
  if (first === 'malformed') return 'malformed';
  if (first === 'datagram') return 'wrong_interface';
  return 'other';
}

export function dhcpOutcome(decision: string): string {
  return DHCP_OUTCOMES.has(decision) ? decision : 'other';
}

export function bootAction(decision: string): string {
  return (BOOT_ACTIONS as readonly string[]).includes(decision) ? decision : 'other';
}

export function tftpOutcome(outcome: string): string {
  return TFTP_OUTCOMES.has(outcome) ? outcome : 'other';
}

/** HTTP status as a class label (2xx…) keeps the series few; 404 and 401/403 stay visible by class. */
export function statusLabel(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
