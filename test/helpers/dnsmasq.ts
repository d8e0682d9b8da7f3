// dnsmasq as a neighbour in the lab (a router's DHCP, another DHCP server, the reference boot
// server): in the foreground, logging to stderr, no DNS, no config file, on one interface only.

/** The argv every lab dnsmasq starts with; the caller adds its DHCP, TFTP or relay options. */
export function dnsmasqArgv(iface: string): string[] {
  return [
    'dnsmasq',
    '--keep-in-foreground',
    '--log-facility=-',
    '--conf-file=/dev/null',
    '--port=0',
    '--user=root',
    '--pid-file=',
    `--interface=${iface}`,
    '--bind-interfaces',
  ];
}
