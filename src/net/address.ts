// Facts about a peer's address that more than one protocol needs.
import ipaddr from 'ipaddr.js';

/** Dotted quad as the kernel prints it (no leading zeros, which ipaddr.js would read as octal). */
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as a person writes it: IPv4-mapped IPv6 (::ffff:10.0.0.5) unwrapped to 10.0.0.5. */
export function unmappedAddress(address: string): string {
  // The addresses sockets report, answered without a parse: this runs several times per request.
  if (CANONICAL_IPV4.test(address)) return address;
  if (address.startsWith('::ffff:') && CANONICAL_IPV4.test(address.slice(7))) return address.slice(7);
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
