// Facts about a peer's address that more than one protocol needs.

/** Whether a client address (IPv4, IPv6 or IPv4-mapped IPv6) is this host's loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.');
}
