// The host's network interfaces as the profile check needs them: which IPv4 addresses it has
// and whether a named interface exists. Tests inject their own.
import { existsSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface InterfaceAddress {
  name: string;
  address: string;
  netmask: string;
  internal: boolean;
}

/** The host's IPv4 addresses, in the order the OS lists them. */
export function hostIPv4(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4') out.push({ name, address: a.address, netmask: a.netmask, internal: a.internal });
  }
  return out;
}

/** Whether an interface exists, even one without an IPv4 address yet. */
export function interfaceExists(name: string): boolean {
  return /^[A-Za-z0-9_.:@-]{1,15}$/.test(name) && existsSync(`/sys/class/net/${name}`);
}

/** "eth0 (192.0.2.10), br-boot (10.20.0.1)", for messages that ask the user to pick one. */
export function describeCandidates(addrs: InterfaceAddress[]): string {
  return (
    addrs
      .filter((a) => !a.internal)
      .map((a) => `${a.name} (${a.address})`)
      .join(', ') || 'none'
  );
}
