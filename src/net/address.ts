// Facts about a peer's address that more than one protocol needs.
import ipaddr from 'ipaddr.js';

/** The address as a person writes it: IPv4-mapped IPv6 (::ffff:10.0.0.5) unwrapped to 10.0.0.5. */
export function unmappedAddress(address: string): string {
  try {
    return ipaddr.process(address).toString();
  } catch {
    return address;
  }
}

/** Whether a client address (IPv4, IPv6 or IPv4-mapped IPv6) is this host's loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = unmappedAddress(address);
  return a === '::1' || a.startsWith('127.');
}
